"""Posting the digest through the runtime's notifiers, and reading failed deliveries.

A notifier that knows digests has `post_digest(digest)`. The notifiers that exist today
do not, so the common ones are served here through their public `deliver` (webhooks,
Slack bot) or the documented shape of their target (console, SNS); a routed set posts to
its default notifiers (or, without defaults, to every notifier it routes to, once each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.sweep.digest import (
    Digest,
    digest_headline,
    digest_json,
    render_digest_slack,
    render_digest_teams,
    render_digest_text,
)

if TYPE_CHECKING:
    from chalicelib.notify.outbox import DeadLetter, DeadLetterReport

logger = logging.getLogger("setpoint")


class FailedDeliveries(Protocol):
    """Alerts no notifier could deliver, parked in the outbox's dead-letter queue.

    `chalicelib.notify.outbox` (the module itself) satisfies this.
    """

    def dead_letters(self, sqs_client: Any, dlq_url: str) -> DeadLetterReport: ...


@runtime_checkable
class PostsDigest(Protocol):
    def post_digest(self, digest: Digest) -> object: ...


def describe_dead_letter(letter: DeadLetter) -> str:
    """One line for a parked alert: what, where, which alert, why it failed and since when."""
    what = " ".join(x for x in (letter.resource_kind, letter.resource) if x)
    where = "/".join(x for x in (letter.account, letter.region) if x)
    line = f"{what} ({where})" if where else what
    if letter.alert_kind:
        line += f" {letter.alert_kind} alert"
    line += f": {letter.error}"
    if letter.failed_at:
        line += f" (failed at {letter.failed_at})"
    return line


def failed_delivery_lines(
    source: FailedDeliveries | None, sqs_client: Callable[[], Any], dlq_url: str | None
) -> list[str]:
    """Lines for the digest; a DLQ that cannot be read is itself reported, not hidden."""
    if source is None or not dlq_url:
        return []
    try:
        report = source.dead_letters(sqs_client(), dlq_url)
    except (ClientError, BotoCoreError, DeliveryError, ConfigError) as exc:
        # reading the DLQ must not cost the digest; the digest says why it is missing
        reason = _unreadable_reason(exc)
        logger.error("dead_letters_unreadable", extra={"error": reason})
        return [f"the outbox dead-letter queue could not be read: {reason}"]
    lines = [describe_dead_letter(letter) for letter in report.letters]
    if report.unseen:
        lines.append(f"+{report.unseen} more in the dead-letter queue")
    return lines


def _unreadable_reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"SQS refused ({error.get('Code', '?')}: {error.get('Message', '')})".replace(
            ": )", ")"
        )
    if isinstance(exc, BotoCoreError):
        return f"SQS unreachable ({exc})"
    if isinstance(exc, ConfigError):
        return f"configuration error ({exc})"
    return f"delivery error ({exc})"


def post_digest(notifiers: Sequence[Any], digest: Digest) -> list[str]:
    """Post to every notifier; return what failed (empty: everyone heard it)."""
    errors: list[str] = []
    for notifier in digest_notifiers(notifiers):
        try:
            _post_one(notifier, digest)
        except (DeliveryError, ConfigError) as exc:
            errors.append(str(exc))
            logger.error("digest_delivery_failed", extra={"error": str(exc)})
    return errors


def digest_notifiers(notifiers: Sequence[Any]) -> list[Any]:
    """Who gets the digest: a routed set stands for the notifiers it routes to (each once)."""
    out: list[Any] = []
    seen: set[int] = set()
    for notifier in notifiers:
        if not isinstance(notifier, PostsDigest) and hasattr(notifier, "routes"):
            inner = list(getattr(notifier, "default", ())) or [
                n for route in notifier.routes for n in route.notifiers
            ]
            chosen = digest_notifiers(inner)
        else:
            chosen = [notifier]
        for item in chosen:
            if id(item) not in seen:
                seen.add(id(item))
                out.append(item)
    return out


def _post_one(notifier: Any, digest: Digest) -> None:
    from chalicelib.notify.delivery import (
        ConsoleNotifier,
        SsmWebhookNotifier,
        TeamsWebhookNotifier,
        WebhookNotifier,
    )
    from chalicelib.notify.slack_bot import SlackBotNotifier
    from chalicelib.notify.sns import SnsNotifier

    if isinstance(notifier, PostsDigest):
        notifier.post_digest(digest)
    elif isinstance(notifier, SlackBotNotifier):
        notifier.deliver({**render_digest_slack(digest), "channel": notifier.channel})
    elif isinstance(notifier, TeamsWebhookNotifier):
        notifier.deliver(render_digest_teams(digest))
    elif isinstance(notifier, WebhookNotifier):
        notifier.deliver(_webhook_payload(notifier, digest))
    elif isinstance(notifier, SsmWebhookNotifier):
        # the URL lives in SSM; the wrapper has no public way to post a raw payload yet
        _post_one(notifier._current(), digest)
    elif isinstance(notifier, SnsNotifier):
        _publish(notifier, digest)
    elif isinstance(notifier, ConsoleNotifier):
        stream: IO[str] = notifier._stream
        stream.write(render_digest_text(digest) + "\n\n")
        stream.flush()
    else:
        raise ConfigError(f"notifier {notifier!r} cannot post a sweep digest")


def _webhook_payload(notifier: Any, digest: Digest) -> dict[str, Any]:
    from chalicelib.notify.delivery import JsonWebhookNotifier

    if isinstance(notifier, JsonWebhookNotifier):
        return digest_json(digest)
    return render_digest_slack(digest)


def _publish(notifier: Any, digest: Digest) -> None:
    from chalicelib.notify.sns import sns_subject

    try:
        notifier._sns.publish(
            TopicArn=notifier.topic_arn,
            Subject=sns_subject(digest_headline(digest)),
            Message=render_digest_text(digest),
        )
    except Exception as exc:
        raise DeliveryError(
            f"could not publish the digest to {notifier.topic_arn}: {exc}"
        ) from None
