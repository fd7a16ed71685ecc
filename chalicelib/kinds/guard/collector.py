"""Reads trails and Setpoint's rules into `TrailState` / `RuleState`.

get → transform: `GuardCollector` does the I/O (a client per region on first use),
`parse_*` are pure. A trail is read in its home region: DescribeTrails, GetTrailStatus,
GetEventSelectors (basic and advanced). A rule: DescribeRule and ListTargetsByRule. Any
read that fails raises `ReadError` (the finding is `unknown`, never in sync); "not found"
is None (the finding is `missing`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ReadError
from chalicelib.kinds.guard import RULE_PREFIX
from chalicelib.kinds.guard.model import RuleState, TrailState, logs_management_writes

ClientFactory = Callable[[str], Any]

READS: tuple[tuple[str, str], ...] = (
    ("DescribeTrails", "cloudtrail:DescribeTrails"),
    ("GetTrailStatus", "cloudtrail:GetTrailStatus"),
    ("GetEventSelectors", "cloudtrail:GetEventSelectors"),
    ("DescribeRule", "events:DescribeRule"),
    ("ListRules", "events:ListRules"),
    ("ListTargetsByRule", "events:ListTargetsByRule"),
)
TRAIL_NOT_FOUND = frozenset({"TrailNotFoundException", "CloudTrailARNInvalidException"})
RULE_NOT_FOUND = frozenset({"ResourceNotFoundException"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def parse_trail(
    trail: Mapping[str, Any], status: Mapping[str, Any], selectors: Mapping[str, Any]
) -> TrailState:
    """DescribeTrails' item, GetTrailStatus and GetEventSelectors -> one TrailState."""
    arn = str(trail.get("TrailARN") or "")
    return TrailState(
        arn=arn,
        name=str(trail.get("Name") or arn.rsplit("/", 1)[-1]),
        account=_account_of(arn),
        home_region=str(trail.get("HomeRegion") or arn.split(":")[3]),
        multi_region=bool(trail.get("IsMultiRegionTrail")),
        logging=bool(status.get("IsLogging")),
        management_writes=logs_management_writes(
            selectors.get("EventSelectors"), selectors.get("AdvancedEventSelectors")
        ),
        organization=bool(trail.get("IsOrganizationTrail")),
    )


def parse_rule(rule: Mapping[str, Any], targets: int, region: str) -> RuleState:
    arn = str(rule.get("Arn") or "")
    return RuleState(
        arn=arn,
        name=str(rule.get("Name") or ""),
        account=_account_of(arn),
        region=region,
        enabled=rule.get("State") == "ENABLED",
        targets=targets,
        bus=str(rule.get("EventBusName") or "default"),
    )


class GuardCollector:
    def __init__(self, cloudtrail: ClientFactory, events: ClientFactory) -> None:
        self._cloudtrail = cloudtrail
        self._events = events

    # -- trails --------------------------------------------------------------------------

    def _trail(self, region: str, trail: Mapping[str, Any]) -> TrailState:
        arn = str(trail["TrailARN"])
        client = self._cloudtrail(str(trail.get("HomeRegion") or region))
        status = client.get_trail_status(Name=arn)
        selectors = client.get_event_selectors(TrailName=arn)
        return parse_trail(trail, status, selectors)

    def read_trail(self, region: str, arn: str) -> TrailState | None:
        """The trail `arn` (in `region`, its home); None when it does not exist."""
        try:
            answer = self._cloudtrail(region).describe_trails(
                trailNameList=[arn], includeShadowTrails=True
            )
            trails = [t for t in answer.get("trailList", []) if t.get("TrailARN") == arn]
            return self._trail(region, trails[0]) if trails else None
        except ClientError as exc:
            if _code(exc) in TRAIL_NOT_FOUND:
                return None
            raise ReadError(f"trail {arn}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ReadError(f"trail {arn}: {exc}") from exc

    def list_trails(
        self, region: str, known: dict[str, TrailState] | None = None
    ) -> list[TrailState]:
        """Every trail that applies to `region`: its own, other regions' multi-region ones
        and the organization's. A trail already in `known` (by ARN) is not read again, so a
        sweep of many regions reads each multi-region trail once."""
        known = {} if known is None else known
        try:
            answer = self._cloudtrail(region).describe_trails(includeShadowTrails=True)
            found = []
            for trail in answer.get("trailList", []):
                arn = str(trail.get("TrailARN"))
                if arn not in known:
                    known[arn] = self._trail(region, trail)
                found.append(known[arn])
            return found
        except (ClientError, BotoCoreError) as exc:
            code = _code(exc) if isinstance(exc, ClientError) else str(exc)
            raise ReadError(f"trails in {region}: {code}") from exc

    # -- Setpoint's rules ----------------------------------------------------------------

    def _targets(self, region: str, name: str, bus: str) -> int:
        client = self._events(region)
        count, token = 0, None
        while True:
            kwargs: dict[str, Any] = {"Rule": name, "EventBusName": bus}
            if token:
                kwargs["NextToken"] = token
            answer = client.list_targets_by_rule(**kwargs)
            count += len(answer.get("Targets", []))
            token = answer.get("NextToken")
            if not token:
                return count

    def read_rule(self, region: str, name: str, bus: str = "default") -> RuleState | None:
        """One rule by name; None when it does not exist."""
        try:
            rule = self._events(region).describe_rule(Name=name, EventBusName=bus)
            return parse_rule(rule, self._targets(region, name, bus), region)
        except ClientError as exc:
            if _code(exc) in RULE_NOT_FOUND:
                return None
            raise ReadError(f"rule {name} in {region}: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ReadError(f"rule {name} in {region}: {exc}") from exc

    def list_rules(self, region: str, prefix: str = RULE_PREFIX) -> list[RuleState]:
        """Setpoint's rules on the default bus of `region` (their names start with `prefix`)."""
        client = self._events(region)
        rules: list[RuleState] = []
        token = None
        try:
            while True:
                kwargs: dict[str, Any] = {"NamePrefix": prefix}
                if token:
                    kwargs["NextToken"] = token
                answer = client.list_rules(**kwargs)
                for rule in answer.get("Rules", []):
                    name, bus = str(rule["Name"]), str(rule.get("EventBusName") or "default")
                    rules.append(parse_rule(rule, self._targets(region, name, bus), region))
                token = answer.get("NextToken")
                if not token:
                    return rules
        except (ClientError, BotoCoreError) as exc:
            code = _code(exc) if isinstance(exc, ClientError) else str(exc)
            raise ReadError(f"Setpoint's rules in {region}: {code}") from exc
