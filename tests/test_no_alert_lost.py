"""No alert is lost to an exception nobody expected (issue 13 item 2).

Each case once raised outside DeliveryError after the state had claimed the alert:
nothing released the claim, so every later event and sweep deduplicated it and chat
never heard. Each runs the real event path (moto for EC2, SQS and SSM, the fake chat
server for chat) and ends with the alert in chat: at once, or from the outbox once the
broken input is fixed.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from chalicelib.alerting import Delivery, EventOutcome, deliver
from chalicelib.errors import DeliveryError
from chalicelib.events.record import parse_payload
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.notify.delivery import (
    JsonWebhookNotifier,
    SlackWebhookNotifier,
    SsmWebhookNotifier,
    secret_from_ssm,
)
from chalicelib.notify.outbox import SqsOutbox
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.runtime import Runtime
from chalicelib.state import MemoryStateStore, record_key
from chalicelib.sweep.digest import merge_digest
from chalicelib.sweep.post import post_digest
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.notify.test_outbox import bodies, lambda_poll, make_queues
from tests.state.helpers import OPEN_22, drifted
from tests.state.world import ec2_event, make_runtime, specs

URL_PARAM = "/setpoint/test/chat-url"
TOKEN_PARAM = "/setpoint/test/slack-token"
TOKEN = "xoxb-1111-2222-lost-token-secret"


@pytest.fixture
def ssm(aws: None) -> Any:
    parameters.clear_caches()  # Powertools keeps values (and a client) per process
    yield boto3.client("ssm", region_name=REGION)
    parameters.clear_caches()


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def stray_group_event(user_agent: str | None = None) -> dict[str, Any]:
    """A group made by hand (unmanaged: alerted), as CloudTrail delivers its creation."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="stray", Description="by hand", VpcId=vpc)
    event = ec2_event(
        "CreateSecurityGroup",
        {"groupName": "stray", "groupDescription": "by hand", "vpcId": vpc},
        {"_return": True, "groupId": group["GroupId"]},
    )
    if user_agent is not None:
        event["detail"]["userAgent"] = user_agent
    return event


def with_outbox(runtime: Runtime, sqs: Any) -> str:
    url, _ = make_queues(sqs)
    runtime.outbox = SqsOutbox(sqs, url)
    return url


def test_a_lone_surrogate_in_the_user_agent_is_replaced_and_the_alert_posted(
    aws: None, chat_server: ChatServer
) -> None:
    runtime = make_runtime(chat_server.url, specs())
    event = stray_group_event(user_agent="aws-cli/2.17 \ud800 md/evil")

    outcome = handle_cloudtrail_event(event, runtime)

    assert (outcome.delivered, outcome.errors) == (1, [])
    [body] = chat_server.received
    assert "aws-cli/2.17 \ufffd md/evil" in body["text"]
    again = handle_cloudtrail_event(event, runtime)  # EventBridge delivers it again
    assert again.deduplicated == 1 and len(chat_server.received) == 1


def test_the_edge_joins_surrogate_pairs_and_replaces_lone_ones_everywhere() -> None:
    record = {
        "eventName": "AuthorizeSecurityGroupIngress",
        "userAgent": "a\udc00b",
        "requestParameters": {"groupId": "sg-1", "tags": [{"k\ud800": "\ud83d\ude00"}]},
    }
    [parsed] = parse_payload({"detail": record, "region": "eu-west-1\udfff"})
    assert parsed.user_agent == "a\ufffdb"
    assert parsed.request_parameters["tags"] == [{"k\ufffd": "\U0001f600"}]
    assert parsed.aws_region == "eu-west-1\ufffd"
    json.dumps(dict(parsed.raw), ensure_ascii=False).encode("utf-8")  # cannot fail now


def test_a_notifier_that_cannot_encode_parks_the_alert_instead_of_losing_it(
    chat_server: ChatServer, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Text that did not come through the edge (here: a name with a lone surrogate)
    still fails only that notifier: the alert waits in the outbox, a duplicate event
    does not post it twice, and the failure is logged as unexpected, with a traceback."""
    url, _ = make_queues(sqs)
    hook = JsonWebhookNotifier(chat_server.url, max_attempts=1)
    delivery = Delivery(MemoryStateStore(), (hook,), outbox=SqsOutbox(sqs, url))
    finding = drifted(OPEN_22, name="web\ud800")

    outcome = EventOutcome()
    deliver(delivery, [finding], outcome)

    assert (outcome.outboxed, outcome.delivered) == (1, 0)
    [parked] = bodies(sqs, url)
    assert parked["error"].startswith("UnicodeEncodeError: ")
    [record] = [r for r in caplog.records if r.getMessage() == "delivery_failed"]
    assert record.__dict__["failure"] == "unexpected" and record.exc_info is not None
    duplicate = EventOutcome()
    deliver(delivery, [finding], duplicate)
    assert duplicate.deduplicated == 1


def test_without_an_outbox_an_unexpected_failure_releases_the_claim(
    chat_server: ChatServer,
) -> None:
    state = MemoryStateStore()
    hook = JsonWebhookNotifier(chat_server.url, max_attempts=1)
    finding = drifted(OPEN_22, name="web\ud800")
    outcome = EventOutcome()
    with pytest.raises(DeliveryError, match="UnicodeEncodeError"):
        deliver(Delivery(state, (hook,)), [finding], outcome)
    assert state.get(record_key(finding)) is None  # Lambda's retry decides (and alerts) again
    assert outcome.errors[0].startswith("delivery_failed: UnicodeEncodeError")


def test_a_non_ascii_webhook_url_parks_the_alert_until_the_parameter_is_fixed(
    chat_server: ChatServer, ssm: Any, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken = chat_server.base + "/hook/caf\u00e9?sig=SIGsecret12345"
    ssm.put_parameter(Name=URL_PARAM, Value=broken, Type="SecureString")
    runtime = make_runtime(chat_server.url, specs())
    runtime.notifiers = [SsmWebhookNotifier(URL_PARAM, "json", max_attempts=1)]
    queue = with_outbox(runtime, sqs)
    event = stray_group_event()

    outcome = handle_cloudtrail_event(event, runtime)

    assert (outcome.outboxed, outcome.delivered) == (1, 0)
    assert chat_server.requests == []
    [parked] = bodies(sqs, queue)
    assert "non-ASCII character at position" in parked["error"]
    assert handle_cloudtrail_event(event, runtime).deduplicated == 1  # owed by the outbox
    for text in (logged(caplog), json.dumps(parked)):
        assert "SIGsecret12345" not in text and "caf" not in text

    ssm.put_parameter(Name=URL_PARAM, Value=chat_server.url, Type="SecureString", Overwrite=True)
    assert lambda_poll(sqs, queue, runtime.delivery()) == {"batchItemFailures": []}
    [body] = chat_server.received
    assert (
        body["alert"]["kind"] == "new"
        and body["id"] == event["detail"]["responseElements"]["groupId"]
    )


def test_a_bot_token_with_a_newline_parks_the_alert_until_the_token_is_fixed(
    chat_server: ChatServer, ssm: Any, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    ssm.put_parameter(Name=TOKEN_PARAM, Value=f"{TOKEN}\nxoxb-pasted-twice", Type="SecureString")
    bot = SlackBotNotifier(
        lambda force: secret_from_ssm(TOKEN_PARAM, "Slack bot token", force=force),
        "C0OPS",
        api_base=chat_server.base + "/api",
        max_attempts=1,
    )
    runtime = make_runtime(chat_server.url, specs())
    runtime.notifiers = [bot]
    queue = with_outbox(runtime, sqs)
    event = stray_group_event()

    outcome = handle_cloudtrail_event(event, runtime)

    assert (outcome.outboxed, outcome.delivered) == (1, 0)
    assert chat_server.requests == []
    [parked] = bodies(sqs, queue)
    assert "token holds a line break at position" in parked["error"]
    assert handle_cloudtrail_event(event, runtime).deduplicated == 1
    for text in (logged(caplog), json.dumps(parked), *outcome.errors):
        assert "lost-token-secret" not in text and "pasted-twice" not in text

    ssm.put_parameter(Name=TOKEN_PARAM, Value=TOKEN, Type="SecureString", Overwrite=True)
    chat_server.default = {"ok": True, "ts": "1795711503.000001"}
    assert lambda_poll(sqs, queue, runtime.delivery()) == {"batchItemFailures": []}
    [request] = chat_server.requests
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["body"]["channel"] == "C0OPS"


def test_a_digest_notifier_that_raises_does_not_stop_the_next(chat_server: ChatServer) -> None:
    """A digest line nobody made encodable (here a dead letter's reason with a lone
    surrogate) breaks the JSON webhook; the Slack-format one after it still posts."""
    digest = merge_digest("run-1", [], failed_deliveries=["sg-1 new alert: HTTP 500 \ud800"])
    json_hook = JsonWebhookNotifier(chat_server.url, max_attempts=1)
    slack_hook = SlackWebhookNotifier(chat_server.base + "/slack", max_attempts=1)

    posted = post_digest([json_hook, slack_hook], digest)

    assert posted.heard == 1 and len(chat_server.received) == 1
    [error] = posted.errors
    assert error.startswith("UnicodeEncodeError: ")
