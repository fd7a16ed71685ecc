"""Findings to alerts to chat: the state decides what is worth saying, notifiers say it.

Events, re-checks, spec changes and the sweep all end here, so every entry point follows
the same rules: one alert per drift, and an alert nobody heard is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.events.route import Skipped
from chalicelib.model import Finding, is_gone
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.delivery import SsmWebhookNotifier
from chalicelib.notify.quiet import QuietSettings
from chalicelib.notify.routing import RoutedDeliveryError, RoutedNotifier
from chalicelib.ports import Clock, Notifier, Outbox, RecheckQueue, StateStore
from chalicelib.scrub import error_text
from chalicelib.state import Cause, apply_finding, release, remember_messages

if TYPE_CHECKING:
    from chalicelib.notify.quieter import Quieter

logger = logging.getLogger("setpoint")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Delivery:
    """What `deliver` uses: the alert state, the clock, who to tell, where failures wait.

    `outbox` None: an alert nobody heard fails the invocation instead (Lambda retries).
    `reminder` None: open drift is never re-announced.
    """

    state: StateStore
    notifiers: Sequence[Notifier] = ()
    clock: Clock = utc_now
    outbox: Outbox | None = None
    reminder: timedelta | None = None
    # alert storms (notify/quiet.py): None posts every alert as decided
    quiet: QuietSettings | None = None
    recheck: RecheckQueue | None = None  # asked to read a resource when its window ends


@dataclass
class EventOutcome:
    """What one invocation did, returned to the caller and logged."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivered: int = 0
    alerts: list[Alert] = field(default_factory=list)
    deduplicated: int = 0
    outboxed: int = 0  # alerts parked in the outbox for the notifiers that failed
    coalesced: int = 0  # changes folded into a message already posted (notify/coalesce.py)
    held: int = 0  # new alerts summarised by the storm cap (notify/storm.py)
    quieted: list[Finding] = field(default_factory=list)  # the findings folded or held
    handed_off: int = 0  # findings sent to the revert function, which alerts on them

    def as_log(self) -> dict[str, Any]:
        return {
            "findings": [
                {
                    "kind": f.kind.value,
                    "id": f.id,
                    "status": f.status.value,
                    "changes": len(f.changes),
                    **({"gone": True} if is_gone(f) else {}),  # deleted: not drift
                    # on_drift: revert: calls that went through, and those that did not
                    **(
                        {
                            "reverted": sum(r.done for r in f.reverts),
                            "not_reverted": sum(not r.done for r in f.reverts),
                        }
                        if f.reverts
                        else {}
                    ),
                }
                for f in self.findings
            ],
            "skipped": [{"reason": s.reason.value, "detail": s.detail} for s in self.skipped],
            "errors": self.errors,
            "alerts": [
                {"kind": a.kind.value, "id": a.finding.id, "status": a.finding.status.value}
                for a in self.alerts
            ],
            "delivered": self.delivered,
            "deduplicated": self.deduplicated,
            "outboxed": self.outboxed,
            "coalesced": self.coalesced,
            "held": self.held,
            "handed_off": self.handed_off,
        }


def deliver(
    delivery: Delivery,
    findings: list[Finding],
    outcome: EventOutcome,
    *,
    cause: Cause = "event",
    raise_on_failure: bool = True,
) -> None:
    """Turn findings into alerts through the state store, post them, remember where.

    The state write comes first and is conditional, so of two Lambdas handling the same
    drift only one alerts; a drift already alerted (same fingerprint) posts nothing.
    When a notifier still fails after its own retries, the alert goes to the outbox for
    just the notifiers that failed, and the state keeps its decision (the outbox owes
    chat that message; a retry of this invocation must not alert twice). Without an
    outbox, or when the outbox cannot take it, the old rule holds: if no notifier heard
    it the claim is released and — for events — the invocation fails, so Lambda's retry
    alerts again: nothing is lost. The sweep passes `raise_on_failure=False`: the next
    sweep finds the same drift anyway. Any exception a notifier raises counts as that
    notifier failing (classified and logged, its text scrubbed), and one raised by the
    posting code itself releases the claim before it propagates.
    """
    failures: list[str] = []
    quiet = _quieter(delivery)
    for finding in findings:
        decision = apply_finding(
            delivery.state, finding, now=delivery.clock(), cause=cause, reminder=delivery.reminder
        )
        alert = decision.alert
        flush = quiet.owed(finding, decision) if quiet is not None else None
        if flush is not None:  # a coalescing window ended with changes chat has not seen
            alert = flush.alert
        elif alert is None:
            if finding.is_problem and not is_gone(finding):
                outcome.deduplicated += 1
            continue
        elif quiet is not None:
            alert = quiet.screen(alert, decision)
            if alert is None:  # folded into a message already posted, or held for a summary
                outcome.quieted.append(finding)
                continue
        outcome.alerts.append(alert)
        try:
            posted = post_alert(delivery.notifiers, alert, flush.only if flush else None)
        except BaseException as exc:  # not a notifier's (those are caught): still not lost
            released = release(delivery.state, decision)
            logger.error(
                "post_crashed",
                exc_info=True,
                extra={"error": error_text(exc), "finding_id": finding.id, "released": released},
            )
            raise
        outcome.delivered += posted.heard
        if decision.starts_thread and posted.refs and decision.record is not None:
            remember_messages(delivery.state, decision.record, tuple(posted.refs))
        if quiet is not None and posted.heard:
            quiet.posted(alert, decision, posted.refs)  # its window opens
        if not posted.failed:
            continue
        if delivery.outbox is not None and _park(delivery.outbox, alert, posted, outcome):
            outcome.outboxed += 1
            if quiet is not None and not posted.heard:
                quiet.posted(alert, decision, ())  # the outbox owes it: fold what follows
            continue
        failures.extend(posted.errors)
        if not posted.heard:
            if flush is not None and quiet is not None:
                quiet.give_back(flush)  # the window still owes its follow-up
            else:
                release(delivery.state, decision)  # nobody heard it: let the retry alert again
    if quiet is not None:
        outcome.coalesced += quiet.coalesced
        outcome.held += quiet.held
        outcome.errors.extend(quiet.finish())
    outcome.errors.extend(f"delivery_failed: {failure}" for failure in failures)
    if failures and raise_on_failure:
        raise DeliveryError("; ".join(failures))


def _quieter(delivery: Delivery) -> Quieter | None:
    if delivery.quiet is None or not delivery.quiet.active:
        return None
    from chalicelib.notify.quieter import Quieter  # loaded only where storms are controlled

    return Quieter(delivery, delivery.quiet, target_label)


def _park(outbox: Outbox, alert: Alert, posted: Posted, outcome: EventOutcome) -> bool:
    """Hand the alert to the outbox for the notifiers that failed; False if it refused."""
    try:
        outbox.put(alert, posted.first_error, tuple(posted.failed))
    except Exception as exc:  # any outbox failure: fall back to failing the invocation
        outcome.errors.append(f"outbox_failed: {error_text(exc)}")
        logger.error(
            "outbox_failed",
            extra={"error": error_text(exc), "finding_id": alert.finding.id, "alert": alert.kind},
        )
        return False
    logger.warning(
        "alert_outboxed",
        extra={
            "finding_id": alert.finding.id,
            "alert": alert.kind,
            "targets": list(posted.failed),
            "error": posted.first_error,
        },
    )
    return True


@dataclass
class Posted:
    """What posting one alert to the configured notifiers did."""

    refs: list[MessageRef] = field(default_factory=list)  # messages that got through
    errors: list[str] = field(default_factory=list)  # one line per notifier that failed
    failed: list[str] = field(default_factory=list)  # their target labels
    heard: int = 0  # notifiers (top level) that delivered it, wholly or in part
    unmatched: list[str] = field(default_factory=list)  # asked-for targets not configured

    @property
    def first_error(self) -> str:
        return self.errors[0] if self.errors else ""


def target_label(notifier: Any) -> str:
    """The name a failed notifier is retried by: stable across processes.

    Mostly the notifier's `name` (its MessageRef name). A webhook whose URL sits in SSM
    is named after its host only once the URL is read, so it is labelled by its
    parameter (or the name configured for it), which a fresh process knows too.
    """
    if isinstance(notifier, SsmWebhookNotifier):
        return str(notifier.options.get("name") or f"ssm:{notifier.parameter_name}")
    return str(getattr(notifier, "name", None) or type(notifier).__name__)


def post_alert(
    notifiers: Sequence[Notifier], alert: Alert, only: Collection[str] | None = None
) -> Posted:
    """Post to every notifier (or, given `only`, to the targets so labelled; a routed
    notifier is searched for them whichever route chose them)."""
    posted = Posted()
    matched: set[str] = set()
    for notifier in notifiers:
        target: Notifier = notifier
        if only is not None:
            if isinstance(notifier, RoutedNotifier):
                chosen = [n for n in _members(notifier) if target_label(n) in only]
                if not chosen:
                    continue
                target = RoutedNotifier([], chosen)
                matched.update(target_label(n) for n in chosen)
            elif target_label(notifier) in only:
                matched.add(target_label(notifier))
            else:
                continue
        _post_one(notifier, target, alert, posted)
    if only is not None:
        posted.unmatched = [label for label in only if label not in matched]
    return posted


def _members(routed: RoutedNotifier) -> list[Any]:
    found: dict[int, Any] = {}
    for route in routed.routes:
        found.update((id(n), n) for n in route.notifiers)
    found.update((id(n), n) for n in routed.default)
    return list(found.values())


def failure_class(error: BaseException) -> str:
    """What kind of failure a notifier's exception is: `delivery` (the chat would not
    take it), `config` (a setting or secret is wrong) or `unexpected` (a bug, or input
    nobody foresaw). Each one fails that notifier only; none is swallowed."""
    if isinstance(error, RoutedDeliveryError):
        kinds = {failure_class(f.error) for f in error.failures}
        return kinds.pop() if len(kinds) == 1 else "mixed"
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, DeliveryError):
        return "delivery"
    return "unexpected"


def _post_one(notifier: Notifier, target: Notifier, alert: Alert, posted: Posted) -> None:
    try:
        sent = target.post_alert(alert)
    except Exception as exc:  # anything: this notifier failed, the alert is still owed
        partial = tuple(getattr(exc, "refs", ()))  # a routed notifier may half succeed
        posted.refs.extend(partial)
        posted.heard += bool(partial)
        text = error_text(exc)  # the one place an exception becomes stored, logged text
        posted.errors.append(text)
        if isinstance(exc, RoutedDeliveryError):
            posted.failed.extend(target_label(f.notifier) for f in exc.failures)
        else:
            posted.failed.append(target_label(notifier))
        kind = failure_class(exc)
        logger.error(
            "delivery_failed",
            exc_info=kind != "delivery",  # a traceback (scrubbed) for what nobody expected
            extra={
                "error": text,
                "failure": kind,
                "finding_id": alert.finding.id,
                "status": alert.finding.status,
                "alert": alert.kind,
            },
        )
        return
    posted.heard += 1
    if isinstance(sent, tuple):
        posted.refs.extend(sent)
    elif sent is not None:
        posted.refs.append(sent)
