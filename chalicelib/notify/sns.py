"""Publishing alerts to an SNS topic: email, SMS, queues, and AWS Chatbot.

By default the message is the plain-text rendering and the Subject its headline, which
suits email subscriptions (the Subject becomes the mail's subject). AWS Chatbot (Amazon Q
Developer in chat applications) ignores free-form messages on a topic: it only posts
AWS service events and "custom notifications" (`{"version": "1.0", "source": "custom",
"content": {...}}`). With `chatbot=True` the message is such a custom notification,
threaded by `metadata.threadId` (the first alert's id), so a topic wired to Chatbot
shows alerts and their follow-ups in Slack or Teams. Pick one per topic: email readers
would see the JSON.

The client is passed in (moto in tests); boto3's own retries apply, and a failure that
survives them is a DeliveryError naming the topic, never the message.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.alert_message import alert_headline, new_alert, render_alert_text
from chalicelib.notify.delivery import new_message_id, own_ref
from chalicelib.notify.escape import ELLIPSIS, escape_mrkdwn
from chalicelib.sweep.digest import Digest, digest_headline, render_digest_text

# SNS wants a Subject of fewer than 100 characters, on one line, without control
# characters; ASCII is the only thing every mail client shows the same way.
SUBJECT_LIMIT = 99
_ASCII = {"—": "-", "–": "-", ELLIPSIS: "...", "⚠": "!", "‘": "'", "’": "'", "“": '"', "”": '"'}


def sns_subject(text: str) -> str:
    """`text` as a valid SNS Subject: one ASCII line, at most 99 characters."""
    plain = "".join(_ASCII.get(ch, ch) for ch in text)
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
                Message=render_digest_text(digest),
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
        message = self._chatbot(alert, text, ref, cite) if self.chatbot else text
        try:
            self._sns.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
        except Exception as error:
            raise DeliveryError(
                f"could not publish to SNS topic {self.topic_arn}: {_describe(error)}"
            ) from None
        return MessageRef(self.name, ref)

    def _chatbot(self, alert: Alert, text: str, ref: str, cite: str | None) -> str:
        """A Chatbot custom notification; its markdown is the chat's, so escape like Slack."""
        body: Mapping[str, Any] = {
            "version": "1.0",
            "source": "custom",
            "id": ref,
            "content": {
                "textType": "client-markdown",
                "title": escape_mrkdwn(alert_headline(alert)),
                "description": escape_mrkdwn("\n".join(text.splitlines()[1:])),
            },
            "metadata": {"threadId": cite or ref, "eventType": alert.kind.value},
        }
        return json.dumps(body, ensure_ascii=False)


def _describe(error: Exception) -> str:
    """`AuthorizationError: …` from a ClientError, else the exception's type and text."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"
