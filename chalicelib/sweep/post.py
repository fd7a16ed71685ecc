"""Posting the digest through the notifiers, and reading failed deliveries.

Every notifier renders and posts a digest itself (`post_digest`); a routed set posts to
its default notifiers (or, without defaults, to every notifier it routes to, once each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.notify.routing import RoutedDeliveryError
from chalicelib.ports import Notifier
from chalicelib.scrub import error_text, scrub
from chalicelib.sweep.digest import Digest

if TYPE_CHECKING:
    from chalicelib.notify.outbox import DeadLetter, DeadLetterReport

logger = logging.getLogger("setpoint")


class FailedDeliveries(Protocol):
    """Alerts no notifier could deliver, parked in the outbox's dead-letter queue.

    `chalicelib.notify.outbox` (the module itself) satisfies this.
    """

    def dead_letters(self, sqs_client: Any, dlq_url: str) -> DeadLetterReport: ...


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
    return scrub(line)  # the digest is posted to chat: no secret from an old body either


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
        return [scrub(f"the outbox dead-letter queue could not be read: {reason}")]
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


@dataclass
class DigestPosted:
    """What posting a digest did: one error per notifier that failed, and how many of the
    notifiers (top level: a routed set counts once) delivered it, wholly or in part."""

    errors: list[str] = field(default_factory=list)
    heard: int = 0


def post_digest(notifiers: Sequence[Notifier], digest: Digest) -> DigestPosted:
    """Post to every notifier; a failure is logged and counted, never raised."""
    posted = DigestPosted()
    for notifier in notifiers:
        try:
            notifier.post_digest(digest)
        except RoutedDeliveryError as exc:
            posted.heard += exc.attempted > len(exc.failures)
            posted.errors += [f"{f.name}: {error_text(f.error)}" for f in exc.failures]
        except Exception as exc:  # unexpected ones too: the next notifier still posts
            posted.errors.append(error_text(exc))
        else:
            posted.heard += 1
    for error in posted.errors:
        logger.error("digest_delivery_failed", extra={"error": error})
    return posted
