"""Region names a user types, checked before any call: a typo would otherwise reach an
endpoint that does not exist and come back as an HTML error page."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from functools import cache

from chalicelib.errors import ConfigError
from chalicelib.model import REGION_SHAPE

_SHAPE = REGION_SHAPE


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data lists, in every partition.

    Read from the partitions' region lists in `endpoints.json` (about 20 ms), not through
    a session's `get_available_regions`, which loads and parses EC2's whole service model
    (about 100 ms of CPU) just to name the same regions.
    """
    from botocore.loaders import create_loader

    found: set[str] = set()
    for partition in create_loader().load_data("endpoints").get("partitions", []):
        found.update(partition.get("regions", {}))
    return frozenset(found)


def check_regions(regions: Sequence[str], flag: str = "--region") -> list[str]:
    """The regions, or ConfigError naming the bad one with the closest real name."""
    known = known_regions()
    for region in regions:
        if region in known:
            continue
        if region.lower() in known:
            raise ConfigError(f"{flag} {region}: region names are lower case ({region.lower()})")
        close = difflib.get_close_matches(region.lower(), sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else "e.g. us-east-1"
        if _SHAPE.fullmatch(region) and not close:
            hint = "a region newer than this botocore needs a newer boto3"
        raise ConfigError(f"{flag} {region}: not an AWS region ({hint})")
    return list(regions)


def regions_of_specs(specs: Iterable[object]) -> list[str]:
    """The regions specs name (`region:`), in first-seen order; global kinds name none."""
    named = (getattr(spec, "region", None) for spec in specs)
    return list(dict.fromkeys(r for r in named if isinstance(r, str) and r and r != "global"))
