from __future__ import annotations

import http.client
import io

import pytest

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.notify.delivery import (
    ConsoleNotifier,
    JsonWebhookNotifier,
    SlackWebhookNotifier,
    notifier_for,
)
from chalicelib.notify.message import render_json, render_slack, render_text
from tests.chat_server import ChatServer, Reply
from tests.report.samples import DRIFTED
from tests.sleeps import Sleeps

SECRET_PATH = "/services/T0000/B0000/s3cr3tT0ken"


def hook(chat: ChatServer) -> str:
    """The chat's webhook URL, ending in a secret path that must never be logged."""
    return chat.base + SECRET_PATH


def test_200_is_delivered_once_with_the_slack_payload(chat_server):
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep).send(DRIFTED)
    assert len(chat_server.requests) == 1
    request = chat_server.requests[0]
    assert request["path"] == SECRET_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["body"] == render_slack(DRIFTED)
    assert sleep == []


def test_json_webhook_posts_the_finding_and_its_text(chat_server):
    JsonWebhookNotifier(hook(chat_server), sleep=Sleeps()).send(DRIFTED)
    body = chat_server.requests[0]["body"]
    assert body == render_json(DRIFTED)
    assert body["status"] == "drifted" and body["changes"][1]["world_open"] is True


def test_5xx_is_retried_with_growing_backoff(chat_server):
    chat_server.script = [Reply(500, b"oops"), Reply(503, b"busy"), Reply(200)]
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep, jitter=lambda: 1.0).send(DRIFTED)
    assert len(chat_server.requests) == 3
    assert sleep == [0.5, 1.0]


def test_backoff_jitter_stays_within_half_to_full_delay(chat_server):
    chat_server.script = [Reply(500)] * 4
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep, jitter=lambda: 0.0).send(DRIFTED)
    assert sleep == [0.25, 0.5, 1.0, 2.0]


def test_429_honours_retry_after(chat_server):
    chat_server.script = [Reply(429, b"rate_limited", {"Retry-After": "2"}), Reply(200)]
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep).send(DRIFTED)
    assert sleep == [2.0]
    assert len(chat_server.requests) == 2


def test_429_retry_after_is_capped(chat_server):
    chat_server.script = [Reply(429, headers={"Retry-After": "3600"}), Reply(200)]
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep, max_retry_after=20).send(DRIFTED)
    assert sleep == [20]


def test_404_fails_at_once_naming_the_host_not_the_url(chat_server):
    chat_server.script = [Reply(404, b"no_service")]
    sleep = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(hook(chat_server), sleep=sleep).send(DRIFTED)
    assert len(chat_server.requests) == 1
    assert sleep == []
    assert caught.value.status == 404
    message = str(caught.value)
    assert "HTTP 404" in message and "no_service" in message and "127.0.0.1" in message
    assert "s3cr3t" not in message and "/services" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_persistent_5xx_gives_up_after_max_attempts(chat_server):
    chat_server.script = [Reply(500)] * 10
    sleep = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(hook(chat_server), sleep=sleep, max_attempts=3).send(DRIFTED)
    assert len(chat_server.requests) == 3
    assert len(sleep) == 2
    assert caught.value.status == 500
    assert "after 3 attempts" in str(caught.value)


def test_server_down_fails_after_max_attempts_without_leaking_the_url(down_url):
    url = down_url.replace("/services/dead", SECRET_PATH)
    sleep = Sleeps()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(url, sleep=sleep).send(DRIFTED)
    assert len(sleep) == 4  # five attempts, four waits
    message = str(caught.value)
    assert "127.0.0.1" in message and "connection failed" in message
    assert SECRET_PATH not in message and "s3cr3t" not in message
    assert caught.value.status is None


def test_timeout_is_retried(chat_server):
    chat_server.script = [Reply(hang=True), Reply(200)]
    sleep = Sleeps()
    SlackWebhookNotifier(hook(chat_server), sleep=sleep, timeout=0.1).send(DRIFTED)
    assert len(sleep) == 1
    assert len(chat_server.requests) == 2


def test_console_notifier_prints_the_plain_message():
    stream = io.StringIO()
    ConsoleNotifier(stream).send(DRIFTED)
    assert stream.getvalue() == render_text(DRIFTED) + "\n\n"


def test_notifier_for_picks_the_format():
    url = "https://hooks.slack.com" + SECRET_PATH
    assert type(notifier_for(url, "slack")) is SlackWebhookNotifier
    assert type(notifier_for(url, "json")) is JsonWebhookNotifier
    with pytest.raises(ConfigError, match="unknown chat format 'irc'"):
        notifier_for(url, "irc")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "hooks.slack.com/services/x", "http://"])
def test_only_http_urls_are_accepted(url):
    with pytest.raises(ConfigError) as caught:
        SlackWebhookNotifier(url)
    assert "passwd" not in str(caught.value) and "services" not in str(caught.value)


def test_repr_hides_the_url():
    notifier = SlackWebhookNotifier("https://hooks.slack.com" + SECRET_PATH)
    assert repr(notifier) == "SlackWebhookNotifier(host='hooks.slack.com')"


class FlakyOpener:
    """An injected opener: the server hangs up once, then answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def open(self, request, data=None, timeout=None):
        self.calls.append((request.full_url, timeout))
        if len(self.calls) == 1:
            raise http.client.RemoteDisconnected("Remote end closed connection")
        return io.BytesIO(b"ok")


def test_injected_opener_and_dropped_connection_is_retried():
    opener = FlakyOpener()
    sleep = Sleeps()
    url = "https://hooks.slack.com" + SECRET_PATH
    SlackWebhookNotifier(url, opener=opener, sleep=sleep, timeout=3).send(DRIFTED)
    assert opener.calls == [(url, 3), (url, 3)]
    assert len(sleep) == 1


def test_malformed_port_is_a_config_error():
    with pytest.raises(ConfigError, match="port"):
        SlackWebhookNotifier("https://hooks.slack.com:99999" + SECRET_PATH)
