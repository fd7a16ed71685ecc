"""The sweep in the Lambda: the schedule enqueues shards, the SQS worker sweeps them.

`enqueue_shards` (schedule, every hour): plan the shards, write the run's counter, send
one message per shard with its stable delay. `handle_shard_batch` (SQS): sweep each shard
with the account's assumed-role clients, deliver its findings through the same state and
alert path as events (`cause="sweep"`: drift already alerted stays quiet), store the
shard's summary and count it done; the shard that finishes the run posts the digest.
`sweep_in_process` does all of it in one invocation (no queue configured).

Drift whose spec says `on_drift: revert` goes through the same revert step as events
(`revert.apply`): handed to the revert function, which alerts on it, so the sweep does
not alert on it too; the digest and the report still count it.

Concurrency is capped twice: the SQS event source's maximum concurrency (how many
workers run at once; see `WORKER_DECORATOR_ARGS`) and, in one process, a bounded
thread pool (`SweepSettings.concurrency`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.alerting import Delivery, EventOutcome, deliver
from chalicelib.aws import ClientCache, RoleSessions
from chalicelib.errors import ConfigError, DeliveryError, SetpointError
from chalicelib.kinds.pipelines import build_pipeline
from chalicelib.kinds.registry import BY_NAME, FAMILIES
from chalicelib.model import Finding, Kind, Status
from chalicelib.noise.apply import Quieted
from chalicelib.notify.outbox import queue_region
from chalicelib.pipeline import (
    Pipeline,
    guard_ref,
    quieted_findings,
    spec_bundle_ref,
    unknown_finding,
)
from chalicelib.ports import SpecProvider, StateStore, SweepQueue
from chalicelib.report.scope import Silenced
from chalicelib.scrub import error_text
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.state import StateStoreError, parse_state_uri, record_key
from chalicelib.state.fingerprint import fingerprint
from chalicelib.state.record import StateRecord, iso
from chalicelib.sweep.accounts import partition_regions, resolve_accounts
from chalicelib.sweep.dead_letters import read_dead_letters
from chalicelib.sweep.digest import Digest, ShardSummary, merge_digest, silenced_of, summarize
from chalicelib.sweep.lake import LakeLookup
from chalicelib.sweep.lookup import (
    ActorLookup,
    CloudTrailLookup,
    FirstFound,
    attach_actors,
    in_sync_since,
)
from chalicelib.sweep.post import FailedDeliveries, failed_delivery_lines, post_digest
from chalicelib.sweep.queue import SQS_BATCH, SqsSweepQueue
from chalicelib.sweep.report_store import ReportStore, ReportStoreError, report_store_for
from chalicelib.sweep.run import (
    ShardResult,
    ShardRunner,
    regionless_missing,
    run_in_process,
    shard_unknown,
)
from chalicelib.sweep.runs import DynamoRunStore, MemoryRunStore, SweepRunStore, SweptMark
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.shards import (
    FAMILY_OF,
    Shard,
    ShardMessage,
    decode_message,
    encode_message,
    plan_shards,
    shard_messages,
)

if TYPE_CHECKING:
    from chalicelib.revert.apply import Reverter

logger = logging.getLogger("setpoint")

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
    """What sweeping uses, built once per warm container (`build_sweep_service`).

    `clients` are the sweeping account's own (Organizations, regions, the DLQ); other
    accounts are read through `sessions`. `account_id` and `regions` place the findings
    about the sweep itself (broken specs, a sweep that cannot start).
    """

    delivery: Delivery
    specs: SpecProvider
    account_id: Callable[[], str]
    regions: Sequence[str]
    settings: SweepSettings
    sessions: RoleSessions
    runner: ShardRunner
    runs: SweepRunStore
    kinds: tuple[Kind, ...] = ()
    queue: SweepQueue | None = None
    failed_deliveries: FailedDeliveries | None = None
    epoch: Callable[[], float] = time.time
    # who probably made drift no event announced (None: SETPOINT_ACTOR_LOOKUP_HOURS=0 and
    # no CloudTrail Lake event data store)
    lookup: ActorLookup | None = None
    # where each run's report is kept (None: no bucket configured, no report)
    reports: ReportStore | None = None
    # opt-in revert (the runtime's, handing to the revert function when deployed); None:
    # the sweep reverts nothing
    reverter: Reverter | None = None

    @property
    def clients(self) -> ClientCache:
        return self.sessions.base

    def sqs(self) -> Any:
        return self.clients.client("sqs")


def build_sweep_service(
    *,
    clients: ClientCache,
    pipeline: Pipeline,
    delivery: Delivery,
    specs: SpecProvider,
    regions: Sequence[str],
    settings: SweepSettings,
    account: str | None = None,
    runs: SweepRunStore | None = None,
    failed_deliveries: FailedDeliveries | None = None,
    reverter: Reverter | None = None,
) -> SweepService:
    """The service on `clients` (the sweeping account's); `pipeline` reads that account,
    others get one each on their assumed-role clients."""
    sessions = RoleSessions.for_caller(
        clients,
        role_name=settings.role_name,
        external_id=settings.external_id,
        own_account=account,
    )
    own = sessions.own_account or ""
    return SweepService(
        delivery=delivery,
        specs=specs,
        account_id=lambda: own,
        regions=tuple(regions),
        settings=settings,
        sessions=sessions,
        runner=ShardRunner(
            sessions, enabled_only=settings.regions is None, build=_pipelines_of(pipeline)
        ),
        runs=runs or run_store(settings.state_uri, clients),
        kinds=tuple(k for k in pipeline.kinds if k in FAMILY_OF),
        queue=SqsSweepQueue(clients.client("sqs"), settings.queue_url)
        if settings.queue_url
        else None,
        failed_deliveries=failed_deliveries,
        lookup=history_lookup(sessions, settings),
        reports=report_store_for(
            clients, settings.report_bucket, settings.report_prefix, settings.report_url_seconds
        )
        if settings.report_bucket
        else None,
        reverter=reverter,
    )


def history_lookup(sessions: RoleSessions, settings: SweepSettings) -> ActorLookup | None:
    """CloudTrail Lake's event data store when one is set (queried from this account, in
    its region), then CloudTrail's event history in each resource's account (its read-only
    role there); None when neither is on."""
    lookups: list[ActorLookup] = []
    store = settings.lake_store
    if store is not None:

        def lake_client(region: str | None) -> Any:
            return sessions.base.client("cloudtrail", region)

        lookback = timedelta(days=settings.lake_days)
        own = sessions.own_account
        lookups.append(LakeLookup(store, lake_client, lookback=lookback, own_account=own))
    if settings.lookup_hours:

        def client_for(account: str | None, region: str) -> Any:
            return sessions.clients_for(account or "").client("cloudtrail", region)

        lookups.append(
            CloudTrailLookup(client_for, lookback=timedelta(hours=settings.lookup_hours))
        )
    if not lookups:
        return None
    return lookups[0] if len(lookups) == 1 else FirstFound(lookups)


def _pipelines_of(own: Pipeline) -> Callable[[RoleSessions, str], Pipeline]:
    """`own` for the sweeping account; one on assumed-role clients for each other."""

    def build(sessions: RoleSessions, account: str) -> Pipeline:
        if account == sessions.own_account:
            return own
        return build_pipeline(sessions.clients_for(account))

    return build


def run_store(state_uri: str, clients: ClientCache) -> SweepRunStore:
    location = parse_state_uri(state_uri)
    if location.backend == "memory" or location.table is None:
        return _MEMORY_RUNS
    return DynamoRunStore(location.table, clients.client("dynamodb", location.region))


# -- planning ---------------------------------------------------------------------------


def plan(service: SweepService) -> list[Shard]:
    """Accounts (settings or Organizations) × regions (settings or the partition's, each
    shard then checking its account has the region enabled) × kind families."""
    settings, clients = service.settings, service.clients
    accounts = resolve_accounts(
        settings.accounts, service.account_id, lambda: clients.client("organizations")
    )
    regions = (
        list(settings.regions)
        if settings.regions is not None
        else partition_regions(clients.client("ec2"))
    )
    return plan_shards(accounts, regions, list(service.kinds))


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


def enqueue_shards(service: SweepService, queue: SweepQueue) -> EnqueueResult:
    """One message per shard, SendMessageBatch by ten, each delayed by its stable offset.

    SQS holds a message back at most 900 s; a shard whose offset is larger (a window
    above 15 minutes) is sent with 900 s and a `not_before` time, and the worker sends it
    on again until then. A shard that cannot be enqueued is counted done at once with an
    `unknown` summary, so the run still ends with a digest that says so.
    """
    shards = plan(service)
    now = service.delivery.clock()
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
        failed = queue.send_batch(batch, start)
        if failed:  # retried once; SQS names each entry it did not take
            failed = queue.send_batch([m for m in batch if m.index in failed], start)
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


def _finish_unsent(service: SweepService, message: ShardMessage, reason: str) -> None:
    findings = shard_unknown(message.shard, reason)
    summary = summarize(message.shard.id, findings, [], lambda _: None, unread=reason)
    now = iso(service.delivery.clock())
    if service.runs.finish_shard(message.run_id, message.index, summary, now):
        finish_run(service, message.run_id, message.total)


# -- the worker -------------------------------------------------------------------------


def handle_shard_batch(
    event: Mapping[str, Any], service: SweepService, context: Any = None
) -> dict[str, Any]:
    """The SQS handler: each record one shard; failed records are reported back to SQS
    (partial batch response) and retried, the others are deleted."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

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
    wait = message.not_before - service.epoch()
    if wait > 1:
        if service.queue is None:
            raise ConfigError("a deferred sweep shard arrived, but no sweep queue is configured")
        service.queue.defer(body or encode_message(message), math.ceil(wait))
        return {"shard": message.shard.id, "deferred_seconds": math.ceil(wait)}
    started = service.delivery.clock()
    catalog, result = _sweep_shard(service, message.shard)
    delivered: list[Finding] = []
    summary = deliver_and_summarize(
        service.delivery,
        result,
        lookup=service.lookup,
        out=delivered,
        seen_since=_seen_since(service, message.shard, catalog),
        reverter=service.reverter,
    )
    _mark_swept(service, result, summary, catalog, started)
    if service.reports is not None:  # the last shard gathers every part into the report
        try:
            service.reports.put_part(message.run_id, message.index, delivered)
        except ReportStoreError as exc:
            logger.error("sweep_report_part_failed", extra={"error": str(exc)})
    now = iso(service.delivery.clock())
    done = service.runs.finish_shard(message.run_id, message.index, summary, now)
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


def _catalog(service: SweepService) -> SpecCatalog | str:
    try:
        return service.specs()
    except SetpointError as exc:
        logger.error("spec_error", extra={"error": str(exc)})
        return f"specs could not be loaded: {exc}"


def _specs_unreadable(service: SweepService, shard: Shard, reason: str) -> ShardResult:
    """Every shard that meets broken specs reports the same resource, so state posts once."""
    ref = spec_bundle_ref(service.account_id(), service.regions)
    return ShardResult(shard, (unknown_finding(ref, reason),), unread=reason)


def _sweep_shard(service: SweepService, shard: Shard) -> tuple[SpecCatalog | None, ShardResult]:
    catalog = _catalog(service)
    if isinstance(catalog, str):
        return None, _specs_unreadable(service, shard, catalog)
    return catalog, _quieted(service, catalog, service.runner.run(shard, catalog))


def _quieted(service: SweepService, catalog: SpecCatalog, result: ShardResult) -> ShardResult:
    """The shard's findings after the specs' ignore rules and exceptions, as for events and
    `setpoint check`: what a user silenced is not alerted by the sweep either."""
    quieted = quieted_findings(
        result.findings, catalog, service.delivery.clock().date(), skipped=result.ignored
    )
    return dataclasses.replace(
        result, findings=tuple(quieted.findings), ignored=(), silenced=_silenced_by(quieted)
    )


def _silenced_by(quieted: Quieted) -> Silenced:
    return Silenced(quieted.ignored, quieted.ignored_changes, quieted.excepted)


def _seen_since(
    service: SweepService, shard: Shard, catalog: SpecCatalog | None
) -> Callable[[Finding], datetime | None] | None:
    """Since when a resource of `shard` with no record was seen in sync (`in_sync_since`).

    The shard's mark is read once, when a lookup first asks: most shards have no new
    drift and never read it. A mark that cannot be read is logged, and the lookups search
    their whole lookback; the sweep goes on.
    """
    if service.lookup is None or catalog is None or catalog.version is None:
        return None
    version, noise = catalog.version, catalog.noise
    today = service.delivery.clock().date()
    read: list[SweptMark | None] = []

    def seen_since(finding: Finding) -> datetime | None:
        if not read:
            read.append(_last_swept(service, shard))
        return in_sync_since(finding, read[0], version, noise, today)

    return seen_since


def _last_swept(service: SweepService, shard: Shard) -> SweptMark | None:
    try:
        return service.runs.last_swept(shard.id)
    except StateStoreError as exc:
        logger.error(
            "swept_mark_unreadable",
            extra={"shard": shard.id, "error": str(exc), "code": exc.code},
        )
        return None


def shard_complete(result: ShardResult, summary: ShardSummary) -> bool:
    """True when the shard compared every resource it covers and remembered every problem:
    read whole (no listing failed, region not skipped) and delivered without an error (a
    drift whose alert was released has no record although it was seen), nothing handed to
    the revert function (its record is the revert function's to write, and may never be
    if that function fails)."""
    if result.unread is not None or result.skipped is not None or summary.delivery_errors:
        return False
    if summary.handed_off:
        return False
    # an unknown without an id: a listing that failed (some resources were never read)
    return not any(f.status is Status.UNKNOWN and f.id is None for f in result.findings)


def _mark_swept(
    service: SweepService,
    result: ShardResult,
    summary: ShardSummary,
    catalog: SpecCatalog | None,
    started: datetime,
) -> None:
    """One write per complete shard, for the next sweep's lookups (`_seen_since`); only
    when lookups are on and the specs have a version. A failed write is logged: the next
    sweep then searches the whole lookback, and this one loses nothing."""
    if service.lookup is None or catalog is None or catalog.version is None:
        return
    if not shard_complete(result, summary):
        return
    shard = result.shard
    mark = SweptMark(
        shard=shard.id,
        started_at=iso(started),
        specs=catalog.version,
        kinds=tuple(kind.value for kind in shard.kinds),
        regions=shard.regions or (shard.region,),
    )
    try:
        service.runs.mark_swept(mark)
    except StateStoreError as exc:
        logger.error(
            "swept_mark_failed", extra={"shard": shard.id, "error": str(exc), "code": exc.code}
        )


def _first_seen(
    state: StateStore, read: Mapping[str, StateRecord | None] | None = None
) -> Callable[[Finding], str | None]:
    def first_seen(finding: Finding) -> str | None:
        key = record_key(finding)
        if read is not None and key in read and read[key] is not None:
            return read[key].first_seen  # type: ignore[union-attr]
        try:
            record = state.get(key)
        except StateStoreError:
            return None
        return record.first_seen if record is not None else None

    return first_seen


def deliver_and_summarize(
    delivery: Delivery,
    result: ShardResult,
    shard_id: str | None = None,
    lookup: ActorLookup | None = None,
    out: list[Finding] | None = None,
    seen_since: Callable[[Finding], datetime | None] | None = None,
    reverter: Reverter | None = None,
) -> ShardSummary:
    """Deliver a shard's findings and boil them down for the digest; `out` receives the
    findings as delivered (looked-up actors attached, reverts too), for the report.
    `seen_since` narrows the lookups (see `attach_actors`).

    With a `reverter`, drift whose spec opts in is reverted as on the event path: handed
    to the revert function (which re-reads, reverts and alerts), so it is not delivered
    here; it still counts in the digest, new or still open as the state says."""
    findings = list(result.findings)
    read: dict[str, StateRecord | None] = {}
    if lookup is not None:  # who probably made new drift no event announced
        attached = attach_actors(
            lookup, delivery.state, findings, delivery.clock(), seen_since=seen_since
        )
        findings, read = attached.findings, attached.records
    handed: list[Finding] = []
    if reverter is not None:
        reverter = _reading_first(reverter, delivery.state, read)
        findings, handed = reverter.apply(findings, _remembered(delivery.state, read))
        if handed:
            logger.info("sweep_handed_off", extra={"count": len(handed)})
    outcome = EventOutcome(findings=findings, handed_off=len(handed))
    deliver(delivery, findings, outcome, cause="sweep", raise_on_failure=False)
    handed_since = [(f, _since(read, f)) for f in handed]  # as it stood before the hand-off
    if out is not None:
        out.extend(_as_remembered(findings + handed, delivery.state, read))
    return summarize(
        shard_id or result.shard.id,
        findings + handed,
        outcome.alerts,
        _first_seen(delivery.state, read),
        delivery_errors=len(outcome.errors),
        regionless_matched=result.regionless_matched,
        unread=result.unread,
        skipped=result.skipped,
        handed_off=handed_since,
        silenced=result.silenced,
    )


def _as_remembered(
    findings: Sequence[Finding], state: StateStore, read: dict[str, StateRecord | None]
) -> list[Finding]:
    """The findings for the report, each open drift with what its alert state remembers:
    since when it is off (`first_seen`) and, when this sweep names nobody, who made it
    (the event's actor, or the one looked up when it was new). Without this every report
    after the first would show neither. Records read here are kept in `read` for the
    digest, which asks the same."""
    shown = []
    for finding in findings:
        if not finding.is_problem:
            shown.append(finding)
            continue
        key = record_key(finding)
        # drift new before delivery has a record now: read it again
        record = read.get(key) or _read_record(state, read, key)
        if record is None:
            shown.append(finding)
            continue
        actor = finding.actor or record.last_actor
        shown.append(dataclasses.replace(finding, first_seen=record.first_seen, actor=actor))
    return shown


def _reading_first(
    reverter: Reverter, state: StateStore, read: dict[str, StateRecord | None]
) -> Reverter:
    """The reverter, reading each finding's record just before handing it off: the revert
    function writes it once it has the finding, and the digest must tell new drift from
    drift chat already knew. A record that cannot be read counts it as new."""
    hand_off = reverter.hand_off
    if hand_off is None:
        return reverter

    def read_then_hand_off(finding: Finding) -> None:
        key = record_key(finding)
        if key not in read:
            _read_record(state, read, key)
        hand_off(finding)

    return dataclasses.replace(reverter, hand_off=read_then_hand_off)


def _read_record(
    state: StateStore, read: dict[str, StateRecord | None], key: str
) -> StateRecord | None:
    """The record at `key`, kept in `read`; one that cannot be read is logged and None."""
    try:
        read[key] = state.get(key)
    except StateStoreError as exc:
        logger.warning("sweep_record_unread", extra={"error": error_text(exc)})
        read[key] = None
    return read[key]


def _since(read: Mapping[str, StateRecord | None], finding: Finding) -> str | None:
    """When drift chat already knows was first seen, from the records read before the
    hand-off; None when delivering it would alert as new or changed (`state.transitions`):
    no record, only an unreadable spell, or another change set than the one alerted."""
    record = read.get(record_key(finding))
    if record is None or record.status is Status.UNKNOWN:
        return None
    return record.first_seen if record.fingerprint == fingerprint(finding) else None


def _remembered(
    state: StateStore, read: dict[str, StateRecord | None]
) -> Callable[[Finding], tuple[str, ...]]:
    """Who the alert state remembers making a finding's drift (the records already read
    are reused, and those read here kept for the digest's "since"): drift already open
    has no looked-up actor, and the IaC rule must hold for it too. StateStoreError
    propagates: the revert is then refused, never run blind."""

    def remembered(finding: Finding) -> tuple[str, ...]:
        key = record_key(finding)
        if key not in read:
            read[key] = state.get(key)
        record = read[key]
        return record.last_actors if record is not None else ()

    return remembered


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
            loaded = _catalog(service)
            catalog = loaded if not isinstance(loaded, str) else None
        completion: list[Finding] = []
        if catalog is not None:
            summaries.append(
                _complete_accounts(service.delivery, summaries, catalog, out=completion)
            )
        report = None
        if service.reports is not None:
            findings, unread = service.reports.parts(run_id, total)
            silenced = silenced_of(summaries)
            report = publish_report(service, run_id, findings + completion, unread, silenced)
        return post_run_digest(service, run_id, summaries, report)
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
    delivery: Delivery,
    summaries: Sequence[ShardSummary],
    catalog: SpecCatalog,
    out: list[Finding] | None = None,
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
    quieted = quieted_findings(findings, catalog, delivery.clock().date())
    result = ShardResult(ACCOUNT_WIDE, tuple(quieted.findings), silenced=_silenced_by(quieted))
    return deliver_and_summarize(delivery, result, shard_id="accounts", out=out)


def publish_report(
    service: SweepService,
    run_id: str,
    findings: Sequence[Finding],
    unread: Sequence[str] = (),
    silenced: Silenced | None = None,
) -> tuple[str | None, str | None]:
    """(a presigned URL to the latest report, or why there is none) for the digest.

    A report that cannot be written costs the digest nothing: it says why instead.
    """
    if service.reports is None:
        return None, None
    try:
        published = service.reports.publish(
            findings, len(findings), run_id, iso(service.delivery.clock()), silenced
        )
    except ReportStoreError as exc:
        logger.error("sweep_report_failed", extra={"run_id": run_id, "error": str(exc)})
        return None, str(exc)
    logger.info("sweep_report", extra={"run_id": run_id, "key": published.latest_key})
    if unread:  # written, but without the shards whose findings could not be read back
        return published.url, f"{len(unread)} shard(s) missing from it: {unread[0]}"
    return published.url, None


def post_run_digest(
    service: SweepService,
    run_id: str,
    summaries: Sequence[ShardSummary],
    report: tuple[str | None, str | None] | None = None,
) -> Digest:
    """Merge, add the outbox's dead letters and what waits in the other dead-letter
    queues, post. If no notifier heard it, raise
    DeliveryError (finish_run releases the claim, so the SQS retry posts it again); if
    some did, the failures are logged and not retried (the others would hear it twice)."""
    lines = failed_delivery_lines(
        service.failed_deliveries, service.sqs, service.settings.outbox_dlq_url
    )
    waiting, waiting_total = read_dead_letters(
        lambda url: service.clients.client("sqs", queue_region(url)),
        service.settings.dead_letter_queue_urls,
    )
    digest = merge_digest(
        run_id,
        summaries,
        failed_deliveries=lines,
        dead_letters=waiting,
        dead_letter_total=waiting_total,
    )
    if report is not None:
        digest = dataclasses.replace(digest, report_url=report[0], report_error=report[1])
    posted = post_digest(service.delivery.notifiers, digest)
    errors = posted.errors
    logger.info(
        "sweep_digest",
        extra={"run_id": run_id, "counts": dict(digest.counts), "errors": errors},
    )
    if errors and not posted.heard:
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


def sweep_in_process(service: SweepService) -> InvocationSweep:
    """Every shard here, `settings.concurrency` at once; alerts and digest as with SQS."""
    delivery = service.delivery
    shards = plan(service)
    run_id = new_run_id(iso(delivery.clock()))
    catalog = _catalog(service)
    summaries: list[ShardSummary] = []
    findings: list[Finding] = []
    if isinstance(catalog, str):
        # one alert about the specs, not one per shard: nothing was compared anywhere
        result = _specs_unreadable(service, shards[0] if shards else ACCOUNT_WIDE, catalog)
        summaries.append(deliver_and_summarize(delivery, result, out=findings))
    else:
        started = delivery.clock()  # before any shard reads: each mark may say so

        def delivered(result: ShardResult) -> None:
            result = _quieted(service, catalog, result)
            summary = deliver_and_summarize(
                delivery,
                result,
                lookup=service.lookup,
                out=findings,
                seen_since=_seen_since(service, result.shard, catalog),
                reverter=service.reverter,
            )
            summaries.append(summary)
            _mark_swept(service, result, summary, catalog, started)

        swept = run_in_process(
            shards,
            catalog,
            service.runner,
            workers=service.settings.concurrency,
            on_result=delivered,
        )
        completion = _quieted(service, catalog, ShardResult(ACCOUNT_WIDE, tuple(swept.completion)))
        summaries.append(
            deliver_and_summarize(delivery, completion, shard_id="accounts", out=findings)
        )
    silenced = silenced_of(summaries)
    report = (
        publish_report(service, run_id, findings, silenced=silenced) if service.reports else None
    )
    digest = post_run_digest(service, run_id, summaries, report)
    return InvocationSweep(run_id, findings, digest)


def run_scheduled_sweep(service: SweepService) -> dict[str, Any]:
    """The schedule handler: remind chat of exceptions that end within a day, then enqueue
    when a sweep queue is configured, else sweep here."""
    reminded = remind_expiring(service)
    try:
        if service.queue is not None:
            return {**enqueue_shards(service, service.queue).as_log(), **reminded}
        try:
            return {**sweep_in_process(service).as_log(), **reminded}
        except DeliveryError as exc:  # the findings are delivered; only the digest was lost
            logger.error("sweep_digest_failed", extra={"error": error_text(exc)})
            return {"digest_error": error_text(exc), **reminded}
    except SetpointError as exc:
        return {**_sweep_failed(service, exc), **reminded}


def remind_expiring(service: SweepService) -> dict[str, Any]:
    """Post the reminders of exceptions about to expire (`notify.expiry`); what goes wrong
    here is logged and never costs the sweep (specs that cannot be loaded are reported by
    the sweep itself)."""
    from chalicelib.notify.expiry import post_expiry_reminders

    try:
        catalog = service.specs()
        reminded = post_expiry_reminders(service.delivery, catalog)
    except SetpointError as exc:
        logger.error("exception_reminders_failed", extra={"error": error_text(exc)})
        return {"reminder_error": error_text(exc)}
    if not reminded.posted and not reminded.errors:
        return {}
    return {"reminded": reminded.posted, "reminder_errors": reminded.errors}


def _sweep_failed(service: SweepService, exc: SetpointError) -> dict[str, Any]:
    """The sweep could not start (accounts or regions unreadable, no run table...): one
    `unknown` alert about the sweep itself, so chat hears why every hour stays silent."""
    reason = f"the sweep could not run: {exc}"
    logger.error("sweep_failed", extra={"error": str(exc), "type": type(exc).__name__})
    ref = guard_ref(service.account_id(), service.regions, "sweep")
    finding = unknown_finding(ref, reason)
    outcome = EventOutcome(findings=[finding])
    deliver(service.delivery, [finding], outcome, cause="sweep", raise_on_failure=False)
    return {"error": reason, "alerts": len(outcome.alerts), "delivery_errors": outcome.errors}


__all__ = [
    "WORKER_DECORATOR_ARGS",
    "EnqueueResult",
    "SweepService",
    "build_sweep_service",
    "enqueue_shards",
    "handle_shard_batch",
    "run_scheduled_sweep",
    "sweep_in_process",
]
