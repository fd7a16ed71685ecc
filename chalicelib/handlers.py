"""What the Lambda functions do, minus the Chalice decorators (those live in app.py).

The CLI's `explain` and `demo` call these same functions, so what a user sees locally
is what the Lambda does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.alerting import EventOutcome, deliver
from chalicelib.errors import (
    EventError,
    SetpointError,
    SpecError,
    SpecSetError,
)
from chalicelib.events.route import Routed, Skipped, route_payload
from chalicelib.model import Finding, Kind, ResourceRef
from chalicelib.pipeline import SweepResult, unknown_finding
from chalicelib.runtime import Runtime

logger = logging.getLogger("setpoint")


def _specs_or_unknown(runtime: Runtime, refs: tuple[ResourceRef, ...]) -> Any:
    """The spec catalog, or unknown findings saying why it could not be loaded."""
    try:
        return runtime.specs(), []
    except (SpecError, SpecSetError, SetpointError) as exc:
        reason = f"specs could not be loaded: {exc}"
        logger.error("spec_error", extra={"error": str(exc)})
        return None, [unknown_finding(ref, reason) for ref in refs]


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
