"""Publishing alerts to an SNS topic: email, SMS, queues, and AWS Chatbot.

By default the message is the plain-text rendering and the Subject its headline, which
suits email subscriptions (the Subject becomes the mail's subject). AWS Chatbot (Amazon Q
Developer in chat applications) ignores free-form messages on a topic: it only posts
AWS service events and "custom notifications" (`{"version": "1.0", "source": "custom",
"content": {...}}`). With `chatbot=True` the message is such a custom notification,
threaded by `metadata.threadId` (the first alert's id), so a topic wired to Chatbot
shows alerts and their follow-ups in Slack or Teams. Pick one per topic: email readers
would see the JSON.

Sizes are bounded by construction: a message within SNS's 256 KiB (UTF-8 bytes), and a
Chatbot title and description within what Chatbot shows, measured after escaping and
serialising; a cut says "… and N more lines".

The client is passed in (moto in tests); boto3's own retries apply, and a failure that
survives them is a DeliveryError naming the topic, never the message.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from chalicelib.cloud_text import one_line
from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.alert_message import alert_headline, new_alert, render_alert_text
from chalicelib.notify.budget import fit, fit_lines, text_bytes, utf8_bytes
from chalicelib.notify.delivery import new_message_id, own_ref
from chalicelib.notify.escape import ELLIPSIS, escape_markup
from chalicelib.sweep.digest import Digest, digest_headline, render_digest_text

# SNS wants a Subject of fewer than 100 characters, on one line, without control
# characters; ASCII is the only thing every mail client shows the same way.
SUBJECT_LIMIT = 99
# SNS refuses a message over 256 KiB (message and attributes); the rest is headroom for
# the Subject and the attributes SNS adds.
MESSAGE_LIMIT = 256 * 1024 - 4096
# Chatbot custom notifications: a title of one line, a description that chat shows whole
# (Chatbot cuts longer ones without saying so). Bytes of the escaped JSON string.
CHATBOT_TITLE_LIMIT = 250
CHATBOT_DESCRIPTION_LIMIT = 8000
_ASCII = {"—": "-", "–": "-", ELLIPSIS: "...", "⚠": "!", "‘": "'", "’": "'", "“": '"', "”": '"'}


def sns_subject(text: str) -> str:
    """`text` as a valid SNS Subject: one ASCII line, at most 99 characters. Hidden
    characters are shown first (`one_line`): dropped as non-ASCII, `web\u200b` would
    read `web`."""
    plain = "".join(_ASCII.get(ch, ch) for ch in one_line(text))
    plain = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode("ascii")
    plain = " ".join("".join(ch if ch.isprintable() else " " for ch in plain).split())
    if len(plain) > SUBJECT_LIMIT:
        plain = plain[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return plain or "Setpoint alert"


class SnsNotifier:
    """Publishes each alert to `topic_arn`; returns `MessageRef("sns:<topic>", id)`."""

    def __init__(self, sns_client: Any, topic_arn: str, *, chatbot: bool = False) -> None:
        if not topic_arn.startswith("arn:") or topic_arn.count(":") < 5:
            raise ConfigError(f"not an SNS topic ARN: {topic_arn!r}")
        self._sns = sns_client
        self.topic_arn = topic_arn
        self.chatbot = chatbot
        self.name = f"sns:{topic_arn.rsplit(':', 1)[1]}"

    def __repr__(self) -> str:
        return f"SnsNotifier({self.topic_arn!r})"

    def send(self, finding: Finding) -> None:
        self.post_alert(new_alert(finding))

    def post_digest(self, digest: Digest) -> None:
        """The digest as plain text (what email and Chatbot subscribers read)."""
        try:
            self._sns.publish(
                TopicArn=self.topic_arn,
                Subject=sns_subject(digest_headline(digest)),
                Message=bounded_message(render_digest_text(digest)),
            )
        except Exception as error:
            raise DeliveryError(
                f"could not publish the digest to {self.topic_arn}: {_describe(error)}"
            ) from None

    def post_alert(self, alert: Alert) -> MessageRef:
        ref = new_message_id()
        cite = own_ref(alert, self.name)
        text = render_alert_text(alert, ref=ref, cite=cite)
        subject = sns_subject(alert_headline(alert))
        message = self._chatbot(alert, text, ref, cite) if self.chatbot else bounded_message(text)
        try:
            self._sns.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        except Exception as error:
            raise DeliveryError(
                f"could not publish to SNS topic {self.topic_arn}: {_describe(error)}"
            ) from None
        return MessageRef(self.name, ref)

    def _chatbot(self, alert: Alert, text: str, ref: str, cite: str | None) -> str:
        """A Chatbot custom notification. Its markdown becomes Slack's or Teams' own, so
        cloud text is escaped for either (`escape_markup`) and both fields are bounded."""
        body: Mapping[str, Any] = {
            "version": "1.0",
            "source": "custom",
            "id": ref,
            "content": {
                "textType": "client-markdown",
                "title": fit(alert_headline(alert), CHATBOT_TITLE_LIMIT, escape_markup),
                "description": "\n".join(
                    fit_lines(
                        text.splitlines()[1:],
                        CHATBOT_DESCRIPTION_LIMIT,
                        escape=escape_markup,
                        measure=text_bytes,
                    )
                ),
            },
            "metadata": {"threadId": cite or ref, "eventType": alert.kind.value},
        }
        return json.dumps(body, ensure_ascii=False)


def bounded_message(text: str) -> str:
    """`text` within MESSAGE_LIMIT UTF-8 bytes, whole lines first, the cut said."""
    if utf8_bytes(text) <= MESSAGE_LIMIT:
        return text
    return "\n".join(fit_lines(text.splitlines(), MESSAGE_LIMIT))


def _describe(error: Exception) -> str:
    """`AuthorizationError: …` from a ClientError, else the exception's type and text."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"
