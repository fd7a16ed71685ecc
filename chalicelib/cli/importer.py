"""`setpoint import`: write one readable spec per live resource, so `check` reports nothing."""

from __future__ import annotations

import argparse
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Protocol

from chalicelib.aws import ClientCache
from chalicelib.cli.common import EXIT_ERROR, EXIT_OK, new_clients, regions_for
from chalicelib.kinds.iam.pipeline import export_iam
from chalicelib.kinds.s3_bucket.pipeline import export_s3_buckets
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.model import Kind, SecurityGroupState
from chalicelib.specs.validate import schema_dir
from chalicelib.specs.writer import render_security_group_spec, spec_filename


class Exporter(Protocol):
    """Writes specs for the live resources of some kinds; returns how many it wrote."""

    def __call__(
        self, clients: ClientCache, regions: list[str], out: Path, kinds: frozenset[Kind]
    ) -> int: ...


def export_security_groups(
    clients: ClientCache, regions: list[str], out: Path, kinds: frozenset[Kind]
) -> int:
    collector = SecurityGroupCollector(clients.factory("ec2"))
    return import_security_groups(collector, regions, out)


# kind -> the exporter that writes it; one exporter may serve several kinds (IAM).
EXPORTERS: dict[Kind, Exporter] = {
    Kind.SECURITY_GROUP: export_security_groups,
    Kind.S3_BUCKET: export_s3_buckets,
    Kind.IAM_POLICY: export_iam,
    Kind.IAM_ROLE: export_iam,
    Kind.IAM_USER: export_iam,
    Kind.IAM_GROUP: export_iam,
}
SUPPORTED = tuple(EXPORTERS)


def _file_names(states: list[SecurityGroupState]) -> dict[str, str]:
    """group id -> file name; names shared by several groups get the VPC (then the id) added."""
    base = {s.group_id: spec_filename(s) for s in states}
    counts = Counter(base.values())
    names: dict[str, str] = {}
    for state in states:
        name = base[state.group_id]
        if counts[name] > 1:
            stem = name.removesuffix(".yaml")
            name = f"{stem}.{state.vpc_id or state.group_id}.yaml"
        names[state.group_id] = name
    again = Counter(names.values())
    for gid, name in names.items():
        if again[name] > 1:
            names[gid] = f"{name.removesuffix('.yaml')}.{gid}.yaml"
    return names


def copy_schema(out: Path) -> Path:
    """Put the JSON Schemas beside the specs, so editors complete fields with no setup."""
    target = out / ".schema"
    target.mkdir(parents=True, exist_ok=True)
    for schema in schema_dir().glob("*.json"):
        shutil.copyfile(schema, target / schema.name)
    return target / "setpoint.schema.json"


def run_import(args: argparse.Namespace) -> int:
    kinds = args.kinds or list(SUPPORTED)
    unsupported = [k.value for k in kinds if k not in SUPPORTED]
    if unsupported:
        print(f"error: import does not support {', '.join(unsupported)} yet")
        return EXIT_ERROR
    clients = new_clients()
    wanted = frozenset(kinds)
    written = 0
    for exporter in dict.fromkeys(EXPORTERS[kind] for kind in kinds):
        written += exporter(clients, regions_for(args.region), Path(args.out), wanted)
    print(f"wrote {written} spec(s) under {args.out}")
    return EXIT_OK


def import_security_groups(
    collector: SecurityGroupCollector, regions: list[str], out: Path, quiet: bool = False
) -> int:
    """Write `out/security_groups/<region>/<name>.yaml` for every group; return the count."""
    schema = copy_schema(out)
    written = 0
    for region in regions:
        states = collector.list_region(region)
        folder = out / "security_groups" / region
        folder.mkdir(parents=True, exist_ok=True)
        file_names = _file_names(states)
        for state in states:
            target = folder / file_names[state.group_id]
            schema_ref = os.path.relpath(schema, target.parent)
            target.write_text(
                render_security_group_spec(
                    state, group_names=state.peer_names, schema_ref=schema_ref
                ),
                encoding="utf-8",
            )
            written += 1
        if not quiet:
            print(f"{region}: {len(states)} security group(s) → {folder}")
    return written
