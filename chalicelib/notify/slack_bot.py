"""Posting with a Slack bot token (chat.postMessage), so follow-ups go into the thread.

A webhook can only post; the Web API returns the message's `ts`, and a reply that names
it as `thread_ts` lands in that thread. "Back to normal" is also broadcast to the
channel (`reply_broadcast`), since the people who saw the alert should see it end.

The Web API says "no" with HTTP 200 and `{"ok": false, "error": "..."}`. Rate limits
(`ratelimited`, or HTTP 429 with `Retry-After`) and Slack's own hiccups are retried by
the same loop as webhooks; everything else (`invalid_auth`, `channel_not_found`,
`not_in_channel`, …) fails at once: the same request cannot succeed later.

The token is a secret: it travels only in the Authorization header, and is scrubbed
from anything Slack echoes into an error.

A tag on the resource may pick the channel (`channel_tag="team"`, with `channels`
mapping tag values to channels, or the tag value itself naming the channel); untagged
resources go to `channel`. Follow-ups go to the channel of the first message, in its
thread, even if the tag changed in between.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from email.message import Message
from typing import Any

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.alert_message import new_alert, render_alert_slack
from chalicelib.notify.delivery import Opener, WebhookNotifier, _Retry, _retry_after
from chalicelib.notify.notice import slack_notice
from chalicelib.scrub import remember_secret, scrub
from chalicelib.sweep.digest import Digest, render_digest_slack

DEFAULT_API_BASE = "https://slack.com/api"
# Worth another try: Slack is busy or had a fault of its own.
RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
# The token itself is bad: a token read from SSM is read again once (it may have rotated).
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)

TokenSource = Callable[[bool], str]
"""Returns the token; called with True to bypass any cache after an auth error."""


class SlackApiError(DeliveryError):
    """Slack answered `ok: false`; `error` is its code (`channel_not_found`, …)."""

    def __init__(self, message: str, error: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.error = error


class SlackBotNotifier(WebhookNotifier):
    """chat.postMessage to one channel; returns `MessageRef("slack-bot:<channel>", ts)`.

    `token` is the bot token (`xoxb-…`, scope `chat:write`) or a `TokenSource`, read on
    first post. `opener`, `sleep` and the backoff settings are those of WebhookNotifier;
    `api_base` is the Web API's base URL (a local fake Slack in tests and the demo).
    `channel_tag` / `channels`: see the module docstring.
    """

    def __init__(
        self,
        token: str | TokenSource,
        channel: str,
        *,
        opener: Opener | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api_base: str = DEFAULT_API_BASE,
        channel_tag: str | None = None,
        channels: Mapping[str, str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        if not channel or not channel.strip():
            raise ConfigError("a Slack bot notifier needs a channel (an id like C0123ABCD)")
        if channels and not channel_tag:
            raise ConfigError("a Slack bot notifier with channels needs channel_tag: the tag key")
        super().__init__(
            api_base.rstrip("/") + "/chat.postMessage",
            opener=opener,
            sleep=sleep,
            name=name or f"slack-bot:{channel}",
            **options,
        )
        self.channel = channel
        self.channel_tag = channel_tag
        self.channels: Mapping[str, str] = dict(channels or {})
        self._prefix = f"{name}:" if name else "slack-bot:"
        self._posting = channel  # the channel of the message in flight, for errors
        self._source: TokenSource | None = None if isinstance(token, str) else token
        self._token: str | None = _checked(token) if isinstance(token, str) else None

    _url_is_secret = False  # the Web API's address; the token is the secret

    def __repr__(self) -> str:
        return f"SlackBotNotifier(channel={self.channel!r})"

    def channel_for(self, finding: Finding) -> str:
        """The channel a first message about `finding` goes to."""
        if self.channel_tag is None:
            return self.channel
        value = finding.tag_map.get(self.channel_tag, "").strip()
        if not value:
            return self.channel
        if self.channels:
            return self.channels.get(value, self.channel)
        return value

    def ref_name(self, channel: str) -> str:
        """What a MessageRef posted to `channel` is called (the notifier's name for its
        own channel), so a follow-up finds its thread."""
        return self.name if channel == self.channel else self._prefix + channel

    def owns(self, ref: MessageRef) -> bool:
        """Whether this notifier posted `ref`, to any channel it may choose. When the tag's
        value is the channel itself, every `slack-bot:` ref counts: give bots that share
        a configuration their own `name`."""
        if ref.notifier == self.name:
            return True
        if not ref.notifier.startswith(self._prefix):
            return False
        channel = ref.notifier[len(self._prefix) :]
        return channel in self.channels.values() or (
            self.channel_tag is not None and not self.channels
        )

    def target(self, alert: Alert) -> tuple[str, str | None]:
        """(channel, thread_ts): the first message's channel and thread when this
        notifier posted it, else the channel the tags choose now and no thread."""
        chosen = self.channel_for(alert.finding)
        mine = [ref for ref in alert.thread if self.owns(ref)]
        for ref in mine:
            if ref.notifier == self.ref_name(chosen):
                return chosen, ref.ref
        if mine:
            return self._channel_of(mine[0]), mine[0].ref
        return chosen, None

    def _channel_of(self, ref: MessageRef) -> str:
        return self.channel if ref.notifier == self.name else ref.notifier[len(self._prefix) :]

    def payload(self, finding: Finding) -> Mapping[str, Any]:
        self._posting = self.channel_for(finding)
        return self._message(new_alert(finding), self._posting, None)

    def alert_payload(self, alert: Alert, ref: str | None, cite: str | None) -> Mapping[str, Any]:
        channel, thread_ts = self.target(alert)
        return self._message(alert, channel, thread_ts)

    def _message(self, alert: Alert, channel: str, thread_ts: str | None) -> dict[str, Any]:
        message = render_alert_slack(alert, threaded=thread_ts is not None)
        message["channel"] = channel
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
            if alert.kind is AlertKind.BACK_TO_NORMAL:
                message["reply_broadcast"] = True
        return message

    def send(self, finding: Finding) -> None:
        self.post_alert(new_alert(finding))

    def digest_payload(self, digest: Digest) -> Mapping[str, Any]:
        return {**render_digest_slack(digest), "channel": self.channel}

    def post_alert(self, alert: Alert) -> MessageRef:
        """Post the alert, in its thread when this notifier holds the first message."""
        payload = self.alert_payload(alert, None, None)
        channel = self._posting = str(payload["channel"])
        try:
            answer = self.deliver(payload)
        except SlackApiError as error:
            if error.error not in AUTH_ERRORS or self._source is None:
                raise
            self._token = _checked(self._source(True))  # rotated? read it again, once
            answer = self.deliver(payload)
        ts = _parse(answer).get("ts")
        if not isinstance(ts, str) or not ts:
            raise DeliveryError(f"Slack accepted the message to {channel} but gave no ts")
        return MessageRef(self.ref_name(channel), ts)

    # --- alert storms (notify/coalesce.py, notify/storm.py): edit in place ---------------

    def update_alert(self, alert: Alert, ref: MessageRef) -> None:
        """Rewrite the message `ref` (which this notifier posted) to show `alert`."""
        channel = self._channel_of(ref)
        payload = self._message(alert, channel, None)
        self._call("chat.update", {**payload, "ts": ref.ref})

    def post_notice(self, text: str) -> MessageRef:
        """A plain notice (a storm summary) to the default channel; its ref, to edit."""
        answer = self._call("chat.postMessage", {**slack_notice(text), "channel": self.channel})
        ts = _parse(answer).get("ts")
        if not isinstance(ts, str) or not ts:
            raise DeliveryError(f"Slack accepted the notice to {self.channel} but gave no ts")
        return MessageRef(self.name, ts)

    def update_notice(self, text: str, ref: MessageRef) -> None:
        channel = self._channel_of(ref)
        self._call("chat.update", {**slack_notice(text), "channel": channel, "ts": ref.ref})

    def _call(self, method: str, payload: Mapping[str, Any]) -> bytes:
        """POST to another Web API method: a twin of this notifier (same token, opener and
        retries) aimed at `method`, so the one posting alerts is never re-pointed."""
        twin = copy.copy(self)
        twin._url = self._url.rsplit("/", 1)[0] + "/" + method
        twin._posting = str(payload.get("channel", self.channel))
        answer = twin.deliver(payload)
        self._token = twin._token
        return answer

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            assert self._source is not None
            try:
                self._token = _checked(self._source(False))
            except ConfigError:  # the cached token is malformed: fixed since?
                self._token = _checked(self._source(True))
        return {**super()._headers(), "Authorization": f"Bearer {self._token}"}

    def _check(self, body: bytes, status: int, headers: Message | None) -> None:
        answer = _parse(body)
        if answer.get("ok") is True:
            return
        error = self._scrub(str(answer.get("error") or "no error code"))
        if error in RETRYABLE_ERRORS:
            raise _Retry(f"Slack said {error}", status, _retry_after(headers))
        raise SlackApiError(
            f"Slack refused the message to {self._posting}: {error} (not retried)",
            error,
            status=status,
        ) from None

    def _scrub(self, text: str) -> str:
        return scrub(text, (self._token,) if self._token else ())


def _checked(token: str) -> str:
    """`token` if it can go into a header; a ConfigError saying where it cannot (a line
    break from a paste, say), never the token: http.client's own ValueError quotes it."""
    remember_secret(token)
    token = token.strip()
    if not token:
        raise ConfigError("the Slack bot token is empty")
    for index, char in enumerate(token):
        if char.isspace() or not char.isprintable() or not char.isascii():
            what = "a line break" if char in "\r\n" else f"character U+{ord(char):04X}"
            raise ConfigError(
                f"the Slack bot token holds {what} at position {index}: "
                "fix the token (it is not shown here)"
            )
    return token


def _parse(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
