"""What the Lambda functions do, minus the Chalice decorators (those live in app.py).

The CLI's `explain` and `demo` call these same functions, so what a user sees locally
is what the Lambda does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import (
    ConfigError,
    DeliveryError,
    EventError,
    SetpointError,
    SpecError,
    SpecSetError,
)
from chalicelib.events.route import Routed, Skipped, route_payload
from chalicelib.model import Finding, Kind, ResourceRef
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.pipeline import SweepResult, unknown_finding
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


def _specs_or_unknown(runtime: Runtime, refs: tuple[ResourceRef, ...]) -> Any:
    """The spec catalog, or unknown findings saying why it could not be loaded."""
    try:
        return runtime.specs(), []
    except (SpecError, SpecSetError, SetpointError) as exc:
        reason = f"specs could not be loaded: {exc}"
        logger.error("spec_error", extra={"error": str(exc)})
        return None, [unknown_finding(ref, reason) for ref in refs]


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


def handle_cloudtrail_event(payload: Mapping[str, Any] | Any, runtime: Runtime) -> EventOutcome:
    """Route a CloudTrail record, re-read what it touched, compare, and alert."""
    outcome = EventOutcome()
    try:
        results = route_payload(payload)
    except EventError as exc:
        outcome.errors.append(f"malformed_event: {exc}")
        logger.error("malformed_event", extra={"error": str(exc)})
        return outcome
    for result in results:
        if isinstance(result, Skipped):
            outcome.skipped.append(result)
            logger.info("skipped", extra={"reason": result.reason.value, "detail": result.detail})
            continue
        outcome.findings.extend(evaluate_routed(result, runtime))
    deliver(runtime, outcome.findings, outcome)
    return outcome


def evaluate_routed(routed: Routed, runtime: Runtime) -> list[Finding]:
    catalog, unknown = _specs_or_unknown(runtime, routed.refs)
    if catalog is None:
        return [_with_actor(f, routed) for f in unknown]
    return runtime.pipeline.evaluate(routed.refs, catalog, routed.actor)


def _with_actor(finding: Finding, routed: Routed) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, actor=routed.actor)


def run_sweep(runtime: Runtime) -> SweepResult:
    """Compare everything in the configured regions and report each finding.

    Specs that cannot be loaded are reported (one `unknown` finding saying why), not
    swallowed in a crashed invocation nobody reads.
    """
    account = runtime.account_id()
    try:
        catalog = runtime.specs()
    except SetpointError as exc:
        logger.error("spec_error", extra={"error": str(exc)})
        ref = ResourceRef(Kind.GUARD, account, ",".join(runtime.regions), name="spec bundle")
        result = SweepResult([unknown_finding(ref, f"specs could not be loaded: {exc}")])
    else:
        result = runtime.pipeline.sweep(catalog, account, list(runtime.regions))
    outcome = EventOutcome(findings=result.findings)
    deliver(runtime, result.findings, outcome, cause="sweep", raise_on_failure=False)
    return result
