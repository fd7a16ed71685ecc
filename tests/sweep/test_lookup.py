"""Who probably made drift only the sweep saw: CloudTrail's event history (LookupEvents).

moto does not implement `cloudtrail.lookup_events`, so these tests answer it with
botocore's Stubber on the real response shape: `Events[]` entries whose `CloudTrailEvent`
is the record as a JSON string, built from the real records in tests/fixtures/cloudtrail.
Everything else (the group, the sweep, the state, chat) is moto and tests/chat_server.py.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.model import ACTOR_FROM_LOOKUP, Actor, Finding, Kind, Status
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.alert_message import render_alert_slack, render_alert_text
from chalicelib.notify.delivery import notifier_for
from chalicelib.notify.teams import render_alert_teams
from chalicelib.report.json_report import finding_to_dict
from chalicelib.runtime import spec_provider, sweep_service
from chalicelib.state import MemoryStateStore, record_key
from chalicelib.sweep.lookup import CloudTrailLookup, Pacer, choose_actor
from chalicelib.sweep.settings import SweepSettings, settings_from_env
from chalicelib.sweep.worker import SweepService, sweep_in_process
from tests.runtime_builder import build_runtime

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cloudtrail"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SG = Kind("security_group")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def ingress_record(group: str, *, time: str, who: str, event_id: str) -> dict[str, Any]:
    """The real AuthorizeSecurityGroupIngress record, re-aimed at `group`."""
    record = copy.deepcopy(fixture("ec2/AuthorizeSecurityGroupIngress__setpoint1.json"))
    record["requestParameters"]["groupId"] = group
    for rule in record["responseElements"]["securityGroupRuleSet"]["items"]:
        rule["groupId"] = group
    record["eventTime"] = time
    record["eventID"] = event_id
    record["userIdentity"]["arn"] = f"arn:aws:iam::{ACCOUNT}:user/{who}"
    return record


def history_entry(record: dict[str, Any]) -> dict[str, Any]:
    """One LookupEvents `Events[]` entry as CloudTrail returns it."""
    return {
        "EventId": record.get("eventID", "none"),
        "EventName": record["eventName"],
        "ReadOnly": str(record.get("readOnly", False)).lower(),
        "EventTime": datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")),
        "EventSource": record["eventSource"],
        "Username": "someone",
        "Resources": [
            {"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0a1b2c3d4e5f60718"}
        ],
        "CloudTrailEvent": json.dumps(record),
    }


def drifted(group: str = "sg-0a1b2c3d4e5f60718") -> Finding:
    return Finding(SG, group, "web", ACCOUNT, REGION, Status.DRIFTED)


# -- the pure choice ------------------------------------------------------------------


def test_the_newest_successful_write_to_this_resource_is_the_likely_actor() -> None:
    group = "sg-0a1b2c3d4e5f60718"
    older = ingress_record(group, time="2026-11-30T02:07:41Z", who="alice", event_id="e-old")
    newer = ingress_record(group, time="2026-11-30T05:00:00Z", who="bob", event_id="e-new")
    failed = ingress_record(group, time="2026-11-30T06:00:00Z", who="eve", event_id="e-fail")
    failed["errorCode"] = "UnauthorizedOperation"
    other = ingress_record("sg-0ffff", time="2026-11-30T07:00:00Z", who="carol", event_id="e-o")
    read = {**newer, "eventName": "DescribeSecurityGroups", "readOnly": True, "eventID": "e-r"}
    events = [history_entry(r) for r in (other, read, failed, older, newer)]
    events.append({"EventId": "broken", "CloudTrailEvent": "{not json"})

    actor = choose_actor(drifted(group), events)

    assert actor is not None
    assert (actor.arn, actor.event_id, actor.source) == (
        f"arn:aws:iam::{ACCOUNT}:user/bob",
        "e-new",
        ACTOR_FROM_LOOKUP,
    )
    assert actor.event_name == "AuthorizeSecurityGroupIngress"
    assert actor.event_time == "2026-11-30T05:00:00Z"


def test_history_with_no_write_to_this_resource_names_nobody() -> None:
    other = ingress_record("sg-0ffff", time="2026-11-30T07:00:00Z", who="carol", event_id="e-o")
    assert choose_actor(drifted(), [history_entry(other)]) is None


# -- pacing ---------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_to_one_account_and_region_are_paced_to_two_a_second() -> None:
    time = FakeTime()
    pacer = Pacer(monotonic=time.monotonic, sleep=time.sleep)
    for _ in range(5):
        pacer.wait((ACCOUNT, REGION))
    pacer.wait((ACCOUNT, "eu-west-1"))  # another region has its own quota

    assert time.slept == [0.5, 0.5, 0.5, 0.5]
    assert time.now == 2.0


# -- the adapter, on Stubber ----------------------------------------------------------


def stubbed_cloudtrail() -> tuple[Any, Stubber]:
    client = boto3.client(
        "cloudtrail",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return client, Stubber(client)


def test_lookup_pages_by_resource_name_until_a_match_and_retries_a_throttle() -> None:
    group = "sg-0a1b2c3d4e5f60718"
    client, stub = stubbed_cloudtrail()
    since = NOW - timedelta(days=90)
    params = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": group}],
        "StartTime": since,
        "EndTime": NOW,
        "MaxResults": 50,
    }
    other = ingress_record("sg-0ffff", time="2026-11-30T07:00:00Z", who="carol", event_id="e-o")
    mine = ingress_record(group, time="2026-11-29T01:00:00Z", who="alice", event_id="e-mine")
    stub.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400, params)
    stub.add_response(
        "lookup_events", {"Events": [history_entry(other)], "NextToken": "page-2"}, params
    )
    stub.add_response(
        "lookup_events", {"Events": [history_entry(mine)]}, {**params, "NextToken": "page-2"}
    )
    time = FakeTime()
    lookup = CloudTrailLookup(
        lambda account, region: client,
        pacer=Pacer(monotonic=time.monotonic, sleep=time.sleep),
    )
    with stub:
        result = lookup.find(drifted(group), since, NOW)
        stub.assert_no_pending_responses()

    assert result.actor is not None and result.actor.event_id == "e-mine"
    assert result.requests == 3 and result.error is None
    assert time.now >= 1.0  # three requests to one account and region: paced, never bursts


def test_a_refused_lookup_is_reported_and_names_nobody() -> None:
    client, stub = stubbed_cloudtrail()
    stub.add_client_error("lookup_events", "AccessDeniedException", "no", 400)
    lookup = CloudTrailLookup(lambda account, region: client, sleep=lambda _: None)
    with stub:
        result = lookup.find(drifted(), NOW - timedelta(hours=1), NOW)
    assert result.actor is None
    assert result.error == "LookupEvents refused (AccessDeniedException)"


def test_the_lambda_looks_up_90_days_by_default_and_zero_hours_turns_it_off() -> None:
    assert settings_from_env({}).lookup_hours == 90 * 24
    assert settings_from_env({"SETPOINT_ACTOR_LOOKUP_HOURS": "0"}).lookup_hours == 0
    with pytest.raises(ConfigError, match="SETPOINT_ACTOR_LOOKUP_HOURS=9999 is outside"):
        settings_from_env({"SETPOINT_ACTOR_LOOKUP_HOURS": "9999"})


# -- what people see ------------------------------------------------------------------


def looked_up_actor() -> Actor:
    return Actor(
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        event_name="AuthorizeSecurityGroupIngress",
        event_time="2026-11-30T02:07:41Z",
        event_id="5e1c8a60-2f0b-4d3e-9a7c-1b2d3e4f5a61",
        source=ACTOR_FROM_LOOKUP,
    )


def test_alerts_and_json_say_the_looked_up_actor_is_probable() -> None:
    finding = Finding(
        SG, "sg-0a1b2c3d4e5f60718", "web", ACCOUNT, REGION, Status.DRIFTED, actor=looked_up_actor()
    )
    alert = Alert(AlertKind.NEW, finding)

    text = render_alert_text(alert)
    assert f"Who: arn:aws:iam::{ACCOUNT}:user/alice (probably:" in text
    assert "CloudTrail event: 5e1c8a60-2f0b-4d3e-9a7c-1b2d3e4f5a61" in text
    assert "probably" in json.dumps(render_alert_slack(alert))
    assert "probably" in json.dumps(render_alert_teams(alert))
    actor = finding_to_dict(finding)["actor"]
    assert actor["source"] == "lookup"
    assert actor["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"  # the existing fields stay
    event = Finding(
        SG, "sg-1", "x", ACCOUNT, REGION, Status.DRIFTED, actor=Actor("a", "E", None, None)
    )
    assert finding_to_dict(event)["actor"]["source"] == "event"


# -- the sweep, end to end on moto ----------------------------------------------------


def open_ssh_by_hand(ec2: Any) -> str:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group: str = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    return group


@pytest.fixture
def swept_group(
    aws: None, webhook: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> tuple[SweepService, str, list[dict[str, Any]], MemoryStateStore]:
    clients = ClientCache()
    group = open_ssh_by_hand(clients.client("ec2", REGION))
    specs = tmp_path / "policies" / "security_groups"
    specs.mkdir(parents=True)
    (specs / "web.yaml").write_text(
        f"kind: security_group\nname: web\nregion: {REGION}\ndescription: web\ningress: []\n"
    )
    url, received = webhook
    state = MemoryStateStore()
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(str(tmp_path / "policies"), clients),
        notifiers=[notifier_for(url, "json", sleep=lambda _: None)],
        regions=[REGION],
        state=state,
        clock=lambda: NOW,
    )
    service = sweep_service(runtime, SweepSettings(regions=(REGION,), lookup_hours=90 * 24))
    return service, group, received, state


def test_drift_only_the_sweep_saw_is_alerted_with_its_probable_author_and_looked_up_once(
    swept_group: tuple[SweepService, str, list[dict[str, Any]], MemoryStateStore],
) -> None:
    service, group, received, state = swept_group
    assert service.lookup is not None
    client, stub = stubbed_cloudtrail()
    record = ingress_record(group, time="2026-11-30T02:07:41Z", who="alice", event_id="e-1")
    stub.add_response(
        "lookup_events",
        {"Events": [history_entry(record)]},
        {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": group}],
            "StartTime": NOW - timedelta(days=90),
            "EndTime": NOW,
            "MaxResults": 50,
        },
    )
    asked: list[str] = []

    class History:
        """The stubbed client for our group; moto's default group (unmanaged here, new
        drift too) gets CloudTrail's empty answer."""

        def lookup_events(self, **params: Any) -> dict[str, Any]:
            name = params["LookupAttributes"][0]["AttributeValue"]
            asked.append(name)
            answer: dict[str, Any] = client.lookup_events(**params) if name == group else {}
            return {"Events": [], **answer}

    service.lookup = CloudTrailLookup(lambda account, region: History(), sleep=lambda _: None)
    with stub:
        sweep_in_process(service)
        stub.assert_no_pending_responses()
        (alert,) = [r for r in received if r.get("id") == group]
        digest = [r for r in received if r.get("type") == "sweep_digest"][-1]
        assert alert["actor"]["source"] == "lookup"
        assert alert["actor"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
        assert alert["actor"]["event_id"] == "e-1"
        assert "(probably:" in alert["text"]
        assert "CloudTrail event: e-1" in alert["text"]
        (item,) = [i for i in digest["new_drift"] if i.get("id") == group]
        assert item["who"].startswith(f"probably arn:aws:iam::{ACCOUNT}:user/alice")
        assert "AuthorizeSecurityGroupIngress at 2026-11-30T02:07:41Z" in digest["text"]
        remembered = state.get(
            record_key(Finding(SG, group, "web", ACCOUNT, REGION, Status.DRIFTED))
        )
        assert remembered is not None
        assert remembered.last_actors == (f"arn:aws:iam::{ACCOUNT}:user/alice",)

        # the next sweep finds the same drift: no second lookup (the Stubber has no
        # response left and would fail the call), no second alert
        sweep_in_process(service)
    assert sorted(asked).count(group) == 1  # one lookup per new drift, never per sweep
    assert len(asked) == 2  # the default group's, once too
    assert [r for r in received if r.get("id") == group] == [alert]
