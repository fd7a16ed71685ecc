"""What waits in the dead-letter queues, for the sweep digest.

An alarm says that a queue is not empty; the digest says what is in it, where the team
already reads: per queue, how many messages wait and when the oldest one read was sent,
and a few of them in one line each. Three queues are read (SETPOINT_DEAD_LETTER_QUEUE_URLS):

- `setpoint-events-dlq`, Lambda's on-failure destination: a record of the function, why it
  gave up (`RetriesExhausted`, `EventAgeExceeded`), the attempts, the error, and the event;
- `setpoint-rules-dlq`, EventBridge's: the event itself, with the rule and the error as
  message attributes;
- `setpoint-sweep-dlq`: sweep shards that failed three times.

(The outbox's dead letters are alerts; the digest lists them as failed deliveries.)

Messages are peeked, never taken: received with a short visibility timeout and left in
the queue. Every summary goes through `scrub` (an error may quote a webhook URL) and
`one_line` (an event is cloud text: no control character reaches chat).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.cloud_text import one_line
from chalicelib.errors import ConfigError
from chalicelib.scrub import scrub
from chalicelib.sweep.shards import decode_message

SAMPLES = 3  # messages quoted per queue: enough to see the pattern, short enough for chat
SUMMARY_LIMIT = 300


@dataclass(frozen=True)
class QueueLook:
    """One dead-letter queue as the digest shows it."""

    name: str
    count: int  # visible and in flight
    oldest_sent: str | None = None  # the oldest SentTimestamp among the messages read
    read: int = 0  # messages read (all of them when read == count)
    samples: tuple[str, ...] = ()
    error: str | None = None  # why the queue could not be read


def queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] or url


def queue_urls(value: str | None) -> tuple[str, ...]:
    """SETPOINT_DEAD_LETTER_QUEUE_URLS: URLs separated by commas; blanks ignored."""
    return tuple(dict.fromkeys(u.strip() for u in (value or "").split(",") if u.strip()))


class DeadLetterQueues:
    """Counts and peeks at dead-letter queues through one SQS client; deletes nothing."""

    def __init__(
        self,
        sqs_client: Any,
        *,
        samples: int = SAMPLES,
        visibility_timeout: int = 30,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs = sqs_client
        self._samples = samples
        self._visibility = visibility_timeout
        self._wait = wait_seconds

    def look(self, url: str) -> QueueLook:
        """The queue's count, its oldest message read and a few summaries; an SQS error
        is the look's `error`, never raised (the digest goes out all the same)."""
        name = queue_name(url)
        try:
            return self._look(url, name)
        except (ClientError, BotoCoreError) as exc:
            return QueueLook(name, 0, error=unreadable(exc))

    def look_all(self, urls: Sequence[str]) -> tuple[QueueLook, ...]:
        return tuple(self.look(url) for url in urls)

    def _look(self, url: str, name: str) -> QueueLook:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )
        if not count:
            return QueueLook(name, 0)
        seen: dict[str, Mapping[str, Any]] = {}
        # read up to ten at once, to find the oldest among more than the few quoted
        want = min(count, max(self._samples, 10))
        while len(seen) < want:
            answer = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, want - len(seen)),
                VisibilityTimeout=self._visibility,
                WaitTimeSeconds=self._wait,
                MessageSystemAttributeNames=["SentTimestamp"],
                MessageAttributeNames=["All"],
            )
            new = [m for m in answer.get("Messages", ()) if m["MessageId"] not in seen]
            if not new:
                break
            seen.update((m["MessageId"], m) for m in new)
        messages = sorted(seen.values(), key=_sent)
        oldest = _iso(_sent(messages[0])) if messages and _sent(messages[0]) else None
        samples = tuple(summarize(m) for m in messages[: self._samples])
        return QueueLook(name, max(count, len(seen)), oldest, len(seen), samples)


def _sent(message: Mapping[str, Any]) -> int:
    try:
        return int(message.get("Attributes", {}).get("SentTimestamp", 0))
    except (TypeError, ValueError):
        return 0


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")


def unreadable(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return scrub(f"SQS refused ({error.get('Code', '?')}: {error.get('Message', '')})")
    return scrub(f"SQS unreachable ({exc})")


# -- one line per message, whatever put it there --------------------------------------


def summarize(message: Mapping[str, Any]) -> str:
    """One scrubbed line for a dead letter: Lambda's on-failure record, an event
    EventBridge gave up on, a sweep shard, or else its size."""
    body = str(message.get("Body", ""))
    attributes = _message_attributes(message)
    try:
        data: Any = json.loads(body)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("requestContext"), dict):
        line = _on_failure(data)
    elif "ERROR_CODE" in attributes or "RULE_ARN" in attributes:
        line = _undelivered(attributes, data)
    elif isinstance(data, dict) and (shard := _shard(body)):
        line = shard
    else:
        line = f"a message of {len(body.encode('utf-8'))} bytes that is not a known record"
    return _fit(scrub(one_line(line)))


def _fit(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def _message_attributes(message: Mapping[str, Any]) -> dict[str, str]:
    found = {}
    for key, value in (message.get("MessageAttributes") or {}).items():
        if isinstance(value, Mapping) and "StringValue" in value:
            found[str(key)] = str(value["StringValue"])
    return found


def _last(arn: object, separator: str) -> str:
    return str(arn or "?").rsplit(separator, 1)[-1]


def _event(payload: Any) -> str:
    """What the event was: the CloudTrail call and who made it, or its source and type."""
    if not isinstance(payload, dict):
        return "an event that is not JSON"
    detail = payload.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    name = detail.get("eventName")
    if name:
        who = detail.get("userIdentity")
        who = who if isinstance(who, dict) else {}
        text = f"{name} by {who.get('arn') or who.get('type') or 'unknown'}"
        event_id = detail.get("eventID")
        return f"{text} (event {event_id})" if event_id else text
    kind = " ".join(str(payload.get(k)) for k in ("source", "detail-type") if payload.get(k))
    return kind or "an event without source"


def _on_failure(record: Mapping[str, Any]) -> str:
    context = record["requestContext"]
    function = _last(context.get("functionArn"), ":function:").split(":", 1)[0]
    condition = context.get("condition") or "failed"
    attempts = context.get("approximateInvokeCount")
    response = record.get("responsePayload")
    error = ""
    if isinstance(response, dict):
        error = ": ".join(str(response[k]) for k in ("errorType", "errorMessage") if k in response)
    line = f"{function} gave up ({condition}"
    line += f", {attempts} attempt(s))" if attempts else ")"
    if error:
        line += f": {error}"
    return f"{line} on {_event(record.get('requestPayload'))}"


def _undelivered(attributes: Mapping[str, str], event: Any) -> str:
    rule = _last(attributes.get("RULE_ARN"), "/")
    code = attributes.get("ERROR_CODE", "")
    message = attributes.get("ERROR_MESSAGE", "")
    error = ": ".join(x for x in (code, message) if x) or "no error given"
    return f"rule {rule} could not deliver {_event(event)}: {error}"


def _shard(body: str) -> str | None:
    try:
        message = decode_message(body)
    except ConfigError:
        return None
    shard = message.shard
    return (
        f"sweep shard {shard.account}/{shard.region}/{shard.family} of run {message.run_id} "
        "was not swept (three attempts failed)"
    )


# -- into the digest -------------------------------------------------------------------


def dead_letter_lines(looks: Sequence[QueueLook]) -> tuple[list[str], int]:
    """(lines for the digest, messages waiting in all): a queue with nothing in it says
    nothing; one that could not be read says why."""
    lines: list[str] = []
    total = 0
    for look in looks:
        if look.error:
            lines.append(f"{look.name} could not be read: {look.error}")
            continue
        if not look.count:
            continue
        total += look.count
        head = f"{look.name}: {look.count} waiting"
        if look.oldest_sent:
            oldest = "oldest" if look.read >= look.count else f"oldest of {look.read} read"
            head += f", {oldest} sent {look.oldest_sent}"
        lines.append(head)
        lines += [f"{look.name}: {sample}" for sample in look.samples]
    return lines, total


def read_dead_letters(
    sqs_client: Callable[[str], Any], urls: Sequence[str]
) -> tuple[list[str], int]:
    """The digest's lines for the queues at `urls`, each through the client for its URL."""
    if not urls:
        return [], 0
    return dead_letter_lines([DeadLetterQueues(sqs_client(url)).look(url) for url in urls])
