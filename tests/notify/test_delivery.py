from __future__ import annotations

import http.client
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.notify.delivery import (
    ConsoleNotifier,
    JsonWebhookNotifier,
    SlackWebhookNotifier,
    notifier_for,
)
from chalicelib.notify.message import render_json, render_slack, render_text
from tests.report.samples import DRIFTED

SECRET_PATH = "/services/T0000/B0000/s3cr3tT0ken"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class FakeChat:
    """A real HTTP server on 127.0.0.1 that answers with a script of replies."""

    url: str
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch):
    """The default opener honours proxy variables; a proxy must not swallow 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    state = FakeChat(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            reply = state.script.pop(0) if state.script else Reply()
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up, as the timeout test intends

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_200_is_delivered_once_with_the_slack_payload(chat):
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep).send(DRIFTED)
    assert len(chat.requests) == 1
    request = chat.requests[0]
    assert request["path"] == SECRET_PATH
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["body"] == render_slack(DRIFTED)
    assert sleep.calls == []


def test_json_webhook_posts_the_finding_and_its_text(chat):
    JsonWebhookNotifier(chat.url, sleep=FakeSleep()).send(DRIFTED)
    body = chat.requests[0]["body"]
    assert body == render_json(DRIFTED)
    assert body["status"] == "drifted" and body["changes"][1]["world_open"] is True


def test_5xx_is_retried_with_growing_backoff(chat):
    chat.script = [Reply(500, b"oops"), Reply(503, b"busy"), Reply(200)]
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep, jitter=lambda: 1.0).send(DRIFTED)
    assert len(chat.requests) == 3
    assert sleep.calls == [0.5, 1.0]


def test_backoff_jitter_stays_within_half_to_full_delay(chat):
    chat.script = [Reply(500)] * 4
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep, jitter=lambda: 0.0).send(DRIFTED)
    assert sleep.calls == [0.25, 0.5, 1.0, 2.0]


def test_429_honours_retry_after(chat):
    chat.script = [Reply(429, b"rate_limited", {"Retry-After": "2"}), Reply(200)]
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep).send(DRIFTED)
    assert sleep.calls == [2.0]
    assert len(chat.requests) == 2


def test_429_retry_after_is_capped(chat):
    chat.script = [Reply(429, headers={"Retry-After": "3600"}), Reply(200)]
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep, max_retry_after=20).send(DRIFTED)
    assert sleep.calls == [20]


def test_404_fails_at_once_naming_the_host_not_the_url(chat):
    chat.script = [Reply(404, b"no_service")]
    sleep = FakeSleep()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(chat.url, sleep=sleep).send(DRIFTED)
    assert len(chat.requests) == 1
    assert sleep.calls == []
    assert caught.value.status == 404
    message = str(caught.value)
    assert "HTTP 404" in message and "no_service" in message and "127.0.0.1" in message
    assert "s3cr3t" not in message and "/services" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_persistent_5xx_gives_up_after_max_attempts(chat):
    chat.script = [Reply(500)] * 10
    sleep = FakeSleep()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(chat.url, sleep=sleep, max_attempts=3).send(DRIFTED)
    assert len(chat.requests) == 3
    assert len(sleep.calls) == 2
    assert caught.value.status == 500
    assert "after 3 attempts" in str(caught.value)


def test_server_down_fails_after_max_attempts_without_leaking_the_url():
    url = f"http://127.0.0.1:{_free_port()}{SECRET_PATH}"
    sleep = FakeSleep()
    with pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(url, sleep=sleep).send(DRIFTED)
    assert len(sleep.calls) == 4  # five attempts, four waits
    message = str(caught.value)
    assert "127.0.0.1" in message and "connection failed" in message
    assert SECRET_PATH not in message and "s3cr3t" not in message
    assert caught.value.status is None


def test_timeout_is_retried(chat):
    chat.script = [Reply(200, delay=0.6), Reply(200)]
    sleep = FakeSleep()
    SlackWebhookNotifier(chat.url, sleep=sleep, timeout=0.2).send(DRIFTED)
    assert len(sleep.calls) == 1
    assert len(chat.requests) == 2


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
    sleep = FakeSleep()
    url = "https://hooks.slack.com" + SECRET_PATH
    SlackWebhookNotifier(url, opener=opener, sleep=sleep, timeout=3).send(DRIFTED)
    assert opener.calls == [(url, 3), (url, 3)]
    assert len(sleep.calls) == 1


def test_malformed_port_is_a_config_error():
    with pytest.raises(ConfigError, match="port"):
        SlackWebhookNotifier("https://hooks.slack.com:99999" + SECRET_PATH)
