"""The outbox: alerts no notifier could deliver wait in SQS and are posted again later.

`deliver` (chalicelib/alerting.py) parks an alert here when a notifier still fails after
its own retries; the state keeps its decision, so the drift is not alerted twice. The
`on_outbox` Lambda reads the queue in batches (`handle_outbox_batch`) and posts each
alert again, to the notifiers that failed and no others. A record that fails again is
reported as a partial batch failure: SQS makes it visible again after the queue's
visibility timeout, and after five receives moves it to the dead-letter queue, which the
sweep digest reports (`dead_letters`). Nothing is dropped silently.

A message body is the alert in the codec's versioned JSON plus what failed:

    {"format_version": "1", "alert": {...}, "targets": ["webhook:hooks.slack.com"],
     "error": "could not deliver to hooks.slack.com: HTTP 503 ...",
     "failed_at": "2026-11-26T17:02:11+00:00"}

Error text goes through `chalicelib.scrub` before it is written (and again when a dead
letter is read, for bodies written before): a webhook URL or a bot token is a secret, and
queue bodies are readable by whoever may read the queue.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.alerting import Delivery, post_alert
from chalicelib.errors import DeliveryError
from chalicelib.model import Status
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.codec import MalformedAlertError, alert_from_data, alert_to_data, load_json
from chalicelib.scrub import scrub
from chalicelib.state import (
    StateConflictError,
    StateStore,
    StateStoreError,
    fingerprint,
    record_key,
    with_messages,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.aws import ClientCache

logger = logging.getLogger("setpoint")

ENV_OUTBOX_QUEUE_URL = "SETPOINT_OUTBOX_QUEUE_URL"
ENV_OUTBOX_DLQ_URL = "SETPOINT_OUTBOX_DLQ_URL"
MAX_RECEIVES = 5  # the redrive policy's maxReceiveCount (set by the infrastructure)
# alerts that end a story: their record is gone, so there is no thread to remember
_CLOSING = frozenset({AlertKind.BACK_TO_NORMAL, AlertKind.APPLIED, AlertKind.GONE})
_OPEN_STATUSES = frozenset({Status.DRIFTED, Status.MISSING, Status.UNMANAGED})
_REMEMBER_ATTEMPTS = 3


@dataclass(frozen=True)
class OutboxMessage:
    """One parked alert: what to post, to whom, and the first failure (kept on requeue)."""

    alert: Alert
    targets: tuple[str, ...]  # target labels (alerting.target_label); empty: every notifier
    error: str
    failed_at: str

    def to_json(self) -> str:
        data = alert_to_data(self.alert)
        data.update(targets=list(self.targets), error=self.error, failed_at=self.failed_at)
        # ASCII only: SQS refuses some code points that JSON allows
        return json.dumps(data, ensure_ascii=True, allow_nan=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> OutboxMessage:
        data = load_json(text)
        alert = alert_from_data(data)  # checks it is an object and its version
        targets = data.get("targets", [])
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise MalformedAlertError("targets: expected a list of notifier names")
        error, failed_at = data.get("error", ""), data.get("failed_at", "")
        if not isinstance(error, str) or not isinstance(failed_at, str):
            raise MalformedAlertError("error, failed_at: expected strings")
        return cls(alert, tuple(targets), error, failed_at)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqsOutbox:
    """`ports.Outbox` on an SQS queue; `sqs_client` is a boto3 SQS client."""

    def __init__(
        self, sqs_client: Any, queue_url: str, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url
        self._clock = clock

    def __repr__(self) -> str:
        return f"SqsOutbox({self.queue_url!r})"

    def put(self, alert: Alert, error: str, targets: Sequence[str] = ()) -> None:
        """Park `alert` for the notifiers named in `targets`; raises DeliveryError when
        SQS will not take it (the caller then fails the invocation instead)."""
        failed_at = self._clock().astimezone(UTC).isoformat(timespec="seconds")
        self.requeue(OutboxMessage(alert, tuple(targets), scrub(error), failed_at))

    def requeue(self, message: OutboxMessage) -> None:
        """Send `message` as it is (a retry that narrowed its targets keeps its first
        error and time)."""
        from botocore.exceptions import BotoCoreError, ClientError

        message = dataclasses.replace(message, error=scrub(message.error))
        try:
            self._sqs.send_message(QueueUrl=self.queue_url, MessageBody=message.to_json())
        except (BotoCoreError, ClientError) as error:
            raise DeliveryError(f"the outbox queue refused the alert: {error}") from error


def handle_outbox_batch(event: Mapping[str, Any], delivery: Delivery) -> dict[str, Any]:
    """Post each parked alert again; the answer lists the records that failed.

    `event` is the Lambda SQS event (`{"Records": [...]}`). The answer is Lambda's
    partial batch response (`{"batchItemFailures": [{"itemIdentifier": id}]}`), which
    the event source mapping honours when `ReportBatchItemFailures` is on: records that
    went through are deleted, the others come back after the visibility timeout.
    """
    if not event.get("Records"):
        return {"batchItemFailures": []}  # Lambda never sends one; Powertools refuses it
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(record: SQSRecord) -> None:
        receives = record.raw_event.get("attributes", {}).get("ApproximateReceiveCount")
        retry_record(record.body, delivery, receives=receives)

    response = process_partial_response(
        event=dict(event), record_handler=handle, processor=processor
    )
    logger.info(
        "outbox_batch",
        extra={
            "records": len(event.get("Records") or ()),
            "failed": len(response.get("batchItemFailures", ())),
        },
    )
    return dict(response)


def retry_record(body: str, delivery: Delivery, *, receives: str | int | None = None) -> None:
    """Post one parked alert to its targets; raise (the record fails) unless all took it.

    When some targets took it and others still fail, the alert is parked again for the
    ones still failing and this record succeeds, so a later retry does not post twice to
    those that have it. The target list only shrinks, so this ends: in delivery, or in
    the dead-letter queue.
    """
    try:
        message = OutboxMessage.from_json(body)
    except MalformedAlertError as error:
        logger.error("outbox_malformed", extra={"error": str(error), "receives": receives})
        raise
    alert = message.alert
    stale = _overtaken(delivery.state, alert)
    if stale is not None:
        # chat has since been told the newer story; posting this now would contradict it
        logger.warning(
            "outbox_stale",
            extra={"finding_id": alert.finding.id, "alert": alert.kind, "why": stale},
        )
        return
    posted = post_alert(delivery.notifiers, alert, message.targets or None)
    remember_thread(delivery.state, alert, tuple(posted.refs))
    left = [*posted.failed, *posted.unmatched]
    about = {"finding_id": alert.finding.id, "alert": alert.kind, "receives": receives}
    if not left:
        logger.info("outbox_delivered", extra={**about, "targets": list(message.targets)})
        return
    reasons = [*posted.errors]
    reasons += [f"{label}: no such notifier is configured now" for label in posted.unmatched]
    detail = scrub("; ".join(reasons))
    logger.warning("outbox_retry_failed", extra={**about, "targets": left, "error": detail})
    narrower = set(left) < set(message.targets) if message.targets else posted.heard > 0
    if narrower and delivery.outbox is not None:
        try:
            delivery.outbox.requeue(dataclasses.replace(message, targets=tuple(left)))
            return
        except DeliveryError as error:
            detail += f"; could not requeue for the rest: {error}"
    raise DeliveryError(f"{len(left)} notifier(s) still failing: {detail}")


def _overtaken(state: StateStore, alert: Alert) -> str | None:
    """Why a parked alert no longer tells the current story, or None to post it.

    A drift alert whose drift has closed, or changed, since it was parked; a closing
    alert ("back to normal") when a newer drift has opened on the resource since.
    """
    try:
        current = state.get(record_key(alert.finding))
    except StateStoreError as error:
        logger.error("outbox_state_unread", extra={"error": str(error)})
        return None  # cannot tell: posting late beats not posting
    if alert.kind in _CLOSING:
        if current is not None and alert.since is not None and current.first_seen != alert.since:
            return "a newer drift opened on the resource since"
        return None
    if alert.finding.status not in _OPEN_STATUSES:
        return None
    if current is None:
        return "the drift closed since (its closing message was posted)"
    if current.fingerprint != fingerprint(alert.finding) or (
        alert.since is not None and current.first_seen != alert.since
    ):
        return "the drift changed since (a newer alert tells it)"
    return None


def remember_thread(
    state: StateStore, alert: Alert, refs: tuple[MessageRef, ...]
) -> tuple[MessageRef, ...] | None:
    """Store where a late first alert went, so follow-ups thread under it.

    Only when the alert started its drift's story and the drift is still the one it
    told of (same fingerprint, same first-seen time); refs already stored (from the
    notifiers that took it the first time) are kept. Returns the messages now stored,
    or None when there was nothing to attach to. A state error is logged, not raised:
    the message was posted, and failing the record would post it twice.
    """
    if not refs or alert.thread or alert.kind in _CLOSING:
        return None
    key, expected = record_key(alert.finding), fingerprint(alert.finding)
    try:
        for _ in range(_REMEMBER_ATTEMPTS):
            current = state.get(key)
            if current is None or current.fingerprint != expected:
                return None
            if alert.since is not None and current.first_seen != alert.since:
                return None  # the drift closed and opened again since
            merged = tuple(dict.fromkeys((*current.messages, *refs)))
            if merged == current.messages:
                return merged
            try:
                state.put(with_messages(current, merged), expected_version=current.version)
            except StateConflictError:
                continue
            return merged
    except StateStoreError as error:
        logger.error("outbox_thread_not_saved", extra={"error": str(error), "key": key})
    return None


@dataclass(frozen=True)
class DeadLetter:
    """An alert that never got through, as the sweep digest shows it."""

    message_id: str
    resource: str  # the resource's id (or name); "?" when the body could not be read
    resource_kind: str | None
    account: str | None
    region: str | None
    alert_kind: str | None
    error: str  # the first delivery error (or why the body cannot be read)
    failed_at: str | None  # when delivery first failed
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeadLetterReport:
    """How many alerts sit in the dead-letter queue, and a look at the first of them."""

    count: int
    letters: tuple[DeadLetter, ...] = ()

    @property
    def unseen(self) -> int:
        """Dead letters counted but not shown (past the peek's limit)."""
        return max(0, self.count - len(self.letters))


def dead_letters(
    sqs_client: Any,
    dlq_url: str,
    limit: int = 20,
    *,
    visibility_timeout: int = 30,
    wait_seconds: int = 1,
) -> DeadLetterReport:
    """Count the dead letters and peek at up to `limit` of them, leaving them queued.

    Peeked messages stay in the queue: they are received with a short visibility timeout
    (so one peek sees each once, and they are visible again soon after) and never
    deleted. A one-second wait polls every SQS server, which a short poll of a small
    queue does not. The count includes messages in flight (e.g. being peeked elsewhere).
    """
    attributes = sqs_client.get_queue_attributes(
        QueueUrl=dlq_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    letters: dict[str, DeadLetter] = {}
    want = min(limit, count)
    while len(letters) < want:
        answer = sqs_client.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, want - len(letters)),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        new = [m for m in answer.get("Messages", ()) if m["MessageId"] not in letters]
        if not new:
            break
        for raw in new:
            letters[raw["MessageId"]] = _dead_letter(raw)
    return DeadLetterReport(count=max(count, len(letters)), letters=tuple(letters.values()))


def _dead_letter(raw: Mapping[str, Any]) -> DeadLetter:
    try:
        message = OutboxMessage.from_json(raw.get("Body", ""))
    except MalformedAlertError as error:
        sent = raw.get("Attributes", {}).get("SentTimestamp")
        when = (
            datetime.fromtimestamp(int(sent) / 1000, UTC).isoformat(timespec="seconds")
            if sent
            else None
        )
        return DeadLetter(
            raw["MessageId"], "?", None, None, None, None, scrub(f"unreadable: {error}"), when
        )
    finding = message.alert.finding
    return DeadLetter(
        message_id=raw["MessageId"],
        resource=finding.id or finding.name or "?",
        resource_kind=finding.kind.value,
        account=finding.account,
        region=finding.region,
        alert_kind=message.alert.kind.value,
        error=scrub(message.error),
        failed_at=message.failed_at or None,
        targets=message.targets,
    )


def queue_region(queue_url: str) -> str | None:
    """The region in an SQS queue URL (`https://sqs.eu-west-1.amazonaws.com/...`, or the
    legacy `https://eu-west-1.queue.amazonaws.com/...`); None for a local endpoint."""
    host = urllib.parse.urlsplit(queue_url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 4 and parts[0] == "sqs" and parts[2] == "amazonaws":
        return parts[1]
    if len(parts) >= 4 and parts[1] == "queue" and parts[2] == "amazonaws":
        return parts[0]
    return None


def outbox_from_env(
    env: Mapping[str, str], clients: ClientCache, *, clock: Callable[[], datetime] = _utc_now
) -> SqsOutbox | None:
    """The outbox named by SETPOINT_OUTBOX_QUEUE_URL; None when unset (no outbox)."""
    url = (env.get(ENV_OUTBOX_QUEUE_URL) or "").strip()
    if not url:
        return None
    return SqsOutbox(clients.client("sqs", queue_region(url)), url, clock=clock)


def dead_letters_from_env(
    env: Mapping[str, str], clients: ClientCache, limit: int = 20
) -> DeadLetterReport | None:
    """The dead letters of the queue named by SETPOINT_OUTBOX_DLQ_URL; None when unset."""
    url = (env.get(ENV_OUTBOX_DLQ_URL) or "").strip()
    if not url:
        return None
    return dead_letters(clients.client("sqs", queue_region(url)), url, limit)
