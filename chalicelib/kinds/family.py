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
from typing import TYPE_CHECKING, Any, Literal, Protocol

from chalicelib.events.locators import EventRoute
from chalicelib.model import Kind, ResourceRef

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.errors import SpecError
    from chalicelib.pipeline import KindPipeline
    from chalicelib.specs.parse import Builder

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
class SpecKind:
    """One `kind:` a spec file may declare: its schema, its builder, its duplicate check."""

    kind: Kind
    noun: str  # how reports and chat name it: "security group", "IAM role"
    schema: Path  # the JSON Schema file, in the family's folder
    build: Builder
    # specs of this kind that could claim one resource, each reported on the later one
    conflicts: Callable[[Sequence[Any]], list[SpecError]]


class Exporter(Protocol):
    """Writes specs for the live resources of some kinds under `out`; returns the count."""

    def __call__(
        self, clients: ClientCache, regions: list[str], out: Path, kinds: frozenset[Kind]
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
    # the resource a spec names, for re-reading what a spec push changed; None when the
    # spec alone cannot say (the caller then falls back to a sweep of that kind)
    spec_ref: Callable[[Any, str | None], ResourceRef | None]
    # a global service delivers its events in one region (IAM: us-east-1)
    events_region: str | None = None
    # "{count} {noun}s" where a plain plural is wrong
    plurals: Mapping[Kind, str] = field(default_factory=dict)

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(spec.kind for spec in self.specs)

    @property
    def eventbridge_source(self) -> str:
        """The EventBridge `source` of its CloudTrail events ("ec2.amazonaws.com" -> "aws.ec2")."""
        return "aws." + self.event_source.removesuffix(".amazonaws.com")
