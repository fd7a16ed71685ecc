"""The SQS outbox: parking alerts, posting them again in batches, and the dead letters."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.alerting import Delivery
from chalicelib.aws import ClientCache
from chalicelib.errors import DeliveryError
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.delivery import JsonWebhookNotifier, SsmWebhookNotifier
from chalicelib.notify.outbox import (
    DeadLetterReport,
    OutboxMessage,
    SqsOutbox,
    dead_letters,
    handle_outbox_batch,
    outbox_from_env,
    queue_region,
    remember_thread,
)
from chalicelib.notify.routing import RoutedNotifier
from chalicelib.ports import Notifier
from chalicelib.scrub import scrub
from chalicelib.state import MemoryStateStore, StateStore, apply_finding, record_key
from tests.chat_server import ChatServer, Reply
from tests.conftest import REGION
from tests.state.helpers import OPEN_22, OPEN_3389, T0, drifted, in_sync, unknown

T1 = datetime(2025, 3, 1, 9, 5, tzinfo=UTC)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line with its extra fields (where errors and ids go)."""
    return "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


def delivery_with(
    notifiers: Sequence[Notifier],
    state: StateStore | None = None,
    outbox: SqsOutbox | None = None,
) -> Delivery:
    return Delivery(state or MemoryStateStore(), tuple(notifiers), outbox=outbox)


def make_queues(sqs: Any, name: str = "setpoint-outbox", max_receives: int = 5) -> tuple[str, str]:
    """The outbox and its DLQ, with the redrive the infrastructure sets."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})
    url = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return url, dlq


def lambda_poll(sqs: Any, queue_url: str, delivery: Delivery) -> dict[str, Any]:
    """What Lambda's SQS event source mapping does, with ReportBatchItemFailures on:
    receive a batch, invoke the function, delete the records it did not report failed.

    The receive uses VisibilityTimeout=0 so a failed record is visible again at once
    (Lambda waits out the queue's visibility timeout; the tests need not). moto applies
    the queue's redrive policy on receive, as SQS does: the receive after the fifth moves
    the message to the dead-letter queue.
    """
    answer = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=0,
        MessageSystemAttributeNames=["All"],
    )
    messages = answer.get("Messages", [])
    event = {"Records": [lambda_record(m, queue_url) for m in messages]}
    response = handle_outbox_batch(event, delivery)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response


def lambda_record(message: dict[str, Any], queue_url: str) -> dict[str, Any]:
    name = queue_url.rsplit("/", 1)[1]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{name}",
        "awsRegion": REGION,
    }


def bodies(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message in the queue, left in it."""
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def hook(server: ChatServer, name: str) -> JsonWebhookNotifier:
    """One attempt per post, so each scripted answer is one delivery attempt."""
    return JsonWebhookNotifier(f"{server.base}/hooks/{name}/s3cr3t", max_attempts=1, name=name)


def new_alert(state: StateStore) -> Alert:
    """A first alert, claimed in state as `deliver` claims it."""
    decision = apply_finding(state, drifted(OPEN_22), now=T0, cause="event", reminder=None)
    assert decision.alert is not None
    return decision.alert


def test_put_parks_the_alert_with_its_targets_and_first_error(sqs: Any) -> None:
    url, _ = make_queues(sqs)
    alert = new_alert(MemoryStateStore())
    SqsOutbox(sqs, url, clock=lambda: T0).put(alert, "HTTP 503", ["ops", "web"])
    [body] = bodies(sqs, url)
    assert body["format_version"] == "1"
    assert (body["targets"], body["error"], body["failed_at"]) == (
        ["ops", "web"],
        "HTTP 503",
        "2025-03-01T09:00:00+00:00",
    )
    assert OutboxMessage.from_json(json.dumps(body)).alert == alert


def test_put_keeps_secrets_out_of_the_body(sqs: Any) -> None:
    url, _ = make_queues(sqs)
    error = (
        "could not deliver to https://hooks.slack.com/services/T0/B0/s3cr3t: HTTP 500; "
        "Authorization: Bearer xoxb-1234-abcd"
    )
    SqsOutbox(sqs, url).put(new_alert(MemoryStateStore()), error, ["ops"])
    [body] = bodies(sqs, url)
    assert "s3cr3t" not in json.dumps(body) and "xoxb-1234" not in json.dumps(body)
    assert "hooks.slack.com" in body["error"]  # the host stays: it says where it failed


def test_put_to_a_queue_that_is_not_there_is_a_delivery_error(sqs: Any) -> None:
    outbox = SqsOutbox(sqs, f"https://sqs.{REGION}.amazonaws.com/123456789012/gone")
    with pytest.raises(DeliveryError, match="the outbox queue refused the alert"):
        outbox.put(new_alert(MemoryStateStore()), "HTTP 500", ["ops"])


def test_a_retry_posts_to_the_failed_targets_only_and_remembers_the_thread(
    sqs: Any, server: ChatServer
) -> None:
    url, _ = make_queues(sqs)
    state = MemoryStateStore()
    alert = new_alert(state)
    ops, web = hook(server, "ops"), hook(server, "web")
    routed = RoutedNotifier([], [ops, web])
    outbox = SqsOutbox(sqs, url)
    outbox.put(alert, "web: HTTP 503", ["web"])

    response = lambda_poll(sqs, url, delivery_with([routed], state, outbox))

    assert response == {"batchItemFailures": []}
    assert [r["path"] for r in server.requests] == ["/hooks/web/s3cr3t"]
    sent_ref = server.requests[0]["body"]["alert"]["id"]
    record = state.get(record_key(alert.finding))
    assert record is not None and record.messages == (MessageRef("web", sent_ref),)
    assert bodies(sqs, url) == []


def test_a_retry_that_fails_again_is_reported_and_stays_queued(
    sqs: Any, server: ChatServer
) -> None:
    url, _ = make_queues(sqs)
    state = MemoryStateStore()
    alert = new_alert(state)
    server.script = [Reply(503)]
    outbox = SqsOutbox(sqs, url)
    outbox.put(alert, "HTTP 503", ["ops"])
    [queued] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]

    response = lambda_poll(sqs, url, delivery_with([hook(server, "ops")], state, outbox))

    assert response == {"batchItemFailures": [{"itemIdentifier": queued["MessageId"]}]}
    assert len(bodies(sqs, url)) == 1
    record = state.get(record_key(alert.finding))
    assert record is not None and record.messages == ()


def test_a_half_successful_retry_parks_the_rest_and_posts_nobody_twice(
    sqs: Any, server: ChatServer
) -> None:
    url, _ = make_queues(sqs)
    state = MemoryStateStore()
    alert = new_alert(state)
    ops, web = hook(server, "ops"), hook(server, "web")
    outbox = SqsOutbox(sqs, url, clock=lambda: T0)
    outbox.put(alert, "first failure", ["ops", "web"])
    server.script = [Reply(200), Reply(503)]  # ops recovers, web is still down
    delivery = delivery_with([RoutedNotifier([], [ops, web])], state, outbox)

    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}
    [requeued] = bodies(sqs, url)
    assert requeued["targets"] == ["web"]
    assert (requeued["error"], requeued["failed_at"]) == ("first failure", T0.isoformat())

    assert lambda_poll(sqs, url, delivery) == {"batchItemFailures": []}  # web is back
    paths = [r["path"] for r in server.requests]
    assert paths == ["/hooks/ops/s3cr3t", "/hooks/web/s3cr3t", "/hooks/web/s3cr3t"]
    record = state.get(record_key(alert.finding))
    assert record is not None and [m.notifier for m in record.messages] == ["ops", "web"]


def test_a_target_no_longer_configured_fails_the_record_saying_so(
    sqs: Any, server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = MemoryStateStore()  # the state the alert was decided in
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    outbox.put(new_alert(shared), "HTTP 503", ["teams-web"])
    response = lambda_poll(
        sqs, url, delivery_with([hook(server, "ops")], outbox=outbox, state=shared)
    )
    assert len(response["batchItemFailures"]) == 1
    assert server.requests == []
    assert "teams-web: no such notifier is configured now" in logged(caplog)


def test_an_ssm_webhook_is_retried_by_its_parameter_in_a_fresh_process(
    sqs: Any, server: ChatServer
) -> None:
    """The failing Lambda knew the URL (name `webhook:127.0.0.1`); the outbox Lambda has
    not read it yet. The parameter names the target in both."""
    shared = MemoryStateStore()  # the state the alert was decided in
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/setpoint/test/chat", Value=f"{server.base}/hooks/s3cr3t", Type="SecureString"
    )
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    outbox.put(new_alert(shared), "HTTP 503", ["ssm:/setpoint/test/chat"])
    fresh = SsmWebhookNotifier("/setpoint/test/chat", "json", max_attempts=1)
    assert lambda_poll(sqs, url, delivery_with([fresh], outbox=outbox, state=shared)) == {
        "batchItemFailures": []
    }
    assert len(server.requests) == 1


def test_a_malformed_body_fails_its_record_only(
    sqs: Any, server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = MemoryStateStore()  # the state the alert was decided in
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    sqs.send_message(QueueUrl=url, MessageBody='{"format_version": "9"}')
    outbox.put(new_alert(shared), "HTTP 503", ["ops"])
    response = lambda_poll(
        sqs, url, delivery_with([hook(server, "ops")], outbox=outbox, state=shared)
    )
    assert len(response["batchItemFailures"]) == 1
    assert len(server.requests) == 1
    assert "format_version: expected '1', got '9'" in logged(caplog)


def test_remember_thread_keeps_refs_already_stored() -> None:
    state = MemoryStateStore()
    alert = new_alert(state)
    key = record_key(alert.finding)
    record = state.get(key)
    assert record is not None
    first = MessageRef("ops", "1")
    state.put(dataclasses.replace(record, messages=(first,), version=2), expected_version=1)
    late = MessageRef("web", "2")
    assert remember_thread(state, alert, (late,)) == (first, late)
    assert remember_thread(state, alert, (late,)) == (first, late)  # a duplicate delivery


def test_remember_thread_leaves_a_drift_that_moved_on() -> None:
    state = MemoryStateStore()
    alert = new_alert(state)
    apply_finding(state, drifted(OPEN_22, OPEN_3389), now=T1, cause="event", reminder=None)
    assert remember_thread(state, alert, (MessageRef("ops", "1"),)) is None
    record = state.get(record_key(alert.finding))
    assert record is not None and record.messages == ()


def test_remember_thread_ignores_follow_ups() -> None:
    state = MemoryStateStore()
    new_alert(state)
    decision = apply_finding(state, in_sync(), now=T1, cause="event", reminder=None)
    assert decision.alert is not None and decision.alert.kind is AlertKind.BACK_TO_NORMAL
    assert remember_thread(state, decision.alert, (MessageRef("ops", "1"),)) is None


def test_dead_letters_counts_and_peeks_without_taking_them(sqs: Any) -> None:
    _, dlq = make_queues(sqs)
    state = MemoryStateStore()
    alert = new_alert(state)
    outbox = SqsOutbox(sqs, dlq, clock=lambda: T0)  # written straight to the DLQ here
    for _ in range(3):
        outbox.put(alert, "could not deliver to 127.0.0.1: HTTP 503", ["ops"])
    sqs.send_message(QueueUrl=dlq, MessageBody="garbage")

    report = dead_letters(sqs, dlq, limit=2, visibility_timeout=0)
    assert (report.count, len(report.letters), report.unseen) == (4, 2, 2)

    everything = dead_letters(sqs, dlq, visibility_timeout=0)
    assert everything.count == 4
    readable = [d for d in everything.letters if d.resource != "?"]
    assert len(readable) == 3
    letter = readable[0]
    assert (letter.resource, letter.resource_kind, letter.alert_kind) == (
        "sg-0abc",
        "security_group",
        "new",
    )
    assert (letter.error, letter.failed_at, letter.targets) == (
        "could not deliver to 127.0.0.1: HTTP 503",
        "2025-03-01T09:00:00+00:00",
        ("ops",),
    )
    [garbage] = [d for d in everything.letters if d.resource == "?"]
    assert garbage.error.startswith("unreadable: body is not JSON")
    assert garbage.failed_at is not None
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) == 4  # still there


def test_an_empty_dead_letter_queue_reports_nothing(sqs: Any) -> None:
    _, dlq = make_queues(sqs)
    assert dead_letters(sqs, dlq) == DeadLetterReport(count=0)


def test_outbox_from_env_reads_the_queue_url(aws: None) -> None:
    clients = ClientCache()
    assert outbox_from_env({}, clients) is None
    url = "https://sqs.us-west-2.amazonaws.com/123456789012/setpoint-outbox"
    outbox = outbox_from_env({"SETPOINT_OUTBOX_QUEUE_URL": url}, clients)
    assert outbox is not None and outbox.queue_url == url
    assert clients.client("sqs", "us-west-2") is outbox._sqs


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/q", "eu-west-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"),
        ("https://ap-south-1.queue.amazonaws.com/123456789012/q", "ap-south-1"),
        ("http://127.0.0.1:5000/123456789012/q", None),
    ],
)
def test_queue_region(url: str, region: str | None) -> None:
    assert queue_region(url) == region


def test_scrub_keeps_hosts_and_drops_paths_and_tokens() -> None:
    text = scrub(
        "posting to https://hooks.slack.com/services/T0/B0/XyZ failed; "
        "then https://x.webhook.office.com?sig=SECRET123 refused; "
        "token xoxb-123-456-abc rejected; header Bearer abc.def"
    )
    assert text == (
        "posting to https://hooks.slack.com/[redacted] failed; then "
        "https://x.webhook.office.com/[redacted] refused; token xoxb-[redacted] rejected; "
        "header Bearer [redacted]"
    )


def test_an_alert_for_every_notifier_is_reported_as_such(sqs: Any) -> None:
    """An unknown-status alert parked for all notifiers (no targets) is reported too."""
    _, dlq = make_queues(sqs)
    state = MemoryStateStore()
    decision = apply_finding(
        state,
        unknown("AccessDenied"),
        now=T0,
        cause="sweep",
        reminder=None,
    )
    assert decision.alert is not None
    SqsOutbox(sqs, dlq).put(decision.alert, "HTTP 500", ())
    [letter] = dead_letters(sqs, dlq, visibility_timeout=0).letters
    assert letter.targets == () and letter.alert_kind == "new"
    assert letter.resource == "sg-0abc"


def test_a_parked_alert_whose_drift_closed_meanwhile_is_not_posted_late(
    sqs: Any, server: ChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Chat down: the alert is parked; the drift is fixed and "back to normal" posted once
    chat is back. The late retry must not leave an open alert as the last word."""
    state = MemoryStateStore()
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    outbox.put(new_alert(state), "HTTP 503", ["ops"])
    fixed = apply_finding(state, in_sync(), now=T0, cause="event", reminder=None)
    assert fixed.alert is not None and fixed.alert.kind is AlertKind.BACK_TO_NORMAL
    response = lambda_poll(sqs, url, delivery_with([hook(server, "ops")], state, outbox))
    assert response == {"batchItemFailures": []}  # settled, not retried
    assert server.requests == []
    assert "outbox_stale" in logged(caplog)


def test_a_parked_alert_for_a_drift_that_changed_since_is_not_posted_late(
    sqs: Any, server: ChatServer
) -> None:
    state = MemoryStateStore()
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    outbox.put(new_alert(state), "HTTP 503", ["ops"])
    apply_finding(state, drifted(OPEN_22, OPEN_3389), now=T0, cause="event", reminder=None)
    lambda_poll(sqs, url, delivery_with([hook(server, "ops")], state, outbox))
    assert server.requests == []  # the CHANGED alert tells the current drift


def test_a_parked_alert_still_current_is_posted(sqs: Any, server: ChatServer) -> None:
    state = MemoryStateStore()
    url, _ = make_queues(sqs)
    outbox = SqsOutbox(sqs, url)
    outbox.put(new_alert(state), "HTTP 503", ["ops"])
    lambda_poll(sqs, url, delivery_with([hook(server, "ops")], state, outbox))
    assert len(server.requests) == 1
