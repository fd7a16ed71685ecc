"""`setpoint import`: write one readable spec per live resource, so `check` reports nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.cli.common import EXIT_ERROR, EXIT_OK, new_clients, regions_for
from chalicelib.kinds.family import Exporter
from chalicelib.kinds.registry import FAMILIES
from chalicelib.model import Kind
from chalicelib.specs.top_schema import write_copy
from chalicelib.specs.writer import schema_copy

EXPORTERS: dict[Kind, Exporter] = {
    kind: family.exporter for family in FAMILIES for kind in family.kinds
}
SUPPORTED = tuple(EXPORTERS)


def copy_schema(out: Path) -> Path:
    """Put the JSON Schemas beside the specs, so editors complete fields with no setup."""
    return write_copy(schema_copy(out).parent)


def run_import(args: argparse.Namespace) -> int:
    kinds = args.kinds or list(SUPPORTED)
    unsupported = [k.value for k in kinds if k not in SUPPORTED]
    if unsupported:
        print(f"error: import does not support {', '.join(unsupported)} yet")
        return EXIT_ERROR
    clients = new_clients()
    wanted = frozenset(kinds)
    copy_schema(Path(args.out))
    written = 0
    for exporter in dict.fromkeys(EXPORTERS[kind] for kind in kinds):
        written += exporter(clients, regions_for(args.region), Path(args.out), wanted)
    print(f"wrote {written} spec(s) under {args.out}")
    return EXIT_OK
