"""IAM, registered: global, one listing per account serving four kinds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from chalicelib.kinds.family import Family, Read, SpecIdentity, SpecKind, reads_from_table
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.events import IAM_ROWS
from chalicelib.kinds.iam.model import partition_of, spec_arn
from chalicelib.kinds.iam.spec import (
    build_iam_group,
    build_iam_policy,
    build_iam_role,
    build_iam_user,
    iam_conflicts,
)
from chalicelib.model import GLOBAL_REGION, Finding, Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.pipeline import KindPipeline
    from chalicelib.revert.table import Undo
    from chalicelib.sources.ansible.model import AnsibleMapping
    from chalicelib.sources.terraform.model import TerraformMapping
    from chalicelib.specs.sink import SpecSink

HERE = Path(__file__).parent


def _ansible() -> AnsibleMapping:
    from chalicelib.kinds.iam.ansible import mapping

    return mapping()


def _reads() -> tuple[Read, ...]:
    from chalicelib.kinds.iam.collector import READS

    return reads_from_table(READS)


def _pipeline(clients: ClientCache) -> KindPipeline:
    from chalicelib.kinds.iam.collector import IamCollector
    from chalicelib.kinds.iam.pipeline import IamPipeline

    return IamPipeline(IamCollector(lambda: clients.client("iam")))


def _export(clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]) -> int:
    from chalicelib.kinds.iam.pipeline import export_iam

    return export_iam(clients, regions, out, kinds)


def _reverts() -> tuple[Undo, ...]:
    from chalicelib.kinds.iam.revert import REVERTS

    return REVERTS


def _terraform() -> TerraformMapping:
    from chalicelib.kinds.iam.terraform import mapping

    return mapping()


def _identity(spec: Any) -> SpecIdentity:
    return SpecIdentity(spec.account, None, None, spec.name)


def _refs(kind: Kind, spec: Any, account: str, regions: Sequence[str]) -> list[ResourceRef]:
    """IAM is global; its id is the ARN the spec implies."""
    owner = spec.account or account
    arn = spec_arn(spec, owner, partition_of(*regions))
    return [ResourceRef(kind, owner, GLOBAL_REGION, id=arn, name=spec.name)]


def _spec_kind(kind: Kind, noun: str, build: Any) -> SpecKind:
    schema = HERE / f"{kind}.schema.json"
    return SpecKind(kind, noun, schema, build, iam_conflicts, identity=_identity, refs=_refs)


def _history_name(finding: Finding) -> str | None:
    """Event history files roles, users and groups under their name and customer-managed
    policies under their ARN (the name the call's resource element carries)."""
    if finding.kind is IAM_POLICY:
        return finding.id or finding.name
    return finding.name or (finding.id or "").rsplit("/", 1)[-1] or None


FAMILY = Family(
    name="iam",
    specs=(
        _spec_kind(IAM_POLICY, "IAM policy", build_iam_policy),
        _spec_kind(IAM_ROLE, "IAM role", build_iam_role),
        _spec_kind(IAM_USER, "IAM user", build_iam_user),
        _spec_kind(IAM_GROUP, "IAM group", build_iam_group),
    ),
    event_source="iam.amazonaws.com",
    handler="on_iam_change",
    rows=IAM_ROWS,
    creates=MappingProxyType(
        {
            "CreatePolicy": IAM_POLICY,
            "CreateRole": IAM_ROLE,
            "CreateUser": IAM_USER,
            "CreateGroup": IAM_GROUP,
        }
    ),
    deletes=MappingProxyType(
        {
            "DeletePolicy": IAM_POLICY,
            "DeleteRole": IAM_ROLE,
            "DeleteUser": IAM_USER,
            "DeleteGroup": IAM_GROUP,
        }
    ),
    scope="global",
    lookup_name=_history_name,
    reads=_reads,
    pipeline=_pipeline,
    exporter=_export,
    events_region="us-east-1",
    extra_schemas=(HERE / "iam_common.schema.json",),
    terraform=_terraform,
    ansible=_ansible,
    reverts=_reverts,
)
