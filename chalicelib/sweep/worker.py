"""The sweep in the Lambda: the schedule enqueues shards, the SQS worker sweeps them.

`enqueue_shards` (schedule, every hour): plan the shards, write the run's counter, send
one message per shard with its stable delay. `handle_shard_batch` (SQS): sweep each shard
with the account's assumed-role clients, deliver its findings through the same state and
alert path as events (`cause="sweep"`: drift already alerted stays quiet), store the
shard's summary and count it done; the shard that finishes the run posts the digest.
`sweep_in_process` does all of it in one invocation (no queue configured).

Concurrency is capped twice: the SQS event source's maximum concurrency (how many
workers run at once; see `WORKER_DECORATOR_ARGS`) and, in one process, a bounded
thread pool (`SweepSettings.concurrency`).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chalicelib.alerting import EventOutcome, deliver
from chalicelib.aws import RoleSessions, partition_of_arn
from chalicelib.errors import DeliveryError, SetpointError
from chalicelib.kinds.registry import BY_NAME, FAMILIES
from chalicelib.model import Finding, Kind
from chalicelib.pipeline import Pipeline, guard_ref, spec_bundle_ref, unknown_finding
from chalicelib.runtime import Runtime
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.state import StateStoreError, parse_state_uri, record_key
from chalicelib.state.record import iso
from chalicelib.sweep.accounts import partition_regions, resolve_accounts
from chalicelib.sweep.digest import Digest, ShardSummary, merge_digest, summarize
from chalicelib.sweep.post import (
    FailedDeliveries,
    digest_notifiers,
    failed_delivery_lines,
    post_digest,
)
from chalicelib.sweep.run import (
    ShardResult,
    ShardRunner,
    regionless_missing,
    run_in_process,
    shard_unknown,
)
from chalicelib.sweep.runs import DynamoRunStore, MemoryRunStore, SweepRunStore
from chalicelib.sweep.settings import SweepSettings, settings_from_env
from chalicelib.sweep.shards import (
    FAMILY_OF,
    MAX_DELAY_SECONDS,
    Shard,
    ShardMessage,
    decode_message,
    encode_message,
    plan_shards,
    shard_messages,
)

logger = logging.getLogger("setpoint")

SQS_BATCH = 10  # SendMessageBatch takes at most ten entries
ENQUEUE_THREADS = 8
# app.py: @app.on_sqs_message(**WORKER_DECORATOR_ARGS, name="on_sweep_shard")
WORKER_DECORATOR_ARGS: Mapping[str, Any] = {
    "queue": "setpoint-sweep",
    "batch_size": 1,  # one shard per invocation: its own time budget and retry
    "maximum_concurrency": 10,  # = SETPOINT_SWEEP_CONCURRENCY; SQS allows 2..1000
}
_MEMORY_RUNS = MemoryRunStore()
# the pseudo-shard of findings only a whole account decides (region-less specs)
_REGIONLESS = [family for family in FAMILIES if family.regionless is not None]
ACCOUNT_WIDE = Shard(
    "*", "*", _REGIONLESS[0].name, _REGIONLESS[0].kinds, ()
)  # runs without a table share one process


@dataclass
class SweepService:
    """What sweeping needs beyond the runtime, built once per warm container."""

    runtime: Runtime
    settings: SweepSettings
    sessions: RoleSessions
    runner: ShardRunner
    runs: SweepRunStore
    failed_deliveries: FailedDeliveries | None = None
    epoch: Callable[[], float] = time.time

    def sqs(self) -> Any:
        return self.runtime.clients.client("sqs")

    def kinds(self) -> list[Kind]:
        return [k for k in self.runtime.pipeline.kinds if k in FAMILY_OF]


_service: tuple[int, SweepService] | None = None


def sweep_service(
    runtime: Runtime,
    settings: SweepSettings | None = None,
    *,
    failed_deliveries: FailedDeliveries | None = None,
    runs: SweepRunStore | None = None,
) -> SweepService:
    """The service for this runtime (cached while the runtime is the same object)."""
    global _service
    if settings is None and runs is None and _service is not None and _service[0] == id(runtime):
        return _service[1]
    settings = settings or settings_from_env(default_regions=runtime.regions)
    identity = runtime.clients.client("sts").get_caller_identity()
    if runtime.account is None:
        runtime.account = str(identity["Account"])
    sessions = RoleSessions(
        runtime.clients,
        own_account=runtime.account,
        role_name=settings.role_name,
        external_id=settings.external_id,
        partition=partition_of_arn(str(identity.get("Arn", ""))),
    )
    service = SweepService(
        runtime=runtime,
        settings=settings,
        sessions=sessions,
        runner=ShardRunner(
            sessions, enabled_only=settings.regions is None, build=_pipelines_of(runtime)
        ),
        runs=runs or run_store(settings.state_uri, runtime),
        failed_deliveries=failed_deliveries or _outbox_module(),
    )
    _service = (id(runtime), service)
    return service


def _pipelines_of(runtime: Runtime) -> Callable[[RoleSessions, str], Pipeline]:
    """The runtime's own pipeline for its account; one on assumed-role clients for others."""

    def build(sessions: RoleSessions, account: str) -> Pipeline:
        if account == sessions.own_account:
            return runtime.pipeline
        from chalicelib.runtime import build_pipeline

        return build_pipeline(sessions.clients_for(account))

    return build


def run_store(state_uri: str, runtime: Runtime) -> SweepRunStore:
    location = parse_state_uri(state_uri)
    if location.backend == "memory" or location.table is None:
        return _MEMORY_RUNS
    return DynamoRunStore(location.table, runtime.clients.client("dynamodb", location.region))


def _outbox_module() -> FailedDeliveries | None:
    import importlib

    try:
        outbox: Any = importlib.import_module("chalicelib.notify.outbox")
    except ImportError:
        return None
    return outbox if hasattr(outbox, "dead_letters") else None


# -- planning ---------------------------------------------------------------------------


def plan(service: SweepService) -> list[Shard]:
    """Accounts (settings or Organizations) × regions (settings or the partition's, each
    shard then checking its account has the region enabled) × kind families."""
    runtime, settings = service.runtime, service.settings
    accounts = resolve_accounts(
        settings.accounts,
        runtime.account_id,
        lambda: runtime.clients.client("organizations"),
    )
    regions = (
        list(settings.regions)
        if settings.regions is not None
        else partition_regions(runtime.clients.client("ec2"))
    )
    return plan_shards(accounts, regions, service.kinds())


def new_run_id(now: str) -> str:
    return f"{now}-{uuid.uuid4().hex[:8]}"


@dataclass
class EnqueueResult:
    run_id: str
    shards: int
    sent: int
    failed: list[str] = field(default_factory=list)

    def as_log(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "shards": self.shards,
            "sent": self.sent,
            "failed": self.failed,
        }


def enqueue_shards(
    runtime: Runtime,
    settings: SweepSettings | None,
    sqs_client: Any,
    queue_url: str,
    *,
    service: SweepService | None = None,
) -> EnqueueResult:
    """One message per shard, SendMessageBatch by ten, each delayed by its stable offset.

    SQS holds a message back at most 900 s; a shard whose offset is larger (a window
    above 15 minutes) is sent with 900 s and a `not_before` time, and the worker sends it
    on again until then. A shard that cannot be enqueued is counted done at once with an
    `unknown` summary, so the run still ends with a digest that says so.
    """
    service = service or sweep_service(runtime, settings)
    shards = plan(service)
    now = runtime.clock()
    run_id = new_run_id(iso(now))
    result = EnqueueResult(run_id, len(shards), 0)
    if not shards:
        return result
    if isinstance(service.runs, MemoryRunStore):
        # workers run in other processes: without a table no shard can tell it was last
        logger.warning("sweep_digest_needs_state_table", extra={"run_id": run_id})
    service.runs.start(run_id, len(shards), iso(now))
    start = int(service.epoch())
    messages = shard_messages(shards, run_id, service.settings.window_seconds)
    batches = [messages[i : i + SQS_BATCH] for i in range(0, len(messages), SQS_BATCH)]

    def send(batch: list[ShardMessage]) -> dict[int, str]:
        failed = _send_batch(sqs_client, queue_url, batch, start)
        if failed:  # retried once; SQS names each entry it did not take
            failed = _send_batch(
                sqs_client, queue_url, [m for m in batch if m.index in failed], start
            )
        return failed

    # ~950 calls for 500 accounts × 17 regions: a few at once keep the schedule short
    with ThreadPoolExecutor(max_workers=ENQUEUE_THREADS) as pool:
        outcomes = list(pool.map(send, batches))
    for batch, failed in zip(batches, outcomes, strict=True):
        result.sent += len(batch) - len(failed)
        for message in batch:
            if message.index in failed:
                reason = f"could not be enqueued: {failed[message.index]}"
                result.failed.append(f"{message.shard.id}: {reason}")
                _finish_unsent(service, message, reason)
    logger.info("sweep_enqueued", extra=result.as_log())
    return result


def _send_batch(
    sqs: Any, queue_url: str, batch: Sequence[ShardMessage], start: int
) -> dict[int, str]:
    """Send; return index -> error for the entries SQS did not take."""
    entries = []
    for message in batch:
        delay = min(message.delay_seconds, MAX_DELAY_SECONDS)
        if message.delay_seconds > MAX_DELAY_SECONDS:
            message = ShardMessage(
                message.shard,
                message.run_id,
                message.index,
                message.total,
                message.delay_seconds,
                start + message.delay_seconds,
            )
        entries.append(
            {
                "Id": str(message.index),
                "MessageBody": encode_message(message),
                "DelaySeconds": delay,
            }
        )
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except Exception as exc:  # the whole batch failed: retried once, then reported
        return {m.index: str(exc) for m in batch}
    return {
        int(item["Id"]): f"{item.get('Code', '?')}: {item.get('Message', '')}".strip(": ")
        for item in answer.get("Failed", [])
    }


def _finish_unsent(service: SweepService, message: ShardMessage, reason: str) -> None:
    findings = shard_unknown(message.shard, reason)
    summary = summarize(message.shard.id, findings, [], lambda _: None, unread=reason)
    now = iso(service.runtime.clock())
    if service.runs.finish_shard(message.run_id, message.index, summary, now):
        finish_run(service, message.run_id, message.total)


# -- the worker -------------------------------------------------------------------------


def handle_shard_batch(
    event: Mapping[str, Any],
    runtime: Runtime,
    context: Any = None,
    *,
    service: SweepService | None = None,
) -> dict[str, Any]:
    """The SQS handler: each record one shard; failed records are reported back to SQS
    (partial batch response) and retried, the others are deleted."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    service = service or sweep_service(runtime)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        return handle_shard_message(service, decode_message(record.body), record.body)

    response: dict[str, Any] = dict(
        process_partial_response(
            event=dict(event), record_handler=record_handler, processor=processor, context=context
        )
    )
    return response


def handle_shard_message(
    service: SweepService, message: ShardMessage, body: str | None = None
) -> dict[str, Any]:
    """Sweep one shard, deliver, count it done; post the digest when it was the last."""
    runtime = service.runtime
    wait = message.not_before - service.epoch()
    if wait > 1:
        service.sqs().send_message(
            QueueUrl=service.settings.queue_url,
            MessageBody=body or encode_message(message),
            DelaySeconds=min(MAX_DELAY_SECONDS, math.ceil(wait)),
        )
        return {"shard": message.shard.id, "deferred_seconds": math.ceil(wait)}
    catalog, result = _sweep_shard(service, message.shard)
    summary = deliver_and_summarize(runtime, result)
    done = service.runs.finish_shard(message.run_id, message.index, summary, iso(runtime.clock()))
    log = {
        "shard": message.shard.id,
        "run_id": message.run_id,
        "checked": summary.counts.get("checked", 0),
        "problems": summary.counts.get("checked", 0) - summary.counts.get("in_sync", 0),
        "last": done,
    }
    logger.info("sweep_shard_done", extra=log)
    if done:
        finish_run(service, message.run_id, message.total, catalog)
    return log


def _catalog(runtime: Runtime) -> SpecCatalog | str:
    try:
        return runtime.specs()
    except SetpointError as exc:
        logger.error("spec_error", extra={"error": str(exc)})
        return f"specs could not be loaded: {exc}"


def _specs_unreadable(runtime: Runtime, shard: Shard, reason: str) -> ShardResult:
    """Every shard that meets broken specs reports the same resource, so state posts once."""
    ref = spec_bundle_ref(runtime.account_id(), runtime.regions)
    return ShardResult(shard, (unknown_finding(ref, reason),), unread=reason)


def _sweep_shard(service: SweepService, shard: Shard) -> tuple[SpecCatalog | None, ShardResult]:
    catalog = _catalog(service.runtime)
    if isinstance(catalog, str):
        return None, _specs_unreadable(service.runtime, shard, catalog)
    return catalog, service.runner.run(shard, catalog)


def _first_seen(runtime: Runtime) -> Callable[[Finding], str | None]:
    def lookup(finding: Finding) -> str | None:
        try:
            record = runtime.state.get(record_key(finding))
        except StateStoreError:
            return None
        return record.first_seen if record is not None else None

    return lookup


def deliver_and_summarize(
    runtime: Runtime, result: ShardResult, shard_id: str | None = None
) -> ShardSummary:
    findings = list(result.findings)
    outcome = EventOutcome(findings=findings)
    deliver(runtime, findings, outcome, cause="sweep", raise_on_failure=False)
    return summarize(
        shard_id or result.shard.id,
        findings,
        outcome.alerts,
        _first_seen(runtime),
        delivery_errors=len(outcome.errors),
        regionless_matched=result.regionless_matched,
        unread=result.unread,
        skipped=result.skipped,
    )


def finish_run(
    service: SweepService,
    run_id: str,
    total: int,
    catalog: SpecCatalog | None = None,
) -> Digest:
    """The last shard's duty: account-wide findings, then one digest for the run.

    The caller holds the digest claim. Whatever fails from here on (reading the
    summaries, the account-wide pass, chat, a timeout's exception) gives it back before
    raising, so the SQS retry of this shard can claim it and post; else nobody would.
    """
    try:
        summaries = service.runs.summaries(run_id, total)
        if catalog is None:
            loaded = _catalog(service.runtime)
            catalog = loaded if not isinstance(loaded, str) else None
        if catalog is not None:
            summaries.append(_complete_accounts(service.runtime, summaries, catalog))
        return post_run_digest(service, run_id, summaries)
    except BaseException as exc:
        _release(service, run_id, exc)
        raise


def _release(service: SweepService, run_id: str, cause: BaseException) -> None:
    try:
        service.runs.release(run_id)
    except StateStoreError as exc:  # the original failure is the one to raise
        logger.error(
            "sweep_digest_claim_not_released",
            extra={"run_id": run_id, "error": str(exc), "cause": repr(cause)},
        )
    else:
        logger.warning(
            "sweep_digest_claim_released", extra={"run_id": run_id, "cause": repr(cause)}
        )


def _complete_accounts(
    runtime: Runtime, summaries: Sequence[ShardSummary], catalog: SpecCatalog
) -> ShardSummary:
    """Region-less specs no region matched (see run.regionless_missing)."""
    per_account: dict[str, list[ShardSummary]] = {}
    for summary in summaries:
        account, _, family = [*summary.shard.split("/"), "", "", ""][:3]
        if family in BY_NAME and BY_NAME[family].regionless and summary.skipped is None:
            per_account.setdefault(account, []).append(summary)
    findings: list[Finding] = []
    for account, shards in per_account.items():
        matched = frozenset(s for summary in shards for s in summary.regionless_matched)
        unread = [summary.unread for summary in shards if summary.unread]
        region = shards[0].shard.split("/")[1]
        findings += regionless_missing(catalog, account, region, matched, unread)
    return deliver_and_summarize(
        runtime, ShardResult(ACCOUNT_WIDE, tuple(findings)), shard_id="accounts"
    )


def post_run_digest(
    service: SweepService, run_id: str, summaries: Sequence[ShardSummary]
) -> Digest:
    """Merge, add the outbox's dead letters, post. If no notifier heard it, raise
    DeliveryError (finish_run releases the claim, so the SQS retry posts it again); if
    some did, the failures are logged and not retried (the others would hear it twice)."""
    runtime = service.runtime
    lines = failed_delivery_lines(
        service.failed_deliveries, service.sqs, service.settings.outbox_dlq_url
    )
    digest = merge_digest(run_id, summaries, failed_deliveries=lines)
    errors = post_digest(runtime.notifiers, digest)
    logger.info(
        "sweep_digest",
        extra={"run_id": run_id, "counts": dict(digest.counts), "errors": errors},
    )
    if errors and len(errors) >= len(digest_notifiers(runtime.notifiers)):
        raise DeliveryError(f"sweep digest {run_id} not delivered: {'; '.join(errors)}")
    if errors:
        logger.error("sweep_digest_partly_delivered", extra={"run_id": run_id, "errors": errors})
    return digest


# -- no queue: the whole sweep in this invocation --------------------------------------


@dataclass
class InvocationSweep:
    run_id: str
    findings: list[Finding]
    digest: Digest

    def as_log(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "checked": len(self.findings),
            "problems": sum(1 for f in self.findings if f.is_problem),
            "counts": dict(self.digest.counts),
        }


def sweep_in_process(
    runtime: Runtime, settings: SweepSettings | None = None, *, service: SweepService | None = None
) -> InvocationSweep:
    """Every shard here, `settings.concurrency` at once; alerts and digest as with SQS."""
    service = service or sweep_service(runtime, settings)
    shards = plan(service)
    run_id = new_run_id(iso(runtime.clock()))
    catalog = _catalog(runtime)
    summaries: list[ShardSummary] = []
    findings: list[Finding] = []
    if isinstance(catalog, str):
        # one alert about the specs, not one per shard: nothing was compared anywhere
        result = _specs_unreadable(runtime, shards[0] if shards else ACCOUNT_WIDE, catalog)
        findings += result.findings
        summaries.append(deliver_and_summarize(runtime, result))
    else:

        def delivered(result: ShardResult) -> None:
            findings.extend(result.findings)
            summaries.append(deliver_and_summarize(runtime, result))

        swept = run_in_process(
            shards,
            catalog,
            service.runner,
            workers=service.settings.concurrency,
            on_result=delivered,
        )
        completion = ShardResult(ACCOUNT_WIDE, tuple(swept.completion))
        findings.extend(swept.completion)
        summaries.append(deliver_and_summarize(runtime, completion, shard_id="accounts"))
    digest = post_run_digest(service, run_id, summaries)
    return InvocationSweep(run_id, findings, digest)


def run_scheduled_sweep(runtime: Runtime, settings: SweepSettings | None = None) -> dict[str, Any]:
    """The schedule handler: enqueue when a sweep queue is configured, else sweep here."""
    service = sweep_service(runtime, settings)
    url = service.settings.queue_url
    try:
        if url:
            return enqueue_shards(runtime, settings, service.sqs(), url, service=service).as_log()
        try:
            return sweep_in_process(runtime, service=service).as_log()
        except DeliveryError as exc:  # the findings are delivered; only the digest was lost
            logger.error("sweep_digest_failed", extra={"error": str(exc)})
            return {"digest_error": str(exc)}
    except SetpointError as exc:
        return _sweep_failed(runtime, exc)


def _sweep_failed(runtime: Runtime, exc: SetpointError) -> dict[str, Any]:
    """The sweep could not start (accounts or regions unreadable, no run table...): one
    `unknown` alert about the sweep itself, so chat hears why every hour stays silent."""
    reason = f"the sweep could not run: {exc}"
    logger.error("sweep_failed", extra={"error": str(exc), "type": type(exc).__name__})
    ref = guard_ref(runtime.account_id(), runtime.regions, "sweep")
    finding = unknown_finding(ref, reason)
    outcome = EventOutcome(findings=[finding])
    deliver(runtime, [finding], outcome, cause="sweep", raise_on_failure=False)
    return {"error": reason, "alerts": len(outcome.alerts), "delivery_errors": outcome.errors}


__all__ = [
    "WORKER_DECORATOR_ARGS",
    "EnqueueResult",
    "SweepService",
    "enqueue_shards",
    "handle_shard_batch",
    "run_scheduled_sweep",
    "sweep_in_process",
    "sweep_service",
]
