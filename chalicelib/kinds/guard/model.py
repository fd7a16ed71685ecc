"""Trails, Setpoint's rules and the guard spec as frozen data, and what "logs writes" means.

Pure: no boto3, no clock, no environment. `logs_management_writes` reads a trail's basic
and advanced event selectors the way CloudTrail applies them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.model import SourceLocation

# The services whose management writes Setpoint reacts to: an advanced selector that
# keeps only some event sources must keep all of these.
WATCHED_SOURCES: tuple[str, ...] = (
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "iam.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "events.amazonaws.com",
)


@dataclass(frozen=True)
class TrailState:
    """One trail as read live (in its home region)."""

    arn: str
    name: str
    account: str | None
    home_region: str
    multi_region: bool
    logging: bool
    management_writes: bool
    organization: bool = False


@dataclass(frozen=True)
class RuleState:
    """One of Setpoint's EventBridge rules as read live."""

    arn: str
    name: str
    account: str | None
    region: str
    enabled: bool
    targets: int
    bus: str = "default"


@dataclass(frozen=True)
class GuardSpec:
    """`kind: guard`: which trails must keep Setpoint's sight, and over which regions.

    Without any guard spec the account's trails together must log management writes in
    every region Setpoint watches (one trail narrowing is quiet while others cover);
    `trails` makes the named trails (by name or ARN) each do it on its own and leaves the
    others alone; `regions` sets the regions watched (default: SETPOINT_REGIONS, or the
    sweep's), so a single-region trail can do when Setpoint watches only its home region.
    """

    source: SourceLocation
    account: str | None = None
    trails: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    name: str = "guard"


def _field_matches(selector: Mapping[str, Any], value: str) -> bool:
    """Whether one advanced field selector keeps events whose field equals `value`."""

    def values(key: str) -> list[str]:
        raw = selector.get(key) or []
        return [str(v) for v in raw] if isinstance(raw, list) else [str(raw)]

    checks = [
        ("Equals", lambda v: value in v),
        ("NotEquals", lambda v: value not in v),
        ("StartsWith", lambda v: any(value.startswith(p) for p in v)),
        ("NotStartsWith", lambda v: not any(value.startswith(p) for p in v)),
        ("EndsWith", lambda v: any(value.endswith(p) for p in v)),
        ("NotEndsWith", lambda v: not any(value.endswith(p) for p in v)),
    ]
    return all(test(values(key)) for key, test in checks if selector.get(key) is not None)


def _advanced_keeps_writes(selector: Mapping[str, Any]) -> bool:
    fields: dict[str, Mapping[str, Any]] = {}
    for item in selector.get("FieldSelectors") or []:
        if isinstance(item, Mapping) and isinstance(item.get("Field"), str):
            fields[item["Field"]] = item
    category = fields.get("eventCategory")
    if category is None or not _field_matches(category, "Management"):
        return False
    read_only = fields.get("readOnly")
    if read_only is not None and not _field_matches(read_only, "false"):
        return False
    source = fields.get("eventSource")
    return source is None or all(_field_matches(source, s) for s in WATCHED_SOURCES)


def _basic_keeps_writes(selector: Mapping[str, Any]) -> bool:
    if selector.get("IncludeManagementEvents", True) is False:
        return False
    if selector.get("ReadWriteType", "All") not in ("All", "WriteOnly"):
        return False
    excluded = selector.get("ExcludeManagementEventSources") or []
    return not any(source in excluded for source in WATCHED_SOURCES)


def logs_management_writes(
    basic: Sequence[Mapping[str, Any]] | None, advanced: Sequence[Mapping[str, Any]] | None
) -> bool:
    """Whether a trail with these selectors logs the management write events Setpoint needs.

    No selector at all is CloudTrail's default: every management event. A trail uses either
    basic or advanced selectors; any one selector that keeps the writes is enough.
    """
    if not basic and not advanced:
        return True
    return any(_basic_keeps_writes(s) for s in basic or () if isinstance(s, Mapping)) or any(
        _advanced_keeps_writes(s) for s in advanced or () if isinstance(s, Mapping)
    )


def trail_covers(state: TrailState, regions: Sequence[str]) -> bool:
    """Whether the trail's scope reaches every region in `regions` (empty: every region)."""
    if state.multi_region:
        return True
    return bool(regions) and set(regions) <= {state.home_region}


def guards(state: TrailState, regions: Sequence[str]) -> bool:
    """Logging, management writes, every region: the trail keeps Setpoint's events coming."""
    return state.logging and state.management_writes and trail_covers(state, regions)


@dataclass(frozen=True)
class FunctionState:
    """One of Setpoint's Lambda functions as read live."""

    arn: str
    name: str
    account: str | None
    region: str
    role: str  # the execution role's ARN
    # reserved concurrency: None when not reserved (the account's pool), 0 = never runs
    reserved: int | None = None


@dataclass(frozen=True)
class OwnRoleState:
    """One of Setpoint's IAM roles as read live: it exists, and what it is given."""

    arn: str
    name: str
    account: str | None
    attached: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpecBucketState:
    """The spec bucket's guards as read live."""

    name: str
    account: str | None
    region: str
    policy: Mapping[str, Any] | None
    versioning: str | None  # "Enabled", "Suspended" or None (never enabled)
    public_access_block: Mapping[str, bool] | None


@dataclass(frozen=True)
class BusState:
    """The event bus Setpoint's rules use (the default bus) and its policy."""

    arn: str
    name: str
    account: str | None
    region: str
    policy: Mapping[str, Any] | None
