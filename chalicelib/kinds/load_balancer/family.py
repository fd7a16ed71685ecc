"""ELBv2 load balancers, registered: regional, read by elbv2 (and ec2 for group names)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from chalicelib.kinds.family import Family, Read, SpecIdentity, SpecKind, reads_from_table
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.events import ELB_SOURCE, ROWS
from chalicelib.kinds.load_balancer.spec import build_load_balancer, load_balancer_conflicts
from chalicelib.model import Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.pipeline import KindPipeline
    from chalicelib.revert.table import Undo
    from chalicelib.sources.ansible.model import AnsibleMapping
    from chalicelib.sources.terraform.model import TerraformMapping
    from chalicelib.specs.sink import SpecSink

HERE = Path(__file__).parent


def _ansible() -> AnsibleMapping:
    from chalicelib.kinds.load_balancer.ansible import mapping

    return mapping()


def _reads() -> tuple[Read, ...]:
    from chalicelib.kinds.load_balancer.collector import READS

    return reads_from_table(READS)


def _pipeline(clients: ClientCache) -> KindPipeline:
    from chalicelib.kinds.load_balancer.pipeline import build_load_balancer_pipeline

    return build_load_balancer_pipeline(clients)


def _export(clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]) -> int:
    from chalicelib.kinds.load_balancer.pipeline import export_load_balancers

    return export_load_balancers(clients, regions, out, kinds)


def _reverts() -> tuple[Undo, ...]:
    from chalicelib.kinds.load_balancer.revert import REVERTS

    return REVERTS


def _terraform() -> TerraformMapping:
    from chalicelib.kinds.load_balancer.terraform import mapping

    return mapping()


def _identity(spec: Any) -> SpecIdentity:
    return SpecIdentity(spec.account, spec.region, None, spec.name)


def _refs(kind: Kind, spec: Any, account: str, regions: Sequence[str]) -> list[ResourceRef]:
    """A spec always names its region; the ARN is found by name when it is read."""
    return [ResourceRef(kind, spec.account or account, spec.region, None, spec.name)]


FAMILY = Family(
    name="load_balancer",
    specs=(
        SpecKind(
            LOAD_BALANCER,
            "load balancer",
            HERE / "load_balancer.schema.json",
            build_load_balancer,
            load_balancer_conflicts,
            identity=_identity,
            refs=_refs,
            opening=(
                "listener",
                (
                    "serves plaintext from the internet instead of redirecting",
                    "serve plaintext from the internet instead of redirecting",
                ),
            ),
        ),
    ),
    event_source=ELB_SOURCE,
    handler="on_elb_change",
    rows=ROWS,
    creates=MappingProxyType({"CreateLoadBalancer": LOAD_BALANCER}),
    deletes=MappingProxyType({"DeleteLoadBalancer": LOAD_BALANCER}),
    scope="regional",
    reads=_reads,
    pipeline=_pipeline,
    exporter=_export,
    terraform=_terraform,
    ansible=_ansible,
    reverts=_reverts,
)
