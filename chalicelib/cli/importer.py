"""`setpoint import`: write one readable spec per live resource, so `check` reports nothing.

Import never approves drift: a resource an existing spec under `--out` already governs is
skipped and named (`specs.sink`); `--force` rewrites, `--dry-run` only lists, `--only ID`
adopts one resource.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chalicelib.cli.common import EXIT_ERROR, EXIT_OK, new_clients, regions_for
from chalicelib.cloud_text import one_line
from chalicelib.errors import ConfigError
from chalicelib.kinds.family import Exporter
from chalicelib.kinds.registry import FAMILIES
from chalicelib.model import Kind
from chalicelib.specs.sink import SpecSink
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
    out = Path(args.out)
    dry_run = bool(getattr(args, "dry_run", False))
    force = bool(getattr(args, "force", False))
    only = getattr(args, "only", None)
    sink = SpecSink.open(out, force=force, dry_run=dry_run, only=only)
    clients = new_clients()
    wanted = frozenset(kinds)
    if not dry_run:
        try:
            copy_schema(out)
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write there ({exc.strerror})") from None
    for exporter in dict.fromkeys(EXPORTERS[kind] for kind in kinds):
        exporter(clients, regions_for(args.region), sink, wanted)
    return _report(sink, out)


def _report(sink: SpecSink, out: Path) -> int:
    # resource names (and the file names made of them) come from the cloud: shown, never obeyed
    for skipped in sink.skipped:
        print(one_line(f"skipped {skipped.target}: {skipped.resource} {skipped.reason}"))
    for target in sink.overwritten:
        print(f"overwrote {one_line(target)} (--force)")
    if sink.dry_run:
        for target in sink.written:
            print(f"would write {one_line(target)}")
    if sink.only is not None and not (sink.written or sink.overwritten or sink.skipped):
        raise ConfigError(f"--only {sink.only}: no live resource has that id or name")
    verb = "would write" if sink.dry_run else "wrote"
    line = f"{verb} {len(sink.written)} spec(s) under {out}"
    if sink.overwritten:
        line += f", overwrote {len(sink.overwritten)} (--force)"
    if sink.skipped:
        line += (
            f"; skipped {len(sink.skipped)} already specified (their specs stay as reviewed:"
            " import never approves drift; --force rewrites them, --only ID adopts one)"
        )
    print(line)
    return EXIT_OK
