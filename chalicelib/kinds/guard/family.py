"""The guard, registered: what blinds Setpoint, read by cloudtrail and events in every region.

One sweep shard per account covers all its regions (a multi-region trail is read once).

Two event sources: CloudTrail's own calls (a trail stopped, deleted, narrowed) and
EventBridge's (Setpoint's rules disabled, deleted, stripped of targets). No spec is needed:
the built-in desired state is every watched region logged by some trail (management
writes) and Setpoint's rules enabled with their targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from chalicelib.kinds.family import Family, Read, SpecIdentity, SpecKind, reads_from_table
from chalicelib.kinds.guard import CLOUDTRAIL_SOURCE, GUARD
from chalicelib.kinds.guard.events import ROWS
from chalicelib.kinds.guard.own_events import DETAIL_FILTERS, OWN_ROWS, RIDERS
from chalicelib.kinds.guard.spec import build_guard, guard_conflicts
from chalicelib.model import Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.pipeline import KindPipeline
    from chalicelib.specs.sink import SpecSink

HERE = Path(__file__).parent


def _reads() -> tuple[Read, ...]:
    from chalicelib.kinds.guard.collector import READS
    from chalicelib.kinds.guard.own_collector import READS as OWN_READS

    return reads_from_table((*READS, *OWN_READS))


def _pipeline(clients: ClientCache) -> KindPipeline:
    from chalicelib.kinds.guard.pipeline import build_guard_pipeline

    return build_guard_pipeline(clients)


def _export(clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]) -> int:
    from chalicelib.kinds.guard.pipeline import export_guard

    return export_guard(clients, regions, out, kinds)


def _identity(spec: Any) -> SpecIdentity:
    return SpecIdentity(spec.account, None, None, "guard")


def _refs(kind: Kind, spec: Any, account: str, regions: Sequence[str]) -> list[ResourceRef]:
    """The trails a spec names by ARN (names alone are found by the next sweep)."""
    from chalicelib.kinds.guard.events import is_trail_arn

    return [
        ResourceRef(kind, trail.split(":")[4], trail.split(":")[3], trail, trail.rsplit("/")[-1])
        for trail in spec.trails
        if is_trail_arn(trail)
    ]


FAMILY = Family(
    name="guard",
    specs=(
        SpecKind(
            GUARD,
            "Setpoint guard",
            HERE / "guard.schema.json",
            build_guard,
            guard_conflicts,
            identity=_identity,
            refs=_refs,
        ),
    ),
    event_source=CLOUDTRAIL_SOURCE,
    handler="on_guard_change",
    rows=(*ROWS, *OWN_ROWS),
    creates=MappingProxyType({}),
    deletes=MappingProxyType({}),
    scope="account",
    reads=_reads,
    pipeline=_pipeline,
    exporter=_export,
    riders=RIDERS,
    detail_filters=MappingProxyType(DETAIL_FILTERS),
)
