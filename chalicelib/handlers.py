"""What the Lambda functions do, minus the Chalice decorators (those live in app.py).

The CLI's `explain` and `demo` call these same functions, so what a user sees locally
is what the Lambda does. Like app.py, this is an entry point: it takes the `Runtime`
and hands its parts (`ports.py`) to the code below.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.alerting import EventOutcome, deliver
from chalicelib.errors import EventError, SetpointError
from chalicelib.events.route import Routed, Skipped, route_payload
from chalicelib.model import Finding
from chalicelib.pipeline import SweepResult, spec_bundle_ref, unknown_finding
from chalicelib.recheck import Settling
from chalicelib.runtime import Runtime

logger = logging.getLogger("setpoint")


def handle_cloudtrail_event(payload: Mapping[str, Any] | Any, runtime: Runtime) -> EventOutcome:
    """Route a CloudTrail record, re-read what it touched, compare, and alert.

    With a re-check queue (the Lambda), findings on a resource that is still settling after
    its create wait for the re-check, and a read that explains nothing is re-read once
    after the delay (see `recheck.py`); without one, the first read is final.
    """
    outcome = EventOutcome()
    try:
        results = route_payload(payload)
    except EventError as exc:
        outcome.errors.append(f"malformed_event: {exc}")
        logger.error("malformed_event", extra={"error": str(exc)})
        return outcome
    settling = (
        Settling(
            runtime.state,
            runtime.clock,
            runtime.recheck,
            runtime.recheck_delay_seconds,
            runtime.iac,
        )
        if runtime.recheck is not None
        else None
    )
    for result in results:
        if isinstance(result, Skipped):
            outcome.skipped.append(result)
            logger.info("skipped", extra={"reason": result.reason.value, "detail": result.detail})
            continue
        findings = evaluate_routed(result, runtime)
        if settling is not None:
            findings, held = settling.screen(result, findings)
            for finding in held:
                logger.info(
                    "held_for_recheck",
                    extra={"kind": finding.kind.value, "id": finding.id, "status": finding.status},
                )
        outcome.findings.extend(findings)
    handed: list[Finding] = []
    if runtime.reverter is not None:
        outcome.findings, handed = runtime.reverter.apply(outcome.findings)
        outcome.handed_off += len(handed)
    deliver(runtime.delivery(), outcome.findings, outcome)
    if settling is not None:
        settling.after_delivery(outcome.findings, outcome)
    _read_reverted_again(outcome, runtime)
    return outcome


def _read_reverted_again(outcome: EventOutcome, runtime: Runtime) -> None:
    """After a revert went through, read the resource again and deliver what it is now:
    "back to normal" follows the alert that says what was reverted."""
    from chalicelib.revert.apply import reverted

    done = reverted(outcome.findings)
    if not done:
        return
    fresh = runtime.evaluate([finding.ref for finding in done], None)
    outcome.findings.extend(fresh)
    deliver(runtime.delivery(), fresh, outcome)


def handle_revert_request(payload: Any, runtime: Runtime) -> EventOutcome:
    """The revert function: read the resource again (the event may be stale), revert
    what its spec opts in to, deliver the alert saying what was done, read it again."""
    from chalicelib.revert.hand_off import read_request

    outcome = EventOutcome()
    try:
        refs, actor = read_request(payload)
    except EventError as exc:
        outcome.errors.append(f"malformed_event: {exc}")
        logger.error("malformed_revert_request", extra={"error": str(exc)})
        return outcome
    findings = runtime.evaluate(refs, actor)
    if runtime.reverter is not None:
        here = dataclasses.replace(runtime.reverter, hand_off=None)
        findings, _ = here.apply(findings)
    outcome.findings.extend(findings)
    deliver(runtime.delivery(), outcome.findings, outcome)
    _read_reverted_again(outcome, runtime)
    return outcome


def evaluate_routed(routed: Routed, runtime: Runtime) -> list[Finding]:
    return runtime.evaluate(routed.refs, routed.actor)


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
        ref = spec_bundle_ref(account, runtime.regions)
        result = SweepResult([unknown_finding(ref, f"specs could not be loaded: {exc}")])
    else:
        result = runtime.pipeline.sweep(catalog, account, list(runtime.regions))
    outcome = EventOutcome(findings=result.findings)
    deliver(runtime.delivery(), result.findings, outcome, cause="sweep", raise_on_failure=False)
    return result
