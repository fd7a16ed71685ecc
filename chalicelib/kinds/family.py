"""What one resource family declares, so the rest of Setpoint can derive everything from it.

A family is the set of kinds one folder under `chalicelib/kinds/` serves (IAM's four kinds
share one listing, so they are one family). Its `FAMILY` declaration is data: the event
rows, the calls that create and delete it, where a sweep reads it, what its collector may
call, how its specs are parsed, how it is exported, and how reports name it. The event
table, the EventBridge patterns in `app.py`, the sweep's shards, the generated IAM policy,
the member-account role, `import`, the schema's kind enum and report nouns all come from
these declarations (`kinds.registry`); no module outside a family's folder names its kinds.

Heavy parts (collectors, pipelines, exporters) are given as factories that import their
module when first called, so the Lambda's cold start pays only for what it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from chalicelib.events.locators import EventRoute
from chalicelib.model import GLOBAL_REGION, Finding, Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.errors import SpecError
    from chalicelib.pipeline import KindPipeline
    from chalicelib.revert.table import Undo
    from chalicelib.sources.ansible.model import AnsibleMapping
    from chalicelib.sources.terraform.model import TerraformMapping
    from chalicelib.specs.builder import Builder
    from chalicelib.specs.catalog import SpecCatalog
    from chalicelib.specs.sink import SpecSink

# Where a sweep reads a family: once per account and region, once per account for all its
# regions (S3 lists every bucket of an account in one call), or once per account (IAM).
Scope = Literal["regional", "account", "global"]


@dataclass(frozen=True)
class Read:
    """One API operation a collector sends, as botocore names it, and its IAM action."""

    service: str  # botocore service name: "ec2", "s3", "s3control", "elbv2"
    operation: str  # botocore operation name: "DescribeSecurityGroups"
    permission: str  # IAM action: "ec2:DescribeSecurityGroups"


@dataclass(frozen=True)
class SpecIdentity:
    """What picks a spec's resource: two specs with equal identities govern one resource."""

    account: str | None
    region: str | None
    id: str | None
    name: str | None
    vpc_id: str | None = None


def by_name(spec: Any) -> SpecIdentity:
    """The usual identity: a name, scoped by the spec's account and region if it has them."""
    return SpecIdentity(
        getattr(spec, "account", None), getattr(spec, "region", None), None, spec.name
    )


def named_ref(kind: Kind, spec: Any, account: str) -> list[ResourceRef]:
    """The usual ref: the resource's id is its name, in the spec's region (else global)."""
    owner = getattr(spec, "account", None) or account
    region = getattr(spec, "region", None) or GLOBAL_REGION
    return [ResourceRef(kind, owner, region, id=spec.name, name=spec.name)]


@dataclass(frozen=True)
class SpecKind:
    """One `kind:` a spec file may declare: its schema, its builder, its duplicate check."""

    kind: Kind
    noun: str  # how reports and chat name it: "security group", "IAM role"
    schema: Path  # the JSON Schema file, in the family's folder
    build: Builder
    # specs of this kind that could claim one resource, each reported on the later one
    conflicts: Callable[[Sequence[Any]], list[SpecError]]
    # what picks a spec's resource (id or name, and scope): two specs with equal identity
    # govern the same resource, so a spec push that changes only content is a change
    identity: Callable[[Any], SpecIdentity] = field(default=lambda spec: by_name(spec))
    # the resource(s) a spec names, as refs to re-read when a push changes that spec
    # (spec, account, the regions Setpoint watches)
    refs: Callable[[Kind, Any, str, Sequence[str]], list[ResourceRef]] = field(
        default=lambda kind, spec, account, regions: named_ref(kind, spec, account)
    )
    # how chat says that changes open it to the world: (item, (verb for one, for many)),
    # e.g. ("rule", ("accepts traffic from any address", "accept traffic ...")); None for
    # "N change(s) here open(s) it to anyone on the internet"
    opening: tuple[str, tuple[str, str]] | None = None


class Regionless(Protocol):
    """Specs of a regional family that name no region, and what to say when none matched."""

    def specs(self, catalog: SpecCatalog, account: str) -> Sequence[Any]: ...

    def ref(self, spec: Any, account: str, region: str) -> ResourceRef: ...

    def missing(self, spec: Any, ref: ResourceRef) -> Finding: ...


class Exporter(Protocol):
    """Writes specs for the live resources of some kinds through `out` (which never
    overwrites a spec that governs a resource); returns the count written."""

    def __call__(
        self, clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
    ) -> int: ...


@dataclass(frozen=True)
class Family:
    """One folder's declaration; see the module docstring for who reads each field."""

    name: str  # the shard family in sweep messages: "security_group", "iam"
    specs: tuple[SpecKind, ...]
    event_source: str  # CloudTrail eventSource: "ec2.amazonaws.com"
    handler: str  # the function in app.py that receives this family's events
    rows: tuple[EventRoute, ...]
    # eventName -> kind for calls that bring a whole resource into being (a settle window
    # opens) or take it away (an unmanaged resource's alert closes as gone)
    creates: Mapping[str, Kind]
    deletes: Mapping[str, Kind]
    scope: Scope
    # every call the collector may send, for the generated policy and the member role
    reads: Callable[[], tuple[Read, ...]]
    pipeline: Callable[[ClientCache], KindPipeline]
    exporter: Exporter
    # a global service delivers its events in one region (IAM: us-east-1)
    events_region: str | None = None
    # schema files the kinds' schemas refer to (IAM's shared definitions)
    extra_schemas: tuple[Path, ...] = ()
    # a regional family whose specs may leave out the region: such a spec is `missing`
    # only when no region of its account has the resource, which only the whole account's
    # sweep can tell (see sweep.run.regionless_missing)
    regionless: Regionless | None = None
    # desired state kept by other tools: the family's Terraform resource types and Ansible
    # modules translated into its spec documents (`chalicelib.sources`), loaded when used
    terraform: Callable[[], TerraformMapping] | None = None
    ansible: Callable[[], AnsibleMapping] | None = None
    # the ResourceName CloudTrail's event history files a resource under, to find who
    # changed drift only the sweep saw (`sweep.lookup`); None: the finding's id, else name
    lookup_name: Callable[[Finding], str | None] | None = None
    # what drift the family can undo for specs with `on_drift: revert` (`revert.table`):
    # the rows plan the reverts and the revert role's policy is generated from them
    reverts: Callable[[], tuple[Undo, ...]] | None = None
    # rows for calls another family's row already routes (same source and name): their
    # refs are added to that row's, in that family's function, and no pattern changes
    # (the guard's for Setpoint's own role and spec bucket, on IAM's and S3's calls)
    riders: tuple[EventRoute, ...] = ()
    # (eventSource, eventName) -> more `detail` keys its calls must match in the rule
    # pattern, for a call too frequent to receive from every resource (the guard's data
    # event PutObject: only on spec buckets)
    detail_filters: Mapping[tuple[str, str], Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(spec.kind for spec in self.specs)

    def history_name(self, finding: Finding) -> str | None:
        """The name to look `finding` up by in CloudTrail's event history."""
        if self.lookup_name is not None:
            return self.lookup_name(finding)
        return finding.id or finding.name

    @property
    def eventbridge_source(self) -> str:
        """The EventBridge `source` of its CloudTrail events ("ec2.amazonaws.com" -> "aws.ec2")."""
        return "aws." + self.event_source.removesuffix(".amazonaws.com")

    @property
    def event_sources(self) -> tuple[str, ...]:
        """Every eventSource its rows watch, `event_source` first: most families have one;
        the guard watches both CloudTrail's and EventBridge's own calls."""
        return tuple(dict.fromkeys((self.event_source, *(row.event_source for row in self.rows))))


def reads_from_table(rows: Sequence[tuple[str, str]]) -> tuple[Read, ...]:
    """A collector's (API label, IAM action) rows as botocore names them. The service is the
    action's prefix, except where a label notes another endpoint ("(account, s3-control)")."""
    services = {"elasticloadbalancing": "elbv2"}
    reads = []
    for label, permission in rows:
        prefix = permission.split(":", 1)[0]
        service = "s3control" if "s3-control" in label else services.get(prefix, prefix)
        reads.append(Read(service, label.split(" ", 1)[0], permission))
    return tuple(reads)
