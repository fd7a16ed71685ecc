"""The frozen data that flows through the pipeline.

Everything here is plain data: no boto3, no clock, no environment. Collectors build the
live side, `specs/` builds the desired side, `compare/` turns both into a `Finding`, and
`notify/` renders findings. Keeping these types in one place is what lets a new resource
kind plug in without touching the handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, ClassVar, Literal

GLOBAL_REGION = "global"
# aws, aws-cn, aws-us-gov, the ISO partitions: "eu-west-1", "cn-north-1", "us-gov-west-1"
REGION_SHAPE = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}")


def addressable_region(region: str | None) -> bool:
    """Whether a region (from a record, a spec, a flag) can be an endpoint's: `global` or
    shaped like an AWS region name. Anything else would reach a made-up host name."""
    return region == GLOBAL_REGION or (
        isinstance(region, str) and REGION_SHAPE.fullmatch(region) is not None
    )


class Kind(str):
    """A resource kind's name as specs, state keys and reports spell it ("security_group").

    Each family declares its own kinds in its folder (`chalicelib/kinds/<family>/`); the
    registry (`kinds.registry.kind_named`) turns text from outside back into a known kind.
    Instances are interned, so one name is one object and `is` compares kinds.
    """

    __slots__ = ()
    _interned: ClassVar[dict[str, Kind]] = {}

    def __new__(cls, name: str) -> Kind:
        kind = cls._interned.get(name)
        if kind is None:
            kind = cls._interned[name] = super().__new__(cls, name)
        return kind

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"Kind({str.__str__(self)!r})"


# Setpoint's own sight (its specs, its sweep, later its trails and rules): not a resource
# family of the watched estate, so the core names it.
GUARD = Kind("guard")


class Status(StrEnum):
    IN_SYNC = "in_sync"
    DRIFTED = "drifted"
    MISSING = "missing"
    UNMANAGED = "unmanaged"
    UNKNOWN = "unknown"


ChangeOp = Literal["add", "remove", "modify"]


@dataclass(frozen=True)
class SourceLocation:
    """Where a spec (or a field of it) was written, so errors and alerts can point at it."""

    file: str
    line: int | None = None
    # top-level field -> its line ("ingress" -> 7), so a change can point at the field
    # that differs instead of the document's first line
    fields: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def line_of(self, path: str) -> int | None:
        """The line of the field a change path starts with ("tags.team" -> `tags:`)."""
        top = path.split(".", 1)[0].split("[", 1)[0]
        return self.fields.get(top, self.line)


@dataclass(frozen=True)
class ResourceRef:
    """One resource as the pipeline addresses it.

    `id` is the AWS id (`sg-…`, bucket name, IAM ARN). Some CloudTrail records only name a
    security group (`groupName`, optionally with `vpc_id`); then `id` is None until a
    collector resolves it.
    """

    kind: Kind
    account: str | None
    region: str
    id: str | None = None
    name: str | None = None
    vpc_id: str | None = None
    # security-group rule ids (`sgr-…`) named by a record that names no group
    rule_ids: tuple[str, ...] = ()

    def label(self) -> str:
        return self.id or self.name or (self.rule_ids[0] if self.rule_ids else "?")


@dataclass(frozen=True)
class Change:
    """One precise departure from the spec.

    `expected` / `actual` are JSON-ready values (None when absent on that side).
    `summary` is a human sentence without the leading +/-/~ marker.
    """

    op: ChangeOp
    path: str
    expected: Any
    actual: Any
    summary: str
    world_open: bool = False
    # the line of the spec field this change departs from (None without a spec)
    spec_line: int | None = None
    # what makes it dangerous, as data for rules (`check --fail-on admin`): "admin" is
    # administrator access (a `*:*` policy, AdministratorAccess) or an admin port open to
    # the world (SSH, RDP, databases)
    flags: tuple[str, ...] = ()
    # what to do about it (drifted findings; `revert` alone on some unmanaged ones):
    # `revert` is the exact `aws ...` command that puts the cloud back as the spec says
    # (or a console action in words when no single command does), `accept` the spec edit
    # that approves it, with the YAML to paste. Advice derived from the change, not part
    # of what it is: two changes that differ only here are the same change.
    revert: str | None = field(default=None, compare=False)
    accept: str | None = field(default=None, compare=False)


def with_next_steps(
    changes: Iterable[Change], advise: Callable[[Change], tuple[str | None, str | None]]
) -> tuple[Change, ...]:
    """The changes, each carrying the (revert, accept) that `advise` gives it."""
    out = []
    for change in changes:
        revert, accept = advise(change)
        out.append(replace(change, revert=revert, accept=accept) if revert or accept else change)
    return tuple(out)


def at_spec_fields(changes: Iterable[Change], source: SourceLocation) -> tuple[Change, ...]:
    """The changes, each pointing at the line of its field in the spec."""
    return tuple(
        c if c.spec_line is not None else replace(c, spec_line=source.line_of(c.path))
        for c in changes
    )


VIA_USER_AGENT = "user_agent"
VIA_CLOUDTRAIL = "cloudtrail"
# where an Actor came from: the event that announced the change, or CloudTrail's event
# history searched afterwards for drift only the sweep saw (then it is a likely author)
ACTOR_FROM_EVENT = "event"
ACTOR_FROM_LOOKUP = "lookup"


@dataclass(frozen=True)
class Excepted:
    """A change a spec's exception accepts until a date: shown, not counted as drift."""

    change: Change
    until: str
    reason: str


@dataclass(frozen=True)
class Revert:
    """What Setpoint did (or would do) to undo one change of a spec that opts in
    (`on_drift: revert`): `action` in words, `call` the API call, `done` whether it went
    through, `error` why not, classified by its leading word (`denied: …`, `gave_up: …`).
    Planned only (`explain` without `--apply-reverts`): done False, error None."""

    change: Change
    action: str
    call: str  # "ec2:RevokeSecurityGroupIngress"
    done: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who made the change, as CloudTrail recorded it."""

    arn: str | None
    event_name: str
    event_time: str | None
    event_id: str | None
    source_ip: str | None = None
    user_agent: str | None = None
    identity_type: str | None = None
    session_issuer: str | None = None
    via: str | None = None  # "console", "cloudformation", "terraform" or None
    account: str | None = None
    region: str | None = None
    # VIA_USER_AGENT when only the userAgent, which the caller chooses, names `via`
    via_source: str | None = None
    # ACTOR_FROM_EVENT, or ACTOR_FROM_LOOKUP: the newest matching write found in CloudTrail's
    # history after the sweep saw the drift; someone else may have changed it since
    source: str | None = ACTOR_FROM_EVENT

    @property
    def via_label(self) -> str | None:
        """`via console` when CloudTrail itself says so (invokedBy, console credentials);
        `(user agent says terraform)` when only the user agent does: any caller can send
        any user agent, so an alert must not vouch for it."""
        if not self.via:
            return None
        if self.via_source == VIA_USER_AGENT:
            return f"(user agent says {self.via})"
        return f"via {self.via}"

    @property
    def probably_label(self) -> str | None:
        """`(probably: newest matching write in CloudTrail event history)` for a looked-up
        actor: chat must not state as fact what was inferred after the event."""
        if self.source != ACTOR_FROM_LOOKUP:
            return None
        return "(probably: the newest matching write in CloudTrail event history)"


@dataclass(frozen=True)
class Finding:
    """The outcome of comparing one resource with its spec."""

    kind: Kind
    id: str | None
    name: str | None
    account: str | None
    region: str
    status: Status
    changes: tuple[Change, ...] = ()
    spec: str | None = None  # spec file (and line) it departs from
    actor: Actor | None = None
    reason: str | None = None  # why the status is unknown / missing, in words
    vpc_id: str | None = None
    # the resource's tags as read live, sorted (key, value) pairs: what routes an alert to
    # its team. Pairs, not a dict, so a Finding stays hashable and plain JSON.
    tags: tuple[tuple[str, str], ...] = ()
    # changes an unexpired exception in the spec accepts (`noise.apply`)
    excepted: tuple[Excepted, ...] = ()
    # what was undone (or tried, or would be) for a spec with `on_drift: revert`
    reverts: tuple[Revert, ...] = ()
    # when Setpoint first saw this drift (its alert state), for the sweep's report: the
    # age and order of drift that is still open
    first_seen: str | None = None

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    @property
    def ref(self) -> ResourceRef:
        """The resource this finding is about, to read it again."""
        return ResourceRef(self.kind, self.account, self.region, self.id, self.name, self.vpc_id)

    @property
    def is_problem(self) -> bool:
        return self.status is not Status.IN_SYNC

    @property
    def spec_path(self) -> str | None:
        """The spec file alone (`spec` is "file:line" for people; tools want the path)."""
        return _split_location(self.spec)[0]

    @property
    def spec_line(self) -> int | None:
        return _split_location(self.spec)[1]


def finding_for_ref(
    ref: ResourceRef,
    status: Status,
    *,
    reason: str | None = None,
    spec: str | None = None,
    actor: Actor | None = None,
) -> Finding:
    """A finding about a resource that was not read (unknown) or is not there (missing)."""
    return Finding(
        kind=ref.kind,
        id=ref.id,
        name=ref.name,
        account=ref.account,
        region=ref.region,
        vpc_id=ref.vpc_id,
        status=status,
        spec=spec,
        actor=actor,
        reason=reason,
    )


GONE_REASON = "the resource was deleted and no spec names it"


def gone_finding(ref: ResourceRef, actor: Actor | None = None) -> Finding:
    """The finding for a resource that no longer exists and that no spec wants."""
    return finding_for_ref(ref, Status.MISSING, actor=actor, reason=GONE_REASON)


def is_gone(finding: Finding) -> bool:
    """A `missing` finding with no spec: the resource went away and nobody wants it back."""
    return finding.status is Status.MISSING and finding.spec is None


def is_critical(finding: Finding) -> bool:
    """What blinds Setpoint (a guard finding: a stopped trail, a disabled rule, a refused
    spec bundle) is posted as critical, and every event of it is told, never deduplicated."""
    return finding.kind is GUARD


CRITICAL_PREFIX = "Critical: "


def tag_pairs(tags: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Live tags as `Finding.tags` holds them: sorted by key, so equal tags compare equal."""
    return tuple(sorted((str(k), str(v)) for k, v in (tags or {}).items()))


def _split_location(location: str | None) -> tuple[str | None, int | None]:
    if not location:
        return None, None
    path, sep, line = location.rpartition(":")
    if sep and line.isdigit():
        return path, int(line)
    return location, None
