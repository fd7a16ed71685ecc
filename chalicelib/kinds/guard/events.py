"""Where CloudTrail and EventBridge calls name what they blind: the guard rows of the table.

CloudTrail calls name their trail in `requestParameters.name` (StopLogging, StartLogging,
DeleteTrail, UpdateTrail) or `trailName` (PutEventSelectors, PutInsightSelectors), as a
name or an ARN; UpdateTrail also answers with `trailARN`. EventBridge calls name a rule in
`requestParameters.name` (RemoveTargets, PutTargets: `rule`), on `eventBusName` (default
when absent); only Setpoint's own rules (`RULE_PREFIX`) are its concern, any other rule's
call is skipped saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chalicelib.events.fields import ci_get
from chalicelib.events.locators import EventRoute, Locator, union
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.guard import CLOUDTRAIL_SOURCE, EVENTS_SOURCE, GUARD, RULE_PREFIX
from chalicelib.model import ResourceRef

_TRAIL_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"trail/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{2,127})"
)
_TRAIL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,127}")
_RULE_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):events:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"rule/(?:(?P<bus>[A-Za-z0-9._/-]+)/)?(?P<name>[A-Za-z0-9._-]{1,64})"
)
_RULE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def trail_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition_of(region)}:cloudtrail:{region}:{account}:trail/{name}"


def rule_arn(region: str, account: str, name: str, bus: str = "default") -> str:
    path = name if bus == "default" else f"{bus}/{name}"
    return f"arn:{partition_of(region)}:events:{region}:{account}:rule/{path}"


def trail_ref(value: object, record: CloudTrailRecord) -> ResourceRef | None:
    """The trail a name or ARN in `record` names (a name is in the call's own region)."""
    if not isinstance(value, str):
        return None
    match = _TRAIL_ARN.fullmatch(value)
    if match is not None:
        return ResourceRef(GUARD, match["account"], match["region"], id=value, name=match["name"])
    region, account = record.aws_region, record.account
    if region is None or account is None or _TRAIL_NAME.fullmatch(value) is None:
        return None
    return ResourceRef(GUARD, account, region, id=trail_arn(region, account, value), name=value)


def rule_ref(name: object, bus: object, record: CloudTrailRecord) -> ResourceRef | None:
    """One of Setpoint's rules named in `record`; None for any other rule."""
    if not isinstance(name, str):
        return None
    match = _RULE_ARN.fullmatch(name)
    if match is not None:
        region, account, name = match["region"], match["account"], match["name"]
        bus = match["bus"] or "default"
    else:
        region, account = record.aws_region or "", record.account or ""
        if not region or not account or _RULE_NAME.fullmatch(name) is None:
            return None
        if isinstance(bus, str) and bus.startswith("arn:"):
            bus = bus.rsplit("/", 1)[-1]
        bus = bus if isinstance(bus, str) and bus else "default"
    if not name.startswith(RULE_PREFIX):
        return None
    return ResourceRef(GUARD, account, region, id=rule_arn(region, account, name, bus), name=name)


def _trail(where: str, read: Callable[[CloudTrailRecord], object]) -> Locator:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        ref = trail_ref(read(record), record)
        return [ref] if ref is not None else []

    def explain(record: CloudTrailRecord) -> str:
        return f"{record.event_name}: no trail name or ARN in {where}"

    return Locator((where,), find, explain)


def _rule(key: str) -> Locator:
    where = f"requestParameters.{key}"

    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        params = record.request_parameters
        ref = rule_ref(ci_get(params, key), ci_get(params, "eventBusName"), record)
        return [ref] if ref is not None else []

    def explain(record: CloudTrailRecord) -> str:
        named = ci_get(record.request_parameters, key)
        if isinstance(named, str) and named:
            return (
                f"{record.event_name}: rule {named!r} is not one of Setpoint's "
                f"(their names start with {RULE_PREFIX!r})"
            )
        return f"{record.event_name}: no rule name in {where}"

    return Locator((where,), find, explain)


def _request(key: str) -> Callable[[CloudTrailRecord], object]:
    return lambda record: ci_get(record.request_parameters, key)


TRAIL_NAME = _trail("requestParameters.name", _request("name"))
TRAIL_NAME_KEY = _trail("requestParameters.trailName", _request("trailName"))
UPDATED = union(
    TRAIL_NAME,
    _trail("responseElements.trailARN", lambda r: ci_get(r.response_elements, "trailARN")),
)
RULE_NAME = _rule("name")
TARGETS_RULE = _rule("rule")

TRAIL_CALLS: tuple[tuple[str, Locator], ...] = (
    ("StopLogging", TRAIL_NAME),
    ("StartLogging", TRAIL_NAME),
    ("DeleteTrail", TRAIL_NAME),
    ("UpdateTrail", UPDATED),
    ("PutEventSelectors", TRAIL_NAME_KEY),
    ("PutInsightSelectors", TRAIL_NAME_KEY),
)
RULE_CALLS: tuple[tuple[str, Locator], ...] = (
    ("DisableRule", RULE_NAME),
    ("EnableRule", RULE_NAME),
    ("DeleteRule", RULE_NAME),
    ("PutRule", RULE_NAME),
    ("RemoveTargets", TARGETS_RULE),
    ("PutTargets", TARGETS_RULE),
)

ROWS: tuple[EventRoute, ...] = (
    *(EventRoute(name, CLOUDTRAIL_SOURCE, GUARD, locate) for name, locate in TRAIL_CALLS),
    *(EventRoute(name, EVENTS_SOURCE, GUARD, locate) for name, locate in RULE_CALLS),
)


def is_trail_arn(value: str | None) -> bool:
    return value is not None and _TRAIL_ARN.fullmatch(value) is not None


def is_rule_arn(value: str | None) -> bool:
    return value is not None and _RULE_ARN.fullmatch(value) is not None
