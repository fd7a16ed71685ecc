"""Delivering a finding or an alert: to a stream, a Slack or Teams webhook, any JSON webhook.

Webhooks are posted with urllib (this runs in Lambda; no `requests`). Transient failures
(5xx, connection errors, timeouts) are retried with exponential backoff and jitter; 429
waits as long as `Retry-After` asks, up to a cap; other 4xx fail at once, since sending
the same payload again cannot fix them.

Two APIs live side by side. `send(finding)` is the original one (fire and forget).
`post_alert(alert)` delivers an `Alert` and returns a `MessageRef` naming the message, so state
can keep it and follow-ups can thread under it (Slack bot) or cite it (webhooks, which
cannot thread: the message shows its id and a follow-up says "re: alert <id>").

A webhook URL is a secret (whoever has it can post to the channel), so nothing here puts
it in an exception, a log line or a repr: errors name the endpoint's host only, and what
an endpoint echoes goes through `chalicelib.scrub` (which also learns the URL, so the
alerting code scrubs it from any other error too). A URL that cannot be sent as it is
(non-ASCII, control characters) is a ConfigError at construction, not a crash mid-post.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from email.message import Message
from typing import IO, Any, Literal, Protocol

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.alert_message import (
    render_alert_json,
    render_alert_slack,
    render_alert_text,
)
from chalicelib.notify.message import render_json, render_slack, render_text
from chalicelib.notify.teams import render_alert_teams, render_teams
from chalicelib.scrub import remember_secret, scrub
from chalicelib.sweep.digest import (
    Digest,
    digest_json,
    render_digest_slack,
    render_digest_teams,
    render_digest_text,
)

ChatFormat = Literal["slack", "json", "teams"]
USER_AGENT = "setpoint-notifier/1"
BODY_EXCERPT = 200


class Notifier(Protocol):
    """Anything that can tell people about one finding."""

    def send(self, finding: Finding) -> None: ...


class AlertNotifier(Protocol):
    """A notifier for alerts: posts one and says where it went (None: nowhere to point,
    as for the console), or a sweep digest. `name` is what its `MessageRef.notifier`
    holds. (`ports.Notifier`, with `send` for the older finding API.)"""

    @property
    def name(self) -> str: ...

    def send(self, finding: Finding) -> None: ...

    def post_alert(self, alert: Alert) -> MessageRef | None: ...

    def post_digest(self, digest: Digest) -> None: ...


def own_ref(alert: Alert, name: str) -> str | None:
    """The ref this notifier gave the alert's first message, if it posted one."""
    for message in alert.thread:
        if message.notifier == name:
            return message.ref
    return None


def new_message_id() -> str:
    """An id for a webhook message, which has none of its own: random, so that two
    alerts about one resource at the same second still differ."""
    return uuid.uuid4().hex


class Opener(Protocol):
    """The slice of `urllib.request.OpenerDirector` we use, so tests can hand in their own."""

    def open(
        self, fullurl: urllib.request.Request, data: None = None, timeout: float = ...
    ) -> Any: ...


class ConsoleNotifier:
    """Prints the plain message; for the CLI and for running without a chat."""

    name = "console"

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def send(self, finding: Finding) -> None:
        self._stream.write(render_text(finding) + "\n\n")
        self._stream.flush()

    def post_alert(self, alert: Alert) -> MessageRef | None:
        """Prints the alert; a terminal keeps no message to point back at."""
        self._stream.write(render_alert_text(alert) + "\n\n")
        self._stream.flush()
        return None

    def post_digest(self, digest: Digest) -> None:
        self._stream.write(render_digest_text(digest) + "\n\n")
        self._stream.flush()


class _Retry(Exception):
    """One failed attempt that may succeed if tried again."""

    def __init__(self, detail: str, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.wait = wait


class WebhookNotifier:
    """Posts a rendered finding as JSON to a URL, retrying what is worth retrying.

    `sleep` and `jitter` are injectable so tests run without waiting; `opener` defaults
    to urllib's, which honours the usual proxy variables.
    """

    _url_is_secret = True  # a webhook URL is; an API endpoint (Slack's) is not

    def __init__(
        self,
        url: str,
        *,
        opener: Opener | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        timeout: float = 10,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        max_retry_after: float = 30.0,
        jitter: Callable[[], float] = random.random,
        name: str | None = None,
    ) -> None:
        if self._url_is_secret:
            remember_secret(url)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            # The URL itself stays out of the message: it may be a real secret, mistyped.
            raise ConfigError(
                f"webhook URL must be http(s)://host/..., got a {parts.scheme or 'relative'} URL"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError("webhook URL has a malformed port") from None
        unsendable = _unsendable(url)
        if unsendable is not None:
            raise ConfigError(f"webhook URL {unsendable}: fix the URL (it is not shown here)")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self._url = url
        self.host = parts.hostname
        self._opener: Opener = opener or urllib.request.build_opener()
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self._jitter = jitter
        # What MessageRefs from here are called; give one when two webhooks share a host.
        self.name = name or f"webhook:{self.host}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r})"

    def payload(self, finding: Finding) -> Mapping[str, Any]:
        """The JSON body for one finding; subclasses choose the rendering."""
        return render_json(finding)

    def alert_payload(self, alert: Alert, ref: str | None, cite: str | None) -> Mapping[str, Any]:
        """The JSON body for one alert; subclasses choose the rendering."""
        return render_alert_json(alert, ref=ref, cite=cite)

    def send(self, finding: Finding) -> None:
        self.deliver(self.payload(finding))

    def post_alert(self, alert: Alert) -> MessageRef:
        """Deliver an alert and return its MessageRef (an id we make up and show in the
        message, since a webhook returns none)."""
        ref = new_message_id()
        self.deliver(self.alert_payload(alert, ref, own_ref(alert, self.name)))
        return MessageRef(self.name, ref)

    def digest_payload(self, digest: Digest) -> Mapping[str, Any]:
        """The JSON body for a sweep digest; subclasses choose the rendering."""
        return render_digest_slack(digest)

    def post_digest(self, digest: Digest) -> None:
        self.deliver(self.digest_payload(digest))

    def deliver(self, payload: Mapping[str, Any]) -> bytes:
        """POST `payload` as JSON; return the response body once delivered, raise
        DeliveryError otherwise."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        last = _Retry("not attempted")
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(body)
            except _Retry as retry:
                last = retry
                if attempt < self.max_attempts:
                    self._sleep(self._delay(attempt, retry.wait))
        raise DeliveryError(
            f"could not deliver to {self.host}: {last.detail} "
            f"(gave up after {self.max_attempts} attempts)",
            status=last.status,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # "Equal jitter": never less than half the backoff, so retries stay spaced out,
        # but spread enough that many Lambdas failing together do not retry in lockstep.
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}

    def _attempt(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers=self._headers()
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer: bytes = response.read()
                status = getattr(response, "status", 200)
                headers = getattr(response, "headers", None)
        except urllib.error.HTTPError as error:
            self._judge(error)
            raise  # _judge always raises; this keeps the type checker informed
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            # Connection refused, DNS, TLS, reset, timeout: worth another try.
            raise _Retry(f"connection failed ({self._describe(error)})") from None
        self._check(answer, status, headers)
        return answer

    def _check(self, body: bytes, status: int, headers: Message | None) -> None:
        """Judge a 2xx answer; APIs that say "no" with HTTP 200 (Slack's) override it."""

    def _judge(self, error: urllib.error.HTTPError) -> None:
        status = error.code
        excerpt = self._excerpt(error)
        detail = f"HTTP {status}" + (f" {excerpt}" if excerpt else "")
        if status == 429:
            raise _Retry(detail, status, _retry_after(error.headers))
        if status >= 500:
            raise _Retry(detail, status)
        raise DeliveryError(
            f"could not deliver to {self.host}: {detail} (not retried)", status=status
        ) from None

    def _excerpt(self, error: urllib.error.HTTPError) -> str:
        """The start of the error body: Slack says why there (`invalid_payload`,
        `channel_is_archived`); scrubbed of the URL in case an endpoint echoes it."""
        try:
            raw = error.read(BODY_EXCERPT)
        except (OSError, http.client.HTTPException):
            return ""
        text = " ".join(raw.decode("utf-8", "replace").split())
        return self._scrub(text)

    def _describe(self, error: BaseException) -> str:
        reason = getattr(error, "reason", None) or error
        return self._scrub(f"{type(error).__name__}: {reason}")

    def _scrub(self, text: str) -> str:
        return scrub(text, (self._url,) if self._url_is_secret else ())


def _unsendable(url: str) -> str | None:
    """Why `url` cannot go on the wire as it is (http.client sends it as ASCII and
    refuses control characters), or None. Says where, never what."""
    for index, char in enumerate(url):
        if char.isspace() or not char.isprintable():
            return f"has a control or space character at position {index}"
        if not char.isascii():
            return f"has a non-ASCII character at position {index} (percent-encode it)"
    return None


def _retry_after(headers: Message | None) -> float | None:
    """`Retry-After` in seconds; None when absent or an HTTP date (backoff applies)."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


class SlackWebhookNotifier(WebhookNotifier):
    """A Slack incoming webhook: Block Kit with a plain-text fallback."""

    def payload(self, finding: Finding) -> Mapping[str, Any]:
        return render_slack(finding)

    def alert_payload(self, alert: Alert, ref: str | None, cite: str | None) -> Mapping[str, Any]:
        return render_alert_slack(alert, ref=ref, cite=cite)


class JsonWebhookNotifier(WebhookNotifier):
    """Any endpoint that takes JSON: the finding as `--format json` shows it, plus text."""

    def payload(self, finding: Finding) -> Mapping[str, Any]:
        return render_json(finding)

    def alert_payload(self, alert: Alert, ref: str | None, cite: str | None) -> Mapping[str, Any]:
        return render_alert_json(alert, ref=ref, cite=cite)

    def digest_payload(self, digest: Digest) -> Mapping[str, Any]:
        return digest_json(digest)


class TeamsWebhookNotifier(WebhookNotifier):
    """A Microsoft Teams Workflows webhook ("When a Teams webhook request is received"):
    an Adaptive Card. Workflows answer 202 and cannot thread, so follow-ups cite."""

    def payload(self, finding: Finding) -> Mapping[str, Any]:
        return render_teams(finding)

    def alert_payload(self, alert: Alert, ref: str | None, cite: str | None) -> Mapping[str, Any]:
        return render_alert_teams(alert, ref=ref, cite=cite)

    def digest_payload(self, digest: Digest) -> Mapping[str, Any]:
        return render_digest_teams(digest)


def notifier_for(url: str, fmt: ChatFormat | str, **options: Any) -> WebhookNotifier:
    """The notifier for a chat format, as named by `--chat-format` or the stage config.

    `fmt` is any string so configuration can be passed straight in; an unknown one is a
    ConfigError, not a crash.
    """
    if fmt == "slack":
        return SlackWebhookNotifier(url, **options)
    if fmt == "json":
        return JsonWebhookNotifier(url, **options)
    if fmt == "teams":
        return TeamsWebhookNotifier(url, **options)
    raise ConfigError(f"unknown chat format {fmt!r} (use slack, teams or json)")


def chat_url_from_ssm(parameter_name: str, *, force: bool = False) -> str:
    """The webhook URL kept as a SecureString in SSM, cached for five minutes."""
    return secret_from_ssm(parameter_name, "chat URL", force=force)


def secret_from_ssm(parameter_name: str, what: str, *, force: bool = False) -> str:
    """A secret (webhook URL, bot token) kept as a SecureString in SSM, cached for five
    minutes; errors name the parameter and what it should hold, never its value.

    Powertools is imported here, not at module level: only the functions that post pay
    for it, and only on first use.
    """
    try:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        value = get_parameter(parameter_name, decrypt=True, max_age=300, force_fetch=force)
    except Exception as error:
        raise ConfigError(
            f"cannot read the {what} from SSM parameter {parameter_name}: {error}"
        ) from error
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"SSM parameter {parameter_name} holds no {what}")
    remember_secret(value)
    return value.strip()


class SsmWebhookNotifier:
    """A webhook whose URL lives in SSM, read on first send and kept.

    A cold start that never alerts never reads it, and a warm one costs no extra request.
    When the endpoint answers 403/404/410 (the webhook was revoked, as in a rotation), the
    parameter is read again, bypassing the cache, and the message is sent to the new URL.
    """

    _REVOKED = frozenset({403, 404, 410})

    def __init__(self, parameter_name: str, fmt: ChatFormat | str, **options: Any) -> None:
        self.parameter_name = parameter_name
        self.fmt = fmt
        self.options = options
        self._notifier: WebhookNotifier | None = None

    def __repr__(self) -> str:
        return f"SsmWebhookNotifier({self.parameter_name!r}, {self.fmt!r})"

    def _current(self, force: bool = False) -> WebhookNotifier:
        if self._notifier is None or force:
            url = chat_url_from_ssm(self.parameter_name, force=force)
            try:
                self._notifier = notifier_for(url, self.fmt, **self.options)
            except ConfigError as error:
                if force:
                    raise ConfigError(f"SSM parameter {self.parameter_name}: {error}") from None
                return self._current(force=True)  # the cached URL is bad: fixed since?
        return self._notifier

    @property
    def name(self) -> str:
        """`webhook:<host>` once the URL is known; before that, the parameter's name."""
        if self._notifier is not None:
            return self._notifier.name
        return str(self.options.get("name") or f"ssm:{self.parameter_name}")

    def send(self, finding: Finding) -> None:
        try:
            self._current().send(finding)
        except DeliveryError as error:
            if error.status not in self._REVOKED:
                raise
            self._current(force=True).send(finding)

    def post_alert(self, alert: Alert) -> MessageRef:
        try:
            return self._current().post_alert(alert)
        except DeliveryError as error:
            if error.status not in self._REVOKED:
                raise
            return self._current(force=True).post_alert(alert)

    def post_digest(self, digest: Digest) -> None:
        try:
            self._current().post_digest(digest)
        except DeliveryError as error:
            if error.status not in self._REVOKED:
                raise
            self._current(force=True).post_digest(digest)
