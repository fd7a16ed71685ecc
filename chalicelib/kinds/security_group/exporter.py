"""`setpoint import` for security groups: one spec per live group, per region folder."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from chalicelib.aws import ClientCache
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.model import SecurityGroupState
from chalicelib.kinds.security_group.writer import render_security_group_spec, spec_filename
from chalicelib.model import Kind
from chalicelib.specs.writer import schema_copy


def export_security_groups(
    clients: ClientCache, regions: list[str], out: Path, kinds: frozenset[Kind]
) -> int:
    collector = SecurityGroupCollector(clients.factory("ec2"))
    return import_security_groups(collector, regions, out)


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


def import_security_groups(
    collector: SecurityGroupCollector, regions: list[str], out: Path, quiet: bool = False
) -> int:
    """Write `out/security_groups/<region>/<name>.yaml` for every group; return the count."""
    schema = schema_copy(out)
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
