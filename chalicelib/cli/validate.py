"""`setpoint validate`: schema and semantic checks, every error with file, line and field.

With several `--specs` sources, each is checked and summed up on its own line (what it
declares, by kind), then all of them together: a resource two sources declare is an error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.aws import ClientCache
from chalicelib.cli.common import EXIT_OK, new_clients
from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.sources.combined import merge_catalogs
from chalicelib.sources.locations import Location, parse_locations
from chalicelib.specs.catalog import SpecCatalog


def run_validate(args: argparse.Namespace) -> int:
    locations = parse_locations(args.specs)
    clients = new_clients()  # one cache for every source (s3:// and terraform:s3://)
    catalogs: list[SpecCatalog] = []
    errors: list[SpecError] = []
    for location in locations:
        try:
            catalog = _load(location, clients)
        except SpecSetError as exc:
            errors.extend(exc.errors)
            continue
        if not catalog.files:
            raise ConfigError(f"{location.raw}: no spec files (*.yaml, *.yml) found")
        counts = {kind: len(catalog.specs_of(kind)) for kind in SPEC_KINDS}
        if not sum(counts.values()) and location.scheme != "setpoint":
            raise ConfigError(f"{location.raw}: declares no resource Setpoint checks")
        detail = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        noun = "spec(s)" if location.scheme == "setpoint" else "resource(s)"
        print(
            f"{location.raw}: {sum(counts.values())} {noun} valid"
            + (f" ({detail})" if detail else "")
        )
        catalogs.append(catalog)
    if errors:
        raise SpecSetError(errors)
    merge_catalogs(catalogs)  # raises on a resource declared by two sources
    return EXIT_OK


def _load(location: Location, clients: ClientCache) -> SpecCatalog:
    on_disk = location.scheme == "setpoint" and not location.on_s3
    if on_disk and not Path(location.target).exists():
        raise ConfigError(f"{location.raw}: no such file or directory")
    from chalicelib.sources.provider import location_provider

    return location_provider(location, clients)()
