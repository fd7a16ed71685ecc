"""Posting the digest through the notifiers a deployment has, and reading failed deliveries."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status
from chalicelib.notify import outbox
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.delivery import ConsoleNotifier, notifier_for
from chalicelib.notify.routing import Route, RoutedNotifier
from chalicelib.sweep.digest import merge_digest, summarize
from chalicelib.sweep.post import failed_delivery_lines, post_digest

DRIFT = Finding(SECURITY_GROUP, "sg-1", "web", "111111111111", "eu-west-1", Status.DRIFTED)
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
DIGEST = merge_digest("run-1", [summarize("s", [DRIFT], [], lambda _: "2026-11-01T00:00:00")])


def test_slack_and_console_each_get_the_digest_once_through_a_routed_set(
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    slack = notifier_for(url, "slack", sleep=lambda _: None)
    stream = io.StringIO()
    console = ConsoleNotifier(stream)
    routed = RoutedNotifier([Route([slack], kinds=frozenset({"s3_bucket"}))], default=[slack])
    result = post_digest([routed, console], DIGEST)
    assert (result.errors, result.heard) == ([], 2)
    (posted,) = received
    assert posted["text"].startswith("Setpoint sweep: 1 checked")
    assert "Still open, oldest first (1)" in str(posted["blocks"])
    assert "drifted since 2026-11-01T00:00:00: security group web (sg-1)" in stream.getvalue()


def test_a_chat_that_refuses_is_reported_not_raised(down_url: str) -> None:
    dead = notifier_for(down_url, "json", sleep=lambda _: None, max_attempts=1)
    posted = post_digest([dead], DIGEST)
    assert posted.heard == 0
    assert len(posted.errors) == 1 and "127.0.0.1" in posted.errors[0]


def dlq(dead: int) -> tuple[Any, str]:
    """A moto SQS dead-letter queue holding `dead` alerts parked by the real outbox."""
    sqs = boto3.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="setpoint-outbox-dlq")["QueueUrl"]
    for n in range(dead):
        finding = replace(DRIFT, id=f"sg-{n}", name=f"web-{n}")
        outbox.SqsOutbox(sqs, url, clock=lambda: T0).put(
            Alert(AlertKind.NEW, finding), "HTTP 500 from chat"
        )
    return sqs, url


def test_failed_deliveries_from_the_real_outbox_are_listed(aws: None) -> None:
    sqs, url = dlq(1)
    lines = failed_delivery_lines(outbox, lambda: sqs, url)
    assert lines == [
        "security_group sg-0 (111111111111/eu-west-1) new alert: HTTP 500 from chat"
        f" (failed at {T0.isoformat(timespec='seconds')})"
    ]
    assert failed_delivery_lines(outbox, lambda: sqs, None) == []


def test_dead_letters_past_the_peek_are_counted_not_dropped(aws: None) -> None:
    sqs, url = dlq(23)
    lines = failed_delivery_lines(outbox, lambda: sqs, url)
    assert len(lines) == 21  # the outbox peeks at 20
    assert lines[-1] == "+3 more in the dead-letter queue"


def test_an_unreadable_dead_letter_queue_is_itself_in_the_digest(aws: None) -> None:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    missing = "https://sqs.eu-west-1.amazonaws.com/123456789012/no-such-dlq"
    (line,) = failed_delivery_lines(outbox, lambda: sqs, missing)
    assert line.startswith("the outbox dead-letter queue could not be read: SQS refused (")
    assert "NonExistentQueue" in line or "QueueDoesNotExist" in line


def test_a_bug_reading_the_dead_letters_is_not_mistaken_for_an_unreadable_queue() -> None:
    class Broken:
        def dead_letters(self, sqs_client: Any, dlq_url: str) -> Any:
            raise KeyError("Attributes")

    with pytest.raises(KeyError):
        failed_delivery_lines(Broken(), lambda: object(), "https://sqs/dlq")
