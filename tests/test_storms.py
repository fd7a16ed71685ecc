"""Alert storms (issue 13 item 5), through the real event handler on moto.

Measured before the fix: 55 rule changes on one group gave 1 alert + 54 "changed" posts,
and 300 new groups gave 300 posts. Chat is the shared fake chat server (a JSON webhook,
or Slack's Web API for the bot); the clock is the test's own.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.notify.delivery import notifier_for
from chalicelib.notify.quiet import QuietSettings
from chalicelib.notify.routing import RoutedNotifier
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.recheck import SqsRecheckQueue, handle_recheck_batch
from chalicelib.state import DynamoStateStore, MemoryStateStore, StateStore
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.sleeps import Sleeps
from tests.state.world import (
    TABLE,
    Clock,
    RecordingQueue,
    authorize,
    ec2_event,
    make_runtime,
    specs,
    sqs_records,
    state_table,
)

WEB_SPEC = (
    "policies/web.yaml",
    "kind: security_group\nname: web\ndescription: Web\ningress:\n"
    "  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n",
)
CHANGES = 55
WINDOW = 300


def _store(kind: str) -> StateStore:
    if kind == "memory":
        return MemoryStateStore()
    return DynamoStateStore(TABLE, state_table())


def _web_group(ec2: Any) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="Web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0"
    )
    return group


def _storm_of_changes(ec2: Any, runtime: Any, clock: Clock, group: str) -> None:
    """55 rule changes a second apart, each reaching the handler as CloudTrail sends it
    (private CIDRs: nothing here opens the group to the world)."""
    for n in range(CHANGES):
        clock.advance(1)
        port = 8000 + n
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="10.0.0.0/8"
        )
        handle_cloudtrail_event(authorize(group, port, "10.0.0.0/8"), runtime)


def _revoke_all(ec2: Any, runtime: Any, group: str) -> None:
    for n in range(CHANGES):
        port = 8000 + n
        ec2.revoke_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="10.0.0.0/8"
        )
    revoke = ec2_event(
        "RevokeSecurityGroupIngress", {"groupId": group}, {"_return": True}
    )  # one record is enough: the group is re-read whole
    handle_cloudtrail_event(revoke, runtime)


@pytest.fixture
def queue(aws: None) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs, sqs.create_queue(QueueName="setpoint-recheck")["QueueUrl"]


def test_without_coalescing_55_changes_were_55_posts(ec2: Any, chat_server: ChatServer) -> None:
    """The measurement, kept as the baseline: coalescing off is the old behaviour."""
    clock = Clock()
    runtime = make_runtime(chat_server.url, specs(WEB_SPEC), clock=clock)
    group = _web_group(ec2)
    _storm_of_changes(ec2, runtime, clock, group)
    assert chat_server.alerts() == ["new:drifted"] + ["changed:drifted"] * (CHANGES - 1)


@pytest.mark.parametrize("store", ["memory", "dynamodb"])
def test_55_changes_on_one_group_are_one_alert_and_one_follow_up(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer, store: str
) -> None:
    sqs, url = queue
    clock = Clock()
    scheduled = RecordingQueue(SqsRecheckQueue(sqs, url))
    runtime = make_runtime(
        chat_server.url, specs(WEB_SPEC), state=_store(store), recheck=scheduled, clock=clock
    )
    runtime.quiet = QuietSettings(coalesce_seconds=WINDOW, storm_limit=0)
    group = _web_group(ec2)

    _storm_of_changes(ec2, runtime, clock, group)
    assert chat_server.alerts() == ["new:drifted"]  # the other 54 were folded, not posted
    # the first fold asked for a read when the window ends (1 s in, 300 s window)
    assert scheduled.delays == [WINDOW - 1 + 1]

    clock.advance(WINDOW)
    records = sqs_records(sqs, url)
    assert handle_recheck_batch(records, runtime, runtime.delivery()) == {"batchItemFailures": []}
    assert chat_server.alerts() == ["new:drifted", "changed:drifted"]
    follow_up = chat_server.received[1]
    assert "54 further changes since the last message" in follow_up["headline"]
    # it shows the drift as it is now: every one of the 55 rules, and what was new
    assert len(follow_up["changes"]) == CHANGES
    assert len(follow_up["alert"]["new_changes"]) == CHANGES - 1
    assert follow_up["alert"]["re"] == chat_server.received[0]["alert"]["id"]

    # read again (a retried re-check, a duplicate event, the sweep): nothing more
    handle_recheck_batch(records, runtime, runtime.delivery())
    handle_cloudtrail_event(authorize(group, 8000, "10.0.0.0/8"), runtime)
    assert len(chat_server.received) == 2

    clock.advance(60)
    _revoke_all(ec2, runtime, group)
    assert chat_server.alerts()[2:] == ["back_to_normal:in_sync"]  # once, after the storm


def test_the_slack_bot_edits_its_alert_in_place(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer
) -> None:
    sqs, url = queue
    chat_server.default = lambda n: {"ok": True, "channel": "C0WEB", "ts": f"1700000000.{n:06d}"}
    clock = Clock()
    runtime = make_runtime(
        chat_server.url, specs(WEB_SPEC), recheck=RecordingQueue(SqsRecheckQueue(sqs, url))
    )
    runtime.clock = clock
    runtime.notifiers = [
        SlackBotNotifier("xoxb-test", "C0WEB", api_base=f"{chat_server.base}/api", sleep=Sleeps())
    ]
    runtime.quiet = QuietSettings(coalesce_seconds=WINDOW, storm_limit=0)
    group = _web_group(ec2)

    _storm_of_changes(ec2, runtime, clock, group)
    paths = [r["path"] for r in chat_server.requests]
    assert paths == ["/api/chat.postMessage"] + ["/api/chat.update"] * (CHANGES - 1)
    first_ts = "1700000000.000001"
    last = chat_server.requests[-1]["body"]
    assert last["ts"] == first_ts and last["channel"] == "C0WEB"
    assert "thread_ts" not in last
    assert last["text"].startswith("Drift: security group web")  # still the alert itself
    assert "54 further changes since the last message" in last["text"]
    blocks = str(last["blocks"])
    assert "54 further changes since the last message" in blocks
    assert "tcp/8054" in blocks  # the drift as it is after the last change

    # the window ends: every message was edited, so nothing more is owed
    clock.advance(WINDOW)
    handle_recheck_batch(sqs_records(sqs, url), runtime, runtime.delivery())
    assert len(chat_server.requests) == CHANGES

    _revoke_all(ec2, runtime, group)
    back = chat_server.requests[-1]["body"]
    assert chat_server.requests[-1]["path"] == "/api/chat.postMessage"
    assert back["thread_ts"] == first_ts and back["reply_broadcast"] is True
    assert back["text"].startswith("Back to normal")


def _new_group(ec2: Any, vpc: str, n: int, world_open: bool) -> dict[str, Any]:
    name = f"stray-{n}"
    group = ec2.create_security_group(GroupName=name, Description="by hand", VpcId=vpc)["GroupId"]
    if world_open:
        ec2.authorize_security_group_ingress(
            GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
        )
    return ec2_event(
        "CreateSecurityGroup",
        {"groupName": name, "groupDescription": "by hand", "vpcId": vpc},
        {"_return": True, "groupId": group},
    )


def test_300_new_groups_are_a_summary_plus_the_critical_ones(
    ec2: Any, chat_server: ChatServer
) -> None:
    clock = Clock()
    runtime = make_runtime(chat_server.url, specs(), clock=clock)
    runtime.quiet = QuietSettings(
        coalesce_seconds=WINDOW, storm_limit=20, report_url="https://reports.example/latest"
    )
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    critical = {n for n in range(300) if n % 60 == 59}  # 5 open SSH to the world
    for n in range(300):
        handle_cloudtrail_event(_new_group(ec2, vpc, n, n in critical), runtime)
        if n % 20 == 0:
            clock.advance(0.1)  # all within one minute
    alerts = [m for m in chat_server.received if "alert" in m]
    notices = [m for m in chat_server.received if m.get("notice") == "alert_storm"]
    assert len(alerts) == 20 + len(critical)
    opened = [m for m in alerts if any(c["world_open"] for c in m["changes"])]
    assert len(opened) == len(critical)  # every critical one went out on its own
    (summary,) = notices  # posted once the cap was passed, not once per group
    assert "https://reports.example/latest" in summary["text"]

    # the minute ends; the next delivery closes the storm with the exact counts, once
    clock.advance(60)
    handle_cloudtrail_event(ec2_event("CreateTags", {"resourcesSet": {}}), runtime)
    handle_cloudtrail_event(_new_group(ec2, vpc, 300, False), runtime)
    notices = [m for m in chat_server.received if m.get("notice") == "alert_storm"]
    assert len(notices) == 2
    final = notices[1]["text"]
    assert final.startswith("Alert storm over: 295 new alerts")
    assert "275 more are summarised" in final
    assert "security group: 275" in final
    # the 301st group, in a quiet minute, is posted as usual
    assert chat_server.received[-1]["alert"]["kind"] == "new"


def test_a_change_that_opens_the_group_to_the_world_is_never_folded(
    ec2: Any, chat_server: ChatServer
) -> None:
    clock = Clock()
    runtime = make_runtime(chat_server.url, specs(WEB_SPEC), clock=clock)
    runtime.quiet = QuietSettings(coalesce_seconds=WINDOW, storm_limit=0)
    group = _web_group(ec2)
    _storm_of_changes(ec2, runtime, clock, group)
    clock.advance(1)
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    handle_cloudtrail_event(authorize(group, 22), runtime)
    assert chat_server.alerts() == ["new:drifted", "changed:drifted"]
    opened = chat_server.received[1]
    assert "54 further changes" not in opened["headline"]  # posted at once, as it is
    assert any(c["world_open"] for c in opened["alert"]["new_changes"])


def test_a_follow_up_chat_refused_is_owed_again_and_posted_once(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer
) -> None:
    sqs, url = queue
    clock = Clock()
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        recheck=RecordingQueue(SqsRecheckQueue(sqs, url)),
        clock=clock,
    )
    runtime.quiet = QuietSettings(coalesce_seconds=WINDOW, storm_limit=0)
    group = _web_group(ec2)
    _storm_of_changes(ec2, runtime, clock, group)
    clock.advance(WINDOW)
    records = sqs_records(sqs, url)
    chat_server.fail_first(1, 503)
    with pytest.raises(BatchProcessingError):  # SQS delivers the re-check again
        handle_recheck_batch(records, runtime, runtime.delivery())
    assert chat_server.alerts() == ["new:drifted"]
    handle_recheck_batch(records, runtime, runtime.delivery())  # the retry
    handle_recheck_batch(records, runtime, runtime.delivery())  # and a duplicate of it
    assert chat_server.alerts() == ["new:drifted", "changed:drifted"]
    assert "54 further changes" in chat_server.received[1]["headline"]


def test_with_a_bot_and_a_webhook_only_the_webhook_gets_the_follow_up(
    ec2: Any, queue: tuple[Any, str], chat_server: ChatServer
) -> None:
    sqs, url = queue
    chat_server.default = lambda n: {"ok": True, "channel": "C0WEB", "ts": f"1700000000.{n:06d}"}
    clock = Clock()
    runtime = make_runtime(
        chat_server.url,
        specs(WEB_SPEC),
        recheck=RecordingQueue(SqsRecheckQueue(sqs, url)),
        clock=clock,
    )
    bot = SlackBotNotifier("xoxb-test", "C0WEB", api_base=f"{chat_server.base}/api", sleep=Sleeps())
    hook = notifier_for(chat_server.url, "json", sleep=lambda _: None, max_attempts=1)
    runtime.notifiers = [RoutedNotifier([], [bot, hook])]
    runtime.quiet = QuietSettings(coalesce_seconds=WINDOW, storm_limit=0)
    group = _web_group(ec2)
    _storm_of_changes(ec2, runtime, clock, group)
    clock.advance(WINDOW)
    handle_recheck_batch(sqs_records(sqs, url), runtime, runtime.delivery())

    paths = [r["path"] for r in chat_server.requests]
    assert paths.count("/api/chat.postMessage") == 1
    assert paths.count("/api/chat.update") == CHANGES - 1
    hooked = [r["body"] for r in chat_server.requests if r["path"] == "/hook"]
    assert [m["alert"]["kind"] for m in hooked] == ["new", "changed"]
    assert "54 further changes" in hooked[1]["headline"]
