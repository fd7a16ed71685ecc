"""Posting the digest through the notifiers a deployment has, and reading failed deliveries."""

from __future__ import annotations

import io
from typing import Any

from chalicelib.model import Finding, Kind, Status
from chalicelib.notify.delivery import ConsoleNotifier, notifier_for
from chalicelib.notify.routing import Route, RoutedNotifier
from chalicelib.sweep.digest import merge_digest, summarize
from chalicelib.sweep.post import failed_delivery_lines, post_digest

DRIFT = Finding(Kind.SECURITY_GROUP, "sg-1", "web", "111111111111", "eu-west-1", Status.DRIFTED)
DIGEST = merge_digest("run-1", [summarize("s", [DRIFT], [], lambda _: "2026-11-01T00:00:00")])


def test_slack_and_console_each_get_the_digest_once_through_a_routed_set(
    webhook: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = webhook
    slack = notifier_for(url, "slack", sleep=lambda _: None)
    stream = io.StringIO()
    console = ConsoleNotifier(stream)
    routed = RoutedNotifier([Route([slack], kinds=frozenset({"s3_bucket"}))], default=[slack])
    assert post_digest([routed, console], DIGEST) == []
    (posted,) = received
    assert posted["text"].startswith("Setpoint sweep: 1 checked")
    assert "Still open, oldest first (1)" in str(posted["blocks"])
    assert "drifted since 2026-11-01T00:00:00: security group web (sg-1)" in stream.getvalue()


def test_a_chat_that_refuses_is_reported_not_raised() -> None:
    dead = notifier_for("http://127.0.0.1:9/hook", "json", sleep=lambda _: None, max_attempts=1)
    errors = post_digest([dead], DIGEST)
    assert len(errors) == 1 and "127.0.0.1" in errors[0]


class Outbox:
    """Stands in for chalicelib.notify.outbox: anything with `dead_letters` will do."""

    def __init__(self, items: list[Any], fail: bool = False) -> None:
        self.items = items
        self.fail = fail
        self.asked: list[str] = []

    def dead_letters(self, sqs_client: Any, dlq_url: str) -> list[Any]:
        self.asked.append(dlq_url)
        if self.fail:
            raise RuntimeError("AccessDenied on ReceiveMessage")
        return self.items


def test_failed_deliveries_are_listed_whatever_shape_the_outbox_gives() -> None:
    outbox = Outbox(
        [
            {"alert": {"finding": {"kind": "s3_bucket", "id": "logs"}}, "error": "HTTP 500"},
            "plain text entry",
        ]
    )
    lines = failed_delivery_lines(outbox, lambda: object(), "https://sqs/dlq")
    assert lines == ["s3_bucket logs: HTTP 500", "plain text entry"]
    assert outbox.asked == ["https://sqs/dlq"]
    assert failed_delivery_lines(outbox, lambda: object(), None) == []


def test_an_unreadable_dead_letter_queue_is_itself_in_the_digest() -> None:
    lines = failed_delivery_lines(Outbox([], fail=True), lambda: object(), "https://sqs/dlq")
    assert lines == [
        "the outbox dead-letter queue could not be read: AccessDenied on ReceiveMessage"
    ]
