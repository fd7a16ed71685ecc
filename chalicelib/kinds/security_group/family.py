"""Security groups, registered: regional, read by EC2, one kind."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from chalicelib.kinds.family import Family, Read, SpecIdentity, SpecKind, reads_from_table
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.events import ROWS
from chalicelib.kinds.security_group.spec import build_security_group, security_group_conflicts
from chalicelib.model import Finding, Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.pipeline import KindPipeline
    from chalicelib.revert.table import Undo
    from chalicelib.sources.ansible.model import AnsibleMapping
    from chalicelib.sources.terraform.model import TerraformMapping
    from chalicelib.specs.catalog import SpecCatalog
    from chalicelib.specs.sink import SpecSink

HERE = Path(__file__).parent


def _reads() -> tuple[Read, ...]:
    from chalicelib.kinds.security_group.collector import READS

    return reads_from_table(READS)


def _pipeline(clients: ClientCache) -> KindPipeline:
    from chalicelib.kinds.security_group.collector import SecurityGroupCollector
    from chalicelib.kinds.security_group.pipeline import SecurityGroupPipeline

    return SecurityGroupPipeline(SecurityGroupCollector(clients.factory("ec2")))


def _export(clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]) -> int:
    from chalicelib.kinds.security_group.exporter import export_security_groups

    return export_security_groups(clients, regions, out, kinds)


def _reverts() -> tuple[Undo, ...]:
    from chalicelib.kinds.security_group.revert import REVERTS

    return REVERTS


def _terraform() -> TerraformMapping:
    from chalicelib.kinds.security_group.terraform import mapping

    return mapping()


def _ansible() -> AnsibleMapping:
    from chalicelib.kinds.security_group.ansible import mapping

    return mapping()


def _identity(spec: Any) -> SpecIdentity:
    if spec.group_id is not None:
        return SpecIdentity(spec.account, spec.region, spec.group_id, None)
    return SpecIdentity(spec.account, spec.region, None, spec.name, spec.vpc_id)


def _refs(kind: Kind, spec: Any, account: str, regions: Sequence[str]) -> list[ResourceRef]:
    """A spec without a region may mean a group in any watched region: one ref per region
    (the caller keeps those that exist)."""
    owner = spec.account or account
    where = [spec.region] if spec.region else list(regions)
    return [ResourceRef(kind, owner, r, spec.group_id, spec.name, spec.vpc_id) for r in where]


class _Regionless:
    """Group specs without a region: missing only when no region of the account has one."""

    def specs(self, catalog: SpecCatalog, account: str) -> Sequence[Any]:
        return [
            spec
            for spec in catalog.specs_of(SECURITY_GROUP)
            if spec.region is None and spec.account in (None, account)
        ]

    def ref(self, spec: Any, account: str, region: str) -> ResourceRef:
        return ResourceRef(SECURITY_GROUP, account, region, spec.group_id, spec.name)

    def missing(self, spec: Any, ref: ResourceRef) -> Finding:
        from chalicelib.kinds.security_group.compare import evaluate_security_group

        return evaluate_security_group(spec, None, ref=ref)


FAMILY = Family(
    name="security_group",
    specs=(
        SpecKind(
            SECURITY_GROUP,
            "security group",
            HERE / "security_group.schema.json",
            build_security_group,
            security_group_conflicts,
            identity=_identity,
            refs=_refs,
            opening=(
                "rule",
                ("accepts traffic from any address", "accept traffic from any address"),
            ),
        ),
    ),
    event_source="ec2.amazonaws.com",
    handler="on_ec2_change",
    rows=ROWS,
    creates=MappingProxyType({"CreateSecurityGroup": SECURITY_GROUP}),
    deletes=MappingProxyType({"DeleteSecurityGroup": SECURITY_GROUP}),
    scope="regional",
    reads=_reads,
    pipeline=_pipeline,
    exporter=_export,
    regionless=_Regionless(),
    terraform=_terraform,
    ansible=_ansible,
    reverts=_reverts,
)
