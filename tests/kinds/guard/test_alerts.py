"""The guard through the event path: real records in, what chat hears out (moto, chat server)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.handlers import handle_cloudtrail_event, run_sweep
from chalicelib.runtime import Runtime
from tests.chat_server import ChatServer
from tests.deploy.test_member_rule import forward_rule
from tests.events.helpers import load_sample
from tests.state.world import make_runtime, specs

TRAIL_REGION = "us-west-2"  # where the published StopLogging record was made
TRAIL_ARN = "arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail"
RULE = "setpoint-prod-OnEc2ChangeEvent-1Q2W3E4R5T6Y"


def _trail() -> Any:
    s3 = boto3.client("s3", region_name=TRAIL_REGION)
    s3.create_bucket(
        Bucket="example-trail-logs", CreateBucketConfiguration={"LocationConstraint": TRAIL_REGION}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=TRAIL_REGION)
    cloudtrail.create_trail(
        Name="example-trail", S3BucketName="example-trail-logs", IsMultiRegionTrail=True
    )
    cloudtrail.start_logging(Name="example-trail")
    return cloudtrail


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text", ""))


def test_a_real_stoplogging_record_is_a_critical_alert_naming_who_and_startlogging_ends_it(
    aws: None, chat_server: ChatServer
) -> None:
    cloudtrail = _trail()
    runtime = make_runtime(chat_server.url, specs())
    cloudtrail.stop_logging(Name=TRAIL_ARN)
    handle_cloudtrail_event(load_sample("cloudtrail", "StopLogging__2"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert alert["kind"] == "guard" and alert["id"] == TRAIL_ARN
    assert _text(alert).startswith("Critical: ")
    assert "trail is not logging" in _text(alert)
    assert "arn:aws:sts::123456789012:assumed-role/tester" in _text(alert)

    cloudtrail.start_logging(Name="example-trail")
    handle_cloudtrail_event(load_sample("cloudtrail", "StartLogging__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:drifted", "back_to_normal:in_sync"]
    back = _text(chat_server.received[1])
    assert "Back to normal" in back and "arn:aws:iam::123456789012:user/sec-oncall" in back


def test_stopping_a_stopped_trail_again_is_posted_again_never_deduplicated(
    aws: None, chat_server: ChatServer
) -> None:
    cloudtrail = _trail()
    runtime = make_runtime(chat_server.url, specs())
    cloudtrail.stop_logging(Name=TRAIL_ARN)
    record = load_sample("cloudtrail", "StopLogging__2")
    handle_cloudtrail_event(record, runtime)
    # someone else stops it again (a new call, a new event id): chat hears of it too
    again = {**record, "eventID": "2", "userIdentity": {**record["userIdentity"]}}
    again["userIdentity"]["arn"] = "arn:aws:sts::123456789012:assumed-role/other"
    handle_cloudtrail_event(again, runtime)
    assert chat_server.alerts() == ["new:drifted", "new:drifted"]
    assert "assumed-role/other" in _text(chat_server.received[1])


def test_a_disablerule_on_setpoints_own_rule_is_a_critical_alert(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    events.put_rule(Name=RULE, EventPattern='{"source": ["aws.ec2"]}')
    events.put_targets(
        Rule=RULE,
        Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}],
    )
    events.disable_rule(Name=RULE)
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "DisableRule__setpoint1"), runtime)
    (alert,) = chat_server.received
    assert alert["id"] == f"arn:aws:events:us-east-1:123456789012:rule/{RULE}"
    assert _text(alert).startswith("Critical: ")
    assert "rule is disabled" in _text(alert)
    assert "assumed-role/ops/mallory" in _text(alert)


def test_a_deleterule_on_another_rule_is_skipped_saying_whose_it_is(
    aws: None, chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs())
    outcome = handle_cloudtrail_event(load_sample("events", "DeleteRule__setpoint1"), runtime)
    assert chat_server.received == []
    (skip,) = outcome.skipped
    assert "'nightly-report' is not one of Setpoint's" in skip.detail


def _swept(runtime: Runtime, chat_server: ChatServer) -> list[dict[str, Any]]:
    """What one sweep of us-east-1 (where the records were made) posts."""
    before = len(chat_server.received)
    runtime.regions = ["us-east-1"]
    run_sweep(runtime)
    return chat_server.received[before:]


def _guard_alerts(messages: list[dict[str, Any]]) -> list[str]:
    """`kind:status` of the guard's messages (a sweep also reads moto's default groups)."""
    return [f"{m['alert']['kind']}:{m['status']}" for m in messages if m["kind"] == "guard"]


def _setpoint_rule(events: Any, name: str = RULE) -> None:
    events.put_rule(Name=name, EventPattern='{"source": ["aws.ec2"]}')
    events.put_targets(
        Rule=name,
        Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}],
    )


def test_a_deleterule_by_hand_is_missing_until_a_sweep_sees_the_rule_again(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    _trail()
    _setpoint_rule(events)
    events.remove_targets(Rule=RULE, Ids=["fn"])
    events.delete_rule(Name=RULE)
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "DeleteRule__setpoint2"), runtime)
    assert chat_server.alerts() == ["new:missing"]
    assert _text(chat_server.received[0]).startswith("Critical: ")
    assert "assumed-role/ops/mallory" in _text(chat_server.received[0])
    # the stack is deployed again: the rule is back, and the next sweep closes the alert
    _setpoint_rule(events)
    assert _guard_alerts(_swept(runtime, chat_server)) == ["back_to_normal:in_sync"]
    assert chat_server.received[-1]["id"] == chat_server.received[0]["id"]


def test_setpoints_own_deploy_deleting_a_rule_is_no_alert_and_closes_what_was_open(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    _setpoint_rule(events)
    events.disable_rule(Name=RULE)
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "DisableRule__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    # the stack's next deploy replaces the rule: CloudFormation deletes the old one
    events.remove_targets(Rule=RULE, Ids=["fn"])
    events.delete_rule(Name=RULE)
    handle_cloudtrail_event(load_sample("events", "DeleteRule__setpoint3"), runtime)
    assert chat_server.alerts() == ["new:drifted", "back_to_normal:in_sync"]
    assert "Critical" not in _text(chat_server.received[1])


def test_a_deploy_caught_mid_update_is_not_judged_until_the_sweep(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    _setpoint_rule(events)
    events.remove_targets(Rule=RULE, Ids=["fn"])
    record = load_sample("events", "RemoveTargets__setpoint1")
    by_stack = load_sample("events", "DeleteRule__setpoint3")
    record.update(
        userIdentity=by_stack["userIdentity"],
        sourceIPAddress=by_stack["sourceIPAddress"],
        userAgent=by_stack["userAgent"],
    )
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(record, runtime)
    assert chat_server.received == []
    # the deploy never put a target back: the sweep says so, as a critical alert
    _trail()
    assert _guard_alerts(_swept(runtime, chat_server)) == ["new:drifted"]


def test_a_configured_deployer_deleting_setpoints_rule_is_a_deploy(
    aws: None, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETPOINT_IAC_PRINCIPALS", "arn:aws:iam::123456789012:role/ops")
    events = boto3.client("events", region_name="us-east-1")
    _setpoint_rule(events)
    events.remove_targets(Rule=RULE, Ids=["fn"])
    events.delete_rule(Name=RULE)
    runtime = make_runtime(chat_server.url, specs())
    outcome = handle_cloudtrail_event(load_sample("events", "DeleteRule__setpoint2"), runtime)
    assert chat_server.received == []
    assert [f.status.value for f in outcome.findings] == ["in_sync"] and outcome.held == 0


def test_a_disablerule_on_the_member_accounts_forwarding_rule_is_a_critical_alert(
    aws: None, chat_server: ChatServer
) -> None:
    name = str(forward_rule()["Name"])  # as infra/member-account.yaml names it
    events = boto3.client("events", region_name="eu-west-1")
    _setpoint_rule(events, name)
    events.disable_rule(Name=name)
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "DisableRule__setpoint2"), runtime)
    (alert,) = chat_server.received
    assert alert["id"] == f"arn:aws:events:eu-west-1:123456789012:rule/{name}"
    assert _text(alert).startswith("Critical: ") and "rule is disabled" in _text(alert)
    assert "assumed-role/ops/mallory" in _text(alert)


def _org_trail() -> str:
    """A second multi-region trail, logging every management event."""
    s3 = boto3.client("s3", region_name=TRAIL_REGION)
    s3.create_bucket(
        Bucket="org-trail-logs", CreateBucketConfiguration={"LocationConstraint": TRAIL_REGION}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=TRAIL_REGION)
    arn = cloudtrail.create_trail(
        Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True
    )["TrailARN"]
    cloudtrail.start_logging(Name="org-trail")
    return str(arn)


def test_deleting_the_only_trail_is_a_critical_missing_alert_naming_who(
    aws: None, chat_server: ChatServer
) -> None:
    # by name: moto answers DeleteTrail by ARN without deleting anything
    _trail().delete_trail(Name="example-trail")
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("cloudtrail", "DeleteTrail__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:missing"]
    (alert,) = chat_server.received
    assert alert["id"] == TRAIL_ARN and _text(alert).startswith("Critical: ")
    assert "the trail no longer exists" in _text(alert)
    assert "assumed-role/platform-admin/trent" in _text(alert)


def test_deleting_one_trail_while_another_covers_every_region_is_quiet(
    aws: None, chat_server: ChatServer
) -> None:
    _trail().delete_trail(Name="example-trail")
    _org_trail()
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("cloudtrail", "DeleteTrail__setpoint1"), runtime)
    assert chat_server.received == []


def test_updatetrail_to_a_single_region_with_no_other_trail_is_a_critical_alert(
    aws: None, chat_server: ChatServer
) -> None:
    arn = _org_trail()
    boto3.client("cloudtrail", region_name=TRAIL_REGION).update_trail(
        Name="org-trail", IsMultiRegionTrail=False
    )
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("cloudtrail", "UpdateTrail__setpoint2"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert alert["id"] == arn and _text(alert).startswith("Critical: ")
    assert "trail logs only us-west-2: calls in other regions go unheard" in _text(alert)
    assert "user/console-admin" in _text(alert)


def test_puteventselectors_turning_management_events_off_is_a_critical_alert(
    aws: None, chat_server: ChatServer
) -> None:
    _trail().put_event_selectors(
        TrailName="example-trail",
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}],
    )
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("cloudtrail", "PutEventSelectors__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert "event selectors no longer log management write events" in _text(alert)
    assert "assumed-role/platform-admin/trent" in _text(alert)


def test_puteventselectors_on_a_teams_trail_is_quiet_while_another_trail_covers(
    aws: None, chat_server: ChatServer
) -> None:
    _trail().put_event_selectors(
        TrailName="example-trail",
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}],
    )
    _org_trail()
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("cloudtrail", "PutEventSelectors__setpoint1"), runtime)
    assert chat_server.received == []


def test_putinsightselectors_leaves_the_trail_logging_so_there_is_no_alert(
    aws: None, chat_server: ChatServer
) -> None:
    _trail()  # insights add events; the re-read finds the trail logging as before
    runtime = make_runtime(chat_server.url, specs())
    outcome = handle_cloudtrail_event(
        load_sample("cloudtrail", "PutInsightSelectors__setpoint1"), runtime
    )
    assert chat_server.received == []
    assert [(f.id, f.status.value) for f in outcome.findings] == [(TRAIL_ARN, "in_sync")]


def test_removetargets_on_setpoints_rule_is_a_critical_alert_naming_who(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    _setpoint_rule(events)
    events.remove_targets(Rule=RULE, Ids=["fn"])
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "RemoveTargets__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert _text(alert).startswith("Critical: ") and "rule has no target" in _text(alert)
    assert "assumed-role/ops/mallory" in _text(alert)


def test_putrule_disabling_setpoints_rule_is_a_critical_alert(
    aws: None, chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name="us-east-1")
    _setpoint_rule(events)
    events.put_rule(Name=RULE, EventPattern='{"source": ["aws.ec2"]}', State="DISABLED")
    runtime = make_runtime(chat_server.url, specs())
    handle_cloudtrail_event(load_sample("events", "PutRule__setpoint1"), runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert _text(alert).startswith("Critical: ") and "rule is disabled" in _text(alert)
