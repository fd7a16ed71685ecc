"""Findings to alerts to chat: the state decides what is worth saying, notifiers say it.

Events, re-checks, spec changes and the sweep all end here, so every entry point follows
the same rules: one alert per drift, and an alert nobody heard is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ConfigError, DeliveryError
from chalicelib.events.route import Skipped
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.runtime import Runtime
from chalicelib.state import Cause, apply_finding, release, remember_messages

logger = logging.getLogger("setpoint")


@dataclass
class EventOutcome:
    """What one invocation did, returned to the caller and logged."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    delivered: int = 0
    alerts: list[Alert] = field(default_factory=list)
    deduplicated: int = 0

    def as_log(self) -> dict[str, Any]:
        return {
            "findings": [
                {
                    "kind": f.kind.value,
                    "id": f.id,
                    "status": f.status.value,
                    "changes": len(f.changes),
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
        }


def deliver(
    runtime: Runtime,
    findings: list[Finding],
    outcome: EventOutcome,
    *,
    cause: Cause = "event",
    raise_on_failure: bool = True,
) -> None:
    """Turn findings into alerts through the state store, post them, remember where.

    The state write comes first and is conditional, so of two Lambdas handling the same
    drift only one alerts; a drift already alerted (same fingerprint) posts nothing. If
    every notifier fails, the claim is released and — for events — the invocation fails,
    so Lambda's retry alerts again: nothing is lost. The sweep passes
    `raise_on_failure=False`: the next sweep finds the same drift anyway.
    """
    failures: list[str] = []
    for finding in findings:
        decision = apply_finding(
            runtime.state, finding, now=runtime.clock(), cause=cause, reminder=runtime.reminder
        )
        alert = decision.alert
        if alert is None:
            if finding.is_problem:
                outcome.deduplicated += 1
            continue
        outcome.alerts.append(alert)
        refs, errors, heard = _post(runtime, alert)
        failures.extend(errors)
        outcome.delivered += heard
        if errors and not heard:
            release(runtime.state, decision)  # nobody heard it: let the retry alert again
        elif decision.starts_thread and refs and decision.record is not None:
            remember_messages(runtime.state, decision.record, tuple(refs))
    outcome.errors.extend(f"delivery_failed: {failure}" for failure in failures)
    if failures and raise_on_failure:
        raise DeliveryError("; ".join(failures))


def _post(runtime: Runtime, alert: Alert) -> tuple[list[MessageRef], list[str], int]:
    """(where it went, what failed, how many notifiers delivered it)."""
    refs: list[MessageRef] = []
    errors: list[str] = []
    heard = 0
    for notifier in runtime.notifiers:
        try:
            posted = notifier.post(alert)
        except (DeliveryError, ConfigError) as exc:
            partial = tuple(getattr(exc, "refs", ()))  # a routed notifier may half succeed
            refs.extend(partial)
            heard += bool(partial)
            errors.append(str(exc))
            logger.error(
                "delivery_failed",
                extra={
                    "error": str(exc),
                    "finding_id": alert.finding.id,
                    "status": alert.finding.status,
                    "alert": alert.kind,
                },
            )
            continue
        heard += 1
        if isinstance(posted, tuple):
            refs.extend(posted)
        elif posted is not None:
            refs.append(posted)
    return refs, errors, heard
