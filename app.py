"""Chalice wiring only: decorators, logging, and the lazily built runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from chalice import Chalice, Rate

from chalicelib import handlers, spec_change, state_write
from chalicelib.alerting import utc_now
from chalicelib.events.table import eventbridge_source
from chalicelib.idempotency import IdempotentEvents, idempotency_from_env, run_idempotent
from chalicelib.kinds.family import Family
from chalicelib.kinds.registry import FAMILIES
from chalicelib.ports import Clock, Sleep
from chalicelib.runtime import Runtime, runtime_from_env, sweep_service

app = Chalice(app_name="setpoint")
# Powertools configures the "setpoint" logger tree for JSON lines; chalicelib logs through it.
logger = Logger(service="setpoint")
# CloudWatch EMF metrics, written to the log: no API call on the hot path.
metrics = Metrics(namespace="Setpoint", service="setpoint")

_runtime: Runtime | None = None
_idempotency: IdempotentEvents | None = None
_idempotency_built = False
# how the runtime waits between delivery attempts and tells the time (tests: their own)
_sleep: Sleep = time.sleep
_clock: Clock = utc_now


def get_runtime() -> Runtime:
    """Built on first use, kept while the Lambda container is warm."""
    global _runtime
    if _runtime is None:
        _runtime = runtime_from_env(sleep=_sleep, clock=_clock)
    return _runtime


def use_waits(sleep: Sleep = time.sleep, clock: Clock = utc_now) -> None:
    """Build the next runtime with this `sleep` and `clock` (tests: no real waiting)."""
    global _sleep, _clock
    _sleep, _clock = sleep, clock
    reset_runtime()


def reset_runtime() -> None:
    """Forget the cached runtime (tests change the environment between cases)."""
    global _runtime, _idempotency, _idempotency_built
    _runtime = None
    _idempotency, _idempotency_built = None, False


def get_idempotency() -> IdempotentEvents | None:
    """One CloudTrail eventID, one result: kept in the state table (or
    SETPOINT_IDEMPOTENCY_TABLE); none when state is kept in memory."""
    global _idempotency, _idempotency_built
    if not _idempotency_built:
        _idempotency = idempotency_from_env(clients=get_runtime().clients)
        _idempotency_built = True
    return _idempotency


def cloudtrail_pattern(family: Family) -> dict[str, Any]:
    """The EventBridge pattern for the calls the event table understands, and only those.

    A family with several sources (the guard) gets their union: no eventName is watched
    from one source and also exists, unwatched, at another, and the router keys on both.
    Only the family's own rows count: another family's calls from the same source (S3's
    bucket calls beside the guard's PutObject) go to that family's function alone."""
    sources = family.event_sources
    filters = family.detail_filters
    plain = [row for row in family.rows if (row.event_source, row.event_name) not in filters]
    names = sorted({row.event_name for row in plain})
    detail: dict[str, Any] = {
        "eventSource": list(dict.fromkeys(row.event_source for row in plain))
        if filters
        else list(sources),
        "eventName": names,
    }
    if filters:
        # a filtered call (the guard's PutObject, on spec buckets only) is its own clause
        narrowed = [
            {"eventSource": [source], "eventName": [name], **extra}
            for (source, name), extra in sorted(filters.items())
        ]
        detail = {"$or": [detail, *narrowed]}
    return {
        "source": [eventbridge_source(source) for source in sources],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": detail,
    }


# One pattern per registered family (IAM's events are delivered in us-east-1 only).
CHANGES: dict[str, dict[str, Any]] = {
    family.name: cloudtrail_pattern(family) for family in FAMILIES
}


def _on_change(event: Any) -> dict[str, Any]:
    payload = event.to_dict()
    detail = payload.get("detail")
    # The CloudTrail event id ties every log line of this invocation to the record.
    logger.set_correlation_id(detail.get("eventID") if isinstance(detail, dict) else None)
    summary = run_idempotent(get_idempotency(), payload, _handle_change, event.context)
    logger.info("event_processed", extra=summary)
    _publish(summary)
    return summary


def _handle_change(payload: dict[str, Any]) -> dict[str, Any]:
    return handlers.handle_cloudtrail_event(payload, get_runtime()).as_log()


def _publish(summary: dict[str, Any]) -> None:
    """Drifts found, alerts sent / failed / deduplicated, events skipped by reason."""
    problems = [f for f in summary["findings"] if f["status"] != "in_sync" and not f.get("gone")]
    metrics.add_metric("DriftsFound", "Count", len(problems))
    metrics.add_metric("AlertsSent", "Count", summary["delivered"])
    metrics.add_metric("AlertsDeduplicated", "Count", summary["deduplicated"])
    metrics.add_metric("AlertsOutboxed", "Count", summary.get("outboxed", 0))
    failed = [e for e in summary["errors"] if e.startswith("delivery_failed")]
    metrics.add_metric("AlertsFailed", "Count", len(failed))
    for skip in summary["skipped"]:
        metrics.add_metric(f"EventsSkipped_{skip['reason']}", "Count", 1)
    metrics.flush_metrics()


def _change_handler(family: Family) -> Callable[[Any], dict[str, Any]]:
    """The Lambda for one family's CloudTrail events, named as the family declares (Chalice
    finds a handler by its module attribute, so each is also bound in this module)."""

    def handler(event: Any) -> dict[str, Any]:
        return _on_change(event)

    handler.__name__ = handler.__qualname__ = family.handler
    handler.__doc__ = (
        f"CloudTrail calls on {family.name} resources ({', '.join(family.event_sources)})."
    )
    return handler


for _family in FAMILIES:
    globals()[_family.handler] = app.on_cw_event(CHANGES[_family.name], name=_family.handler)(
        _change_handler(_family)
    )


# Writes to the spec bucket. Its name holds the account id, unknown at import: match
# Setpoint spec buckets by prefix; the handler then ignores any bucket or key outside
# SETPOINT_SPECS (logged as a skip), so another stack's bucket changes nothing here.
SPEC_CHANGES = spec_change.spec_event_pattern()


@app.on_cw_event(SPEC_CHANGES, name="on_spec_change")
def on_spec_change(event: Any) -> dict[str, Any]:
    """A spec push: re-evaluate what changed; drift it shows is "pending apply"."""
    payload = event.to_dict()
    logger.set_correlation_id(payload.get("id"))
    outcome = spec_change.handle_spec_change(payload, get_runtime().spec_change_context())
    summary = outcome.as_log()
    logger.info("spec_change_processed", extra=summary)
    _publish(summary)
    return summary


# Writes of Terraform states (`*.tfstate`) in a bucket that sends its events to
# EventBridge: the state bucket is the user's, so the rule matches the key's suffix and the
# handler ignores any object outside a terraform:s3:// source of SETPOINT_SPECS.
STATE_WRITES = state_write.state_event_pattern()


@app.on_cw_event(STATE_WRITES, name="on_state_write")
def on_state_write(event: Any) -> dict[str, Any]:
    """A Terraform state write: re-read what the apply changed, close the drift it explains."""
    payload = event.to_dict()
    logger.set_correlation_id(payload.get("id"))
    outcome = state_write.handle_state_write(payload, get_runtime().spec_change_context())
    summary = outcome.as_log()
    logger.info("state_write_processed", extra=summary)
    _publish(summary)
    return summary


# one parked alert per invocation: a chat that hangs through every retry (about 56 s with
# the default budget) cannot run a batch out of time and make SQS re-post what went through
@app.on_sqs_message(queue="setpoint-outbox", batch_size=1, name="on_outbox")
def on_outbox(event: Any) -> dict[str, Any]:
    """Alerts parked while chat was down, posted again; records that fail come back later."""
    from chalicelib.notify.outbox import handle_outbox_batch

    response = handle_outbox_batch(event.to_dict(), get_runtime().delivery())
    metrics.add_metric("OutboxRetriesFailed", "Count", len(response["batchItemFailures"]))
    metrics.flush_metrics()
    return response


@app.on_sqs_message(queue="setpoint-recheck", batch_size=10, name="on_recheck")
def on_recheck(event: Any) -> dict[str, Any]:
    """Second reads scheduled by events; a failed message alone comes back (partial batch)."""
    from chalicelib.recheck import handle_recheck_batch

    records = event.to_dict()["Records"]
    runtime = get_runtime()
    response = handle_recheck_batch(records, runtime, runtime.delivery(), event.context)
    failed = len(response["batchItemFailures"])
    logger.info("recheck_batch", extra={"messages": len(records), "failed": failed})
    return dict(response)


# Reverts for specs with `on_drift: revert`, invoked asynchronously by the event functions
# (SETPOINT_REVERT_FUNCTION): the one function whose role may write, and only what the
# kinds' revert tables list (.chalice/policy-revert-<stage>.json)
@app.lambda_function(name="on_revert")
def on_revert(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Read the resource again, revert what its spec opts in to, alert saying what was done."""
    summary = handlers.handle_revert_request(event, get_runtime()).as_log()
    logger.info("revert_processed", extra=summary)
    _publish(summary)
    return summary


@app.schedule(Rate(1, unit=Rate.HOURS), name="sweep")
def sweep(event: Any) -> dict[str, Any]:
    """One message per shard (account x region x kind) when SETPOINT_SWEEP_QUEUE_URL is set,
    spread over the sweep window; else the whole sweep here, then its digest."""
    from chalicelib.sweep.worker import run_scheduled_sweep

    summary = run_scheduled_sweep(sweep_service(get_runtime()))
    logger.info("sweep_done", extra=summary)
    if "checked" in summary:
        metrics.add_metric("ResourcesChecked", "Count", summary["checked"])
        metrics.add_metric("ResourcesOffSpec", "Count", summary["problems"])
    else:
        metrics.add_metric("SweepShardsEnqueued", "Count", summary.get("sent", 0))
    metrics.flush_metrics()
    return summary


# maximum_concurrency caps how many shards are read at once; in the packaged stack it is
# the SweepConcurrency parameter, like SETPOINT_SWEEP_CONCURRENCY (SQS allows 2..1000)
@app.on_sqs_message(
    queue="setpoint-sweep", batch_size=1, maximum_concurrency=10, name="on_sweep_shard"
)
def on_sweep_shard(event: Any) -> dict[str, Any]:
    """One shard of the sweep; the last shard of a run posts the digest."""
    from chalicelib.sweep.worker import handle_shard_batch

    return handle_shard_batch(event.to_dict(), sweep_service(get_runtime()), event.context)
