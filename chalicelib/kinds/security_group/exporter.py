"""`setpoint import` for security groups: one spec per live group, per region folder."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from chalicelib.aws import ClientCache
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.model import SecurityGroupState
from chalicelib.kinds.security_group.writer import render_security_group_spec, spec_filename
from chalicelib.model import Kind

if TYPE_CHECKING:  # an exporter is handed its sink; specs/ imports the registry
    from chalicelib.specs.sink import SpecSink


def export_security_groups(
    clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
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
    collector: SecurityGroupCollector, regions: list[str], out: SpecSink, quiet: bool = False
) -> int:
    """Write `security_groups/<region>/<name>.yaml` for every group; return the count."""
    written = 0
    for region in regions:
        states = collector.list_region(region)
        folder = out.root / "security_groups" / region
        file_names = _file_names(states)
        for state in states:
            target = folder / file_names[state.group_id]
            text = render_security_group_spec(
                state, group_names=state.peer_names, schema_ref=out.schema_ref(target)
            )
            written += out.write(SECURITY_GROUP, state.group_id, target, text, state.name)
        if not quiet:
            print(f"{region}: {len(states)} security group(s) → {folder}")
    return written
