"""Delivery that loses nothing: a flaky chat, a long outage, the outbox and its dead letters.

A real local HTTP server plays the chat; moto plays SQS (the outbox, its dead-letter
queue and the redrive between them) and DynamoDB (the alert state).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.alerting import Delivery, EventOutcome, deliver, target_label
from chalicelib.errors import DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import MessageRef
from chalicelib.notify.delivery import JsonWebhookNotifier
from chalicelib.notify.outbox import SqsOutbox, dead_letters
from chalicelib.notify.routing import RoutedNotifier
from chalicelib.notify.slack_bot import SlackBotNotifier
from chalicelib.ports import Notifier
from chalicelib.state import (
    ATTRIBUTE_DEFINITIONS,
    KEY_SCHEMA,
    DynamoStateStore,
    StateStore,
    record_key,
)
from tests.chat_server import ChatServer, Reply
from tests.conftest import REGION
from tests.notify.test_outbox import lambda_poll, make_queues
from tests.sleeps import Sleeps
from tests.state.helpers import OPEN_22, OPEN_3389, drifted, in_sync

T0 = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
SECRET_PATH = "/services/T0SECRET/B0SECRET/xyzzy-webhook-secret"
BOT_TOKEN = "xoxb-1111-2222-bot-token-secret"


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def state(aws: None) -> StateStore:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="setpoint-state-test",
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoStateStore("setpoint-state-test", client)


def webhook(chat: ChatServer, sleeps: Sleeps | None = None, **options: Any) -> JsonWebhookNotifier:
    return JsonWebhookNotifier(
        chat.base + SECRET_PATH,
        sleep=sleeps if sleeps is not None else Sleeps(),
        jitter=lambda: 0.0,
        **({"timeout": 2} | options),
    )


def delivery_with(
    notifiers: Sequence[Notifier], state: StateStore, outbox: SqsOutbox | None = None
) -> Delivery:
    return Delivery(state, tuple(notifiers), clock=lambda: T0, outbox=outbox)


def alert_ids(chat: ChatServer) -> list[str | None]:
    return [body["id"] for body in chat.received]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line with its extra fields (where errors and ids go)."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def test_a_flaky_webhook_gets_each_alert_exactly_once(
    chat_server: ChatServer, state: StateStore
) -> None:
    """500, then 429 with Retry-After, then a timeout, then 200; the next alert goes
    straight through. Only answers of 200 count as received: what chat shows."""
    chat_server.script = [Reply(500), Reply(429, headers={"Retry-After": "7"}), Reply(hang=True)]
    sleeps = Sleeps()
    # a short timeout: the hung answer costs the test a fraction of a second, not two
    delivery = delivery_with([webhook(chat_server, sleeps, timeout=0.3)], state)
    findings = [drifted(OPEN_22), drifted(OPEN_3389, id="sg-0def", name="db")]

    outcome = EventOutcome()
    deliver(delivery, findings, outcome)

    assert alert_ids(chat_server) == ["sg-0abc", "sg-0def"]
    assert chat_server.attempts == 5
    assert 7.0 in sleeps  # Retry-After honoured
    assert (outcome.delivered, outcome.errors, outcome.outboxed) == (2, [], 0)

    again = EventOutcome()
    deliver(delivery, findings, again)  # the same events again: a duplicate delivery
    assert len(chat_server.received) == 2
    assert again.deduplicated == 2


def test_a_long_outage_parks_the_alert_and_the_recovery_posts_it_once(
    chat_server: ChatServer, state: StateStore, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url, dlq = make_queues(sqs)
    chat_server.up = False
    notifier = webhook(chat_server, max_attempts=3)
    delivery = delivery_with([notifier], state, SqsOutbox(sqs, url))
    finding = drifted(OPEN_22)

    outcome = EventOutcome()
    deliver(delivery, [finding], outcome)  # no DeliveryError: the outbox has it

    assert chat_server.received == []
    assert (outcome.outboxed, outcome.delivered, outcome.errors) == (1, 0, [])
    assert outcome.as_log()["outboxed"] == 1
    record = state.get(record_key(finding))
    assert record is not None and record.messages == ()  # the decision stands

    duplicate = EventOutcome()
    deliver(delivery, [finding], duplicate)  # EventBridge delivers the event again
    assert (duplicate.deduplicated, duplicate.outboxed) == (1, 0)

    still_down = lambda_poll(sqs, url, delivery)
    assert len(still_down["batchItemFailures"]) == 1
    assert chat_server.received == []

    chat_server.up = True
    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}
    assert alert_ids(chat_server) == ["sg-0abc"]
    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}  # nothing left
    assert len(chat_server.received) == 1

    record = state.get(record_key(finding))
    ref = chat_server.received[0]["alert"]["id"]
    assert record is not None and record.messages == (MessageRef(notifier.name, ref),)

    deliver(delivery, [in_sync(actor=None)], EventOutcome())  # the fix
    assert [b["alert"]["kind"] for b in chat_server.received] == ["new", "back_to_normal"]
    assert chat_server.received[1]["alert"]["re"] == ref  # cites the alert the outbox posted
    assert dead_letters(sqs, dlq).count == 0
    assert SECRET_PATH not in logged(caplog)


def test_an_alert_that_never_gets_through_ends_in_the_dead_letter_queue(
    chat_server: ChatServer, state: StateStore, sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Two notifiers, both down for good: a webhook and a Slack bot, each with a secret."""
    url, dlq = make_queues(sqs, max_receives=5)
    chat_server.up = False
    bot = SlackBotNotifier(
        BOT_TOKEN, "C0OPS", api_base=chat_server.base + "/api", sleep=Sleeps(), max_attempts=2
    )
    routed = RoutedNotifier([], [webhook(chat_server, max_attempts=2), bot])
    delivery = delivery_with([routed], state, SqsOutbox(sqs, url, clock=lambda: T0))

    outcome = EventOutcome()
    deliver(delivery, [drifted(OPEN_22)], outcome)
    assert outcome.outboxed == 1

    # Lambda's poller: five receives, each a failed record, then SQS's redrive moves it
    failures = [lambda_poll(sqs, url, delivery)["batchItemFailures"] for _ in range(5)]
    assert [len(f) for f in failures] == [1] * 5
    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}  # nothing left
    assert chat_server.received == []
    [dead] = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
    body = dead["Body"]  # as written to the outbox: SQS moves it unchanged

    report = dead_letters(sqs, dlq)
    assert report.count == 1
    [letter] = report.letters
    assert (letter.resource, letter.alert_kind, letter.failed_at) == (
        "sg-0abc",
        "new",
        T0.isoformat(),
    )
    assert set(letter.targets) == {target_label(n) for n in routed.default}
    assert "127.0.0.1" in letter.error and "HTTP 503" in letter.error

    for text in (body, logged(caplog), letter.error):
        assert SECRET_PATH not in text and "xyzzy" not in text
        assert BOT_TOKEN not in text and "bot-token-secret" not in text


def test_only_the_notifier_that_failed_gets_the_retry(
    chat_server: ChatServer, state: StateStore, sqs: Any, down_url: str
) -> None:
    url, _ = make_queues(sqs)
    ops = webhook(chat_server, name="ops")
    web = JsonWebhookNotifier(down_url, max_attempts=1, name="web")
    delivery = delivery_with([RoutedNotifier([], [ops, web])], state, SqsOutbox(sqs, url))
    finding = drifted(OPEN_22)

    outcome = EventOutcome()
    deliver(delivery, [finding], outcome)
    assert (outcome.delivered, outcome.outboxed) == (1, 1)
    [parked] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    assert json.loads(parked["Body"])["targets"] == ["web"]
    record = state.get(record_key(finding))
    assert record is not None and [m.notifier for m in record.messages] == ["ops"]

    # "web" comes back (at the chat server now); "ops" must not hear the alert twice
    moved = webhook(chat_server, name="web")
    delivery = dataclasses.replace(delivery, notifiers=(RoutedNotifier([], [ops, moved]),))
    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}
    assert len(chat_server.received) == 2  # ops once (the first time), web once (the retry)
    record = state.get(record_key(finding))
    assert record is not None and [m.notifier for m in record.messages] == ["ops", "web"]


def test_when_the_outbox_refuses_the_event_fails_and_the_claim_is_released(
    chat_server: ChatServer, state: StateStore, sqs: Any
) -> None:
    chat_server.up = False
    gone = SqsOutbox(sqs, f"https://sqs.{REGION}.amazonaws.com/123456789012/no-such-queue")
    delivery = delivery_with([webhook(chat_server, max_attempts=1)], state, gone)
    finding = drifted(OPEN_22)
    outcome = EventOutcome()
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1"):
        deliver(delivery, [finding], outcome)
    assert any(e.startswith("outbox_failed: ") for e in outcome.errors)
    assert state.get(record_key(finding)) is None  # Lambda's retry will alert again
    assert outcome.outboxed == 0


def test_without_an_outbox_a_failed_alert_fails_the_event_as_before(
    chat_server: ChatServer, state: StateStore
) -> None:
    chat_server.up = False
    delivery = delivery_with([webhook(chat_server, max_attempts=1)], state)
    finding: Finding = drifted(OPEN_22)
    outcome = EventOutcome()
    with pytest.raises(DeliveryError):
        deliver(delivery, [finding], outcome)
    assert state.get(record_key(finding)) is None
    assert outcome.errors and outcome.errors[0].startswith("delivery_failed: ")

    swept = EventOutcome()
    deliver(delivery, [finding], swept, cause="sweep", raise_on_failure=False)
    assert swept.errors and state.get(record_key(finding)) is None
