"""A second read after a delay, so eventual consistency and create sequences stay quiet.

Two rules, both active only when there is a `recheck` queue (the Lambda; the CLI
and the demo conclude from the first read, as before):

* Settle window. A create call (CreateSecurityGroup, CreateBucket, CreateRole...) opens a
  window of `recheck_delay_seconds` on that resource and schedules one re-check for its
  end. Terraform, CloudFormation and the console follow a create with several calls
  seconds apart; problem findings from events on the resource inside its window are not
  posted. The re-check (cause "recheck") posts whatever is still off then: one alert at
  most, describing the final state. Nothing is lost: a window opens only once its
  re-check is on the queue, and a finding is held only while its window is open.
* Stale read. When an event's read gave chat nothing new (in sync with nothing to close,
  or the drift already alerted), the read may predate the change: the resource is read
  once more after the delay. At most one pending re-check per resource is kept, unless
  it is due too soon to see this event's change (within half the delay).

A re-check never schedules another re-check.

Queue messages are JSON, versioned: `{"version": 1, "refs": [...], "actor": {...}|null}`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.alerting import Delivery, EventOutcome, deliver
from chalicelib.env_numbers import whole_number
from chalicelib.errors import SetpointError
from chalicelib.iac_principals import IacPrincipals
from chalicelib.kinds.registry import creates, kind_named
from chalicelib.model import Actor, Finding, ResourceRef, Status, is_gone
from chalicelib.ports import Clock, Evaluator, RecheckQueue, StateStore
from chalicelib.state.windows import RECHECK, SETTLE, WindowStore, window_key, windows_for

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

    from chalicelib.events.route import Routed

logger = logging.getLogger("setpoint")

MESSAGE_VERSION = 1
SQS_MAX_DELAY_SECONDS = 900
ENV_RECHECK_QUEUE_URL = "SETPOINT_RECHECK_QUEUE_URL"
ENV_RECHECK_DELAY_SECONDS = "SETPOINT_RECHECK_DELAY_SECONDS"
DEFAULT_DELAY_SECONDS = 90


class RecheckError(SetpointError):
    """A re-check could not be scheduled (SQS refused it) or its message cannot be read."""


# -- the message ------------------------------------------------------------------------------


def encode_message(refs: Sequence[ResourceRef], actor: Actor | None) -> str:
    """The queue message for a re-check of `refs`, caused by `actor`'s call."""
    return json.dumps(
        {
            "version": MESSAGE_VERSION,
            "refs": [
                {
                    "kind": ref.kind.value,
                    "account": ref.account,
                    "region": ref.region,
                    "id": ref.id,
                    "name": ref.name,
                    "vpc_id": ref.vpc_id,
                    "rule_ids": list(ref.rule_ids),
                }
                for ref in refs
            ],
            "actor": dataclasses.asdict(actor) if actor is not None else None,
        },
        sort_keys=True,
    )


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise RecheckError(f"re-check message: {name} is {type(value).__name__}, not a string")


def decode_message(body: str) -> tuple[tuple[ResourceRef, ...], Actor | None]:
    """(refs, actor) from a queue message; RecheckError names what is wrong."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise RecheckError(f"re-check message is not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or data.get("version") != MESSAGE_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise RecheckError(f"re-check message version {version!r} (this code reads 1)")
    raw_refs = data.get("refs")
    if not isinstance(raw_refs, list) or not raw_refs:
        raise RecheckError("re-check message: refs must be a non-empty list")
    refs = []
    for raw in raw_refs:
        if not isinstance(raw, dict):
            raise RecheckError("re-check message: each ref must be an object")
        try:
            kind = kind_named(str(raw.get("kind")))
        except ValueError:
            raise RecheckError(f"re-check message: unknown kind {raw.get('kind')!r}") from None
        region = _text(raw, "region")
        if not region:
            raise RecheckError("re-check message: a ref has no region")
        rule_ids = raw.get("rule_ids") or []
        if not isinstance(rule_ids, list) or not all(isinstance(r, str) for r in rule_ids):
            raise RecheckError("re-check message: rule_ids must be a list of strings")
        refs.append(
            ResourceRef(
                kind,
                _text(raw, "account"),
                region,
                _text(raw, "id"),
                _text(raw, "name"),
                _text(raw, "vpc_id"),
                tuple(rule_ids),
            )
        )
    return tuple(refs), _actor(data.get("actor"))


def _actor(raw: object) -> Actor | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("event_name"), str):
        raise RecheckError("re-check message: actor must be an object with an event_name")
    names = {f.name for f in dataclasses.fields(Actor)}
    return Actor(
        **{k: _text(raw, k) for k in names if k != "event_name"}, event_name=raw["event_name"]
    )


# -- the queue --------------------------------------------------------------------------------


class SqsRecheckQueue:
    """`RecheckQueue` on an SQS queue: the delay is the message's DelaySeconds (0..900).

    Needs sqs:SendMessage on the queue.
    """

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def schedule(
        self, refs: Sequence[ResourceRef], actor: Actor | None, delay_seconds: int
    ) -> None:
        delay = min(max(int(delay_seconds), 0), SQS_MAX_DELAY_SECONDS)
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=encode_message(refs, actor),
                DelaySeconds=delay,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise RecheckError(f"re-check queue refused the message ({code})") from exc
        except BotoCoreError as exc:
            raise RecheckError(f"re-check queue unreachable: {exc}") from exc


def delay_from(value: str | None) -> int:
    """Seconds before a re-check, from the environment; SQS allows 0..900."""
    return whole_number(
        ENV_RECHECK_DELAY_SECONDS,
        value,
        DEFAULT_DELAY_SECONDS,
        0,
        SQS_MAX_DELAY_SECONDS,
        why="SQS delays a message 0..900 seconds",
    )


def recheck_from_env(env: Mapping[str, str], clients: Any) -> SqsRecheckQueue | None:
    """The re-check queue from SETPOINT_RECHECK_QUEUE_URL; None (first read is final)
    when unset. `clients` is a ClientCache; the SQS client is built only here."""
    url = (env.get(ENV_RECHECK_QUEUE_URL) or "").strip()
    if not url:
        return None
    return SqsRecheckQueue(clients.client("sqs"), url)


# -- the event side: settle windows and stale reads -------------------------------------------


def _key(purpose: str, item: Finding | ResourceRef) -> str:
    return window_key(purpose, item.kind, item.account, item.region, item.id, item.name)


class Settling:
    """The re-check rules for one event invocation (module docstring)."""

    def __init__(
        self,
        state: StateStore,
        clock: Clock,
        queue: RecheckQueue,
        delay_seconds: int,
        iac: IacPrincipals | None = None,
    ) -> None:
        self.queue = queue
        self.iac = iac
        self.windows: WindowStore = windows_for(state)
        self.now: datetime = clock()
        self.delay = min(max(int(delay_seconds), 0), SQS_MAX_DELAY_SECONDS)
        self.until = self.now + timedelta(seconds=self.delay)

    def screen(
        self, routed: Routed, findings: list[Finding]
    ) -> tuple[list[Finding], list[Finding]]:
        """(post now, held for the re-check at the end of their settle window).

        A call by an IaC deployer opens the longer IaC window on every resource it
        touched: the state write that follows the apply re-reads them and closes it
        (`state_write.py`); if none comes, its re-check posts what is still off.
        """
        if self.iac is not None and self.iac.deployed_by(routed.actor):
            seconds = self.iac.settle_seconds
            # a window that ends in the second half of this one stands; a shorter one (a
            # create's, an early call of a long apply) is moved on
            self._open_windows(
                list(routed.refs),
                routed.actor,
                seconds,
                unless_open_after=self.now + timedelta(seconds=seconds / 2),
            )
        else:
            created = [ref for ref in routed.refs if creates(routed.actor.event_name, ref.kind)]
            if created:
                self._open_windows(created, routed.actor, self.delay, unless_open_after=self.now)
        now: list[Finding] = []
        held: list[Finding] = []
        for finding in findings:
            settling = (
                finding.is_problem
                and not is_gone(finding)
                and self.windows.open_until(_key(SETTLE, finding), self.now) is not None
            )
            (held if settling else now).append(finding)
        for finding in held:
            # a change late in the window may not show in its re-check yet
            self._ensure_recheck(finding, routed.actor, required=True)
        return now, held

    def after_delivery(self, findings: Sequence[Finding], outcome: EventOutcome) -> None:
        """Re-read once what the event explained nothing about: the read may be stale."""
        alerted = {id(alert.finding) for alert in outcome.alerts}
        alerted |= {id(finding) for finding in outcome.quieted}  # chat heard it (folded)
        for finding in findings:
            if id(finding) in alerted or is_gone(finding) or finding.status is Status.UNKNOWN:
                continue
            self._ensure_recheck(finding, finding.actor, required=False)

    def _open_windows(
        self,
        refs: list[ResourceRef],
        actor: Actor,
        seconds: int,
        *,
        unless_open_after: datetime,
    ) -> None:
        until = self.now + timedelta(seconds=seconds)
        claimed = [
            key
            for key in (_key(SETTLE, ref) for ref in refs)
            if self.windows.claim(key, until, unless_open_after=unless_open_after)
        ]
        if not claimed:
            return  # already settling (a duplicate create): its re-check is on its way
        try:
            self.queue.schedule(refs, actor, seconds)
        except RecheckError as exc:
            # no re-check, no window: the first read is posted as it is
            logger.error("recheck_not_scheduled", extra={"error": str(exc)})
            for key in claimed:
                self.windows.release(key, until)
            return
        for ref in refs:
            self.windows.claim(_key(RECHECK, ref), until, unless_open_after=self.now)
        logger.info(
            "settle_window_opened",
            extra={"refs": [ref.label() for ref in refs], "seconds": seconds},
        )

    def _ensure_recheck(self, finding: Finding, actor: Actor | None, *, required: bool) -> None:
        """Schedule a re-read unless one is due late enough; `required`: a held finding
        depends on it, so failing to schedule fails the event (Lambda retries it)."""
        key = _key(RECHECK, finding)
        soon = self.now + timedelta(seconds=self.delay / 2)
        if not self.windows.claim(key, self.until, unless_open_after=soon):
            return  # one is due late enough to see this change
        try:
            self.queue.schedule([finding.ref], actor, self.delay)
        except RecheckError as exc:
            self.windows.release(key, self.until)
            if required:
                raise
            logger.error("recheck_not_scheduled", extra={"error": str(exc), "id": finding.id})


# -- the re-check side ------------------------------------------------------------------------


def recheck(body: str, reader: Evaluator, delivery: Delivery) -> EventOutcome:
    """Read the resources of one message again and deliver what is off (cause "recheck").

    A message that cannot be read is logged and dropped (retrying cannot fix it; the sweep
    still covers the resource). A delivery failure raises, so SQS delivers it again.
    """
    outcome = EventOutcome()
    try:
        refs, actor = decode_message(body)
    except RecheckError as exc:
        outcome.errors.append(f"malformed_recheck: {exc}")
        logger.error("malformed_recheck", extra={"error": str(exc)})
        return outcome
    outcome.findings.extend(reader.evaluate(refs, actor))
    deliver(delivery, outcome.findings, outcome, cause="recheck")
    logger.info("recheck_done", extra=outcome.as_log())
    return outcome


def handle_recheck_batch(
    records: Sequence[Mapping[str, Any]],
    reader: Evaluator,
    delivery: Delivery,
    context: Any = None,
) -> PartialItemFailureResponse:
    """The `on_recheck` SQS handler: each message on its own; failed ones are reported in
    `batchItemFailures`, so only they come back (the event source mapping must have
    ReportBatchItemFailures on; otherwise use batch size 1)."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def on_record(record: SQSRecord) -> None:
        recheck(record.body, reader, delivery)

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event={"Records": list(records)},
        record_handler=on_record,
        processor=processor,
        context=context,
    )
