"""`setpoint validate`: schema and semantic checks, every error with file, line and field.

With several `--specs` sources, each is checked and summed up on its own line (what it
declares, by kind, and what it names but could not resolve, must not exist or does not
read), then all of them together: a resource two sources declare is an error. An ignore
rule that names no spec is a warning on stderr (`noise.offline`); warnings leave the exit
code as it is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from chalicelib.aws import ClientCache
from chalicelib.cli.common import EXIT_OK, new_clients
from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.noise.offline import rule_warnings
from chalicelib.sources.combined import merge_catalogs
from chalicelib.sources.locations import Location, parse_locations
from chalicelib.specs.catalog import SpecCatalog, Undeclared


def run_validate(args: argparse.Namespace) -> int:
    locations = parse_locations(args.specs)
    clients = new_clients()  # one cache for every source (s3:// and terraform:s3://)
    catalogs: list[SpecCatalog] = []
    errors: list[SpecError] = []
    unresolved: list[Undeclared] = []
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
            + "".join(f", {n} {why}" for why, n in _tally(catalog.undeclared).items())
        )
        for item in catalog.undeclared:
            print(f"  {undeclared_line(item)}")
        # warnings never change the exit code; stderr keeps stdout's summary lines as they were
        for warning in rule_warnings(catalog.ignore_rules, catalog.by_kind):
            print(warning, file=sys.stderr)
        unresolved.extend(u for u in catalog.undeclared if u.why == "unresolved")
        catalogs.append(catalog)
    # check reports each unresolved resource `unknown`; here it is an error, as a bad
    # spec is, so a pull request that introduces one does not pass
    errors.extend(UnresolvedError(item) for item in unresolved)
    if errors:
        raise SpecSetError(errors)
    merge_catalogs(catalogs)  # raises on a resource declared by two sources
    return EXIT_OK


_TALLY = {"unresolved": "unresolved", "absent": "must not exist", "unread": "not read"}


def _tally(items: Sequence[Undeclared]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        if item.why != "unread":  # one line per type group, not per resource
            counts[_TALLY[item.why]] = counts.get(_TALLY[item.why], 0) + 1
    return counts


def undeclared_line(item: Undeclared) -> str:
    """`unresolved: security_group jenkins (site.yml:20): site.yml:22: description: ...`"""
    if item.why == "unread":
        return f"not read: {item.reason}"
    what = " ".join(str(part) for part in (item.kind, item.name or item.id) if part)
    return f"{_TALLY[item.why]}: {what} ({item.where}): {item.reason}"


class UnresolvedError(SpecError):
    """A resource a source names with an expression that cannot be resolved."""

    def __init__(self, item: Undeclared) -> None:
        self.item = item
        super().__init__(item.reason, item.origin, item.line)

    def __str__(self) -> str:
        return self.item.reason


def _load(location: Location, clients: ClientCache) -> SpecCatalog:
    on_disk = location.scheme == "setpoint" and not location.on_s3
    if on_disk and not Path(location.target).exists():
        raise ConfigError(f"{location.raw}: no such file or directory")
    from chalicelib.sources.provider import location_provider

    return location_provider(location, clients)()
