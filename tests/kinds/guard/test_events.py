"""Real and hand-written CloudTrail/EventBridge records → the trail or rule they name."""

from __future__ import annotations

import pytest

from chalicelib.events.route import Skipped, route_payload
from chalicelib.model import GUARD, ResourceRef
from tests.events.helpers import load_sample

ACCOUNT = "123456789012"


def _refs(folder: str, name: str) -> list[ResourceRef] | str:
    (result,) = route_payload(load_sample(folder, name))
    if isinstance(result, Skipped):
        return f"skipped {result.reason.value}: {result.detail}"
    return list(result.refs)


@pytest.mark.parametrize(
    ("name", "region", "trail"),
    [
        ("StopLogging__1", "apiso-centralnorth-2r", "stratus-red-team-ct-stop-trail-buykxbqejv"),
        ("StopLogging__2", "us-west-2", "example-trail"),
        ("DeleteTrail__1", "megov-westwest-1r", "stratus-red-team-cloudtraild-trail-kvrwohmiai"),
        ("PutEventSelectors__1", "cn-northsouth-2r", "stratus-red-team-ctes-trail-khlvciwdor"),
        ("UpdateTrail__setpoint2", "us-west-2", "org-trail"),
        ("StartLogging__setpoint1", "us-west-2", "example-trail"),
    ],
)
def test_trail_calls_name_the_trail_by_arn(name: str, region: str, trail: str) -> None:
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    arn = f"arn:{partition}:cloudtrail:{region}:{ACCOUNT}:trail/{trail}"
    assert _refs("cloudtrail", name) == [ResourceRef(GUARD, ACCOUNT, region, id=arn, name=trail)]


def test_failed_and_redacted_trail_calls_are_skipped() -> None:
    assert str(_refs("cloudtrail", "StopLogging__3")).startswith("skipped failed")
    # the publisher redacted the name to "...": no trail to re-read, said so
    assert "no trail name or ARN in requestParameters.name" in str(
        _refs("cloudtrail", "StopLogging__4")
    )


def test_a_setpoint_rule_is_named_by_its_arn_on_the_default_bus() -> None:
    rule = "setpoint-prod-OnEc2ChangeEvent-1Q2W3E4R5T6Y"
    assert _refs("events", "DisableRule__setpoint1") == [
        ResourceRef(
            GUARD,
            ACCOUNT,
            "us-east-1",
            id=f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{rule}",
            name=rule,
        )
    ]


def test_other_rules_are_skipped_and_elbv2s_deleterule_is_not_eventbridges() -> None:
    assert "'ARMS_UnprocessedRule' is not one of Setpoint's" in str(
        _refs("events", "DeleteRule__2")
    )
    # ELBv2's DeleteRule (a listener rule) still goes to load balancers, not the guard
    refs = _refs("elasticloadbalancing", "DeleteRule__setpoint1")
    assert isinstance(refs, list) and refs and all(r.kind is not GUARD for r in refs)
