"""Chalice wiring only: decorators, logging, and the lazily built runtime."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from chalice import Chalice, Rate

from chalicelib import handlers
from chalicelib.events.table import watched_event_names
from chalicelib.runtime import Runtime, runtime_from_env

app = Chalice(app_name="setpoint")
# Powertools configures the "setpoint" logger tree for JSON lines; chalicelib logs through it.
logger = Logger(service="setpoint")
# CloudWatch EMF metrics, written to the log: no API call on the hot path.
metrics = Metrics(namespace="Setpoint", service="setpoint")

_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """Built on first use, kept while the Lambda container is warm."""
    global _runtime
    if _runtime is None:
        _runtime = runtime_from_env()
    return _runtime


def reset_runtime() -> None:
    """Forget the cached runtime (tests change the environment between cases)."""
    global _runtime
    _runtime = None


def cloudtrail_pattern(source: str, event_source: str) -> dict[str, Any]:
    """The EventBridge pattern for the calls the event table understands, and only those."""
    return {
        "source": [source],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": [event_source],
            "eventName": watched_event_names(event_source),
        },
    }


EC2_CHANGES = cloudtrail_pattern("aws.ec2", "ec2.amazonaws.com")
S3_CHANGES = cloudtrail_pattern("aws.s3", "s3.amazonaws.com")
# IAM is global: its events are delivered in us-east-1 only.
IAM_CHANGES = cloudtrail_pattern("aws.iam", "iam.amazonaws.com")


def _on_change(event: Any) -> dict[str, Any]:
    payload = event.to_dict()
    detail = payload.get("detail")
    # The CloudTrail event id ties every log line of this invocation to the record.
    logger.set_correlation_id(detail.get("eventID") if isinstance(detail, dict) else None)
    outcome = handlers.handle_cloudtrail_event(payload, get_runtime())
    summary = outcome.as_log()
    logger.info("event_processed", extra=summary)
    _publish(summary)
    return summary


def _publish(summary: dict[str, Any]) -> None:
    """Drifts found, alerts sent / failed / deduplicated, events skipped by reason."""
    problems = [f for f in summary["findings"] if f["status"] != "in_sync"]
    metrics.add_metric("DriftsFound", "Count", len(problems))
    metrics.add_metric("AlertsSent", "Count", summary["delivered"])
    metrics.add_metric("AlertsDeduplicated", "Count", summary["deduplicated"])
    failed = [e for e in summary["errors"] if e.startswith("delivery_failed")]
    metrics.add_metric("AlertsFailed", "Count", len(failed))
    for skip in summary["skipped"]:
        metrics.add_metric(f"EventsSkipped_{skip['reason']}", "Count", 1)
    metrics.flush_metrics()


@app.on_cw_event(EC2_CHANGES, name="on_ec2_change")
def on_ec2_change(event: Any) -> dict[str, Any]:
    return _on_change(event)


@app.on_cw_event(S3_CHANGES, name="on_s3_change")
def on_s3_change(event: Any) -> dict[str, Any]:
    return _on_change(event)


@app.on_cw_event(IAM_CHANGES, name="on_iam_change")
def on_iam_change(event: Any) -> dict[str, Any]:
    return _on_change(event)


@app.schedule(Rate(1, unit=Rate.HOURS), name="sweep")
def sweep(event: Any) -> dict[str, Any]:
    result = handlers.run_sweep(get_runtime())
    summary = {"checked": result.checked, "problems": len(result.problems)}
    logger.info("sweep_done", extra=summary)
    metrics.add_metric("ResourcesChecked", "Count", result.checked)
    metrics.add_metric("ResourcesOffSpec", "Count", len(result.problems))
    metrics.flush_metrics()
    return summary
