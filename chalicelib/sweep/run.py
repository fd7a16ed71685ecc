"""Sweeping one shard, and a whole plan in process with a bounded thread pool.

The Lambda worker and `setpoint check` both go through `ShardRunner.run`, so a shard
reads the same way wherever it runs. A shard that cannot be read (role denied, region
not enabled for the account, throttled past retries) comes back as `unknown` findings
carrying the reason; it never stops the other shards.

Security-group specs without a region may match a group in any region, so no single
region shard can call them missing. Each shard says which of them it matched; once every
shard of an account is in, `regionless_missing` reports the rest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.aws import FAILURE_MEMORY_SECONDS, RoleSessions, default_region
from chalicelib.errors import ReadError, SetpointError
from chalicelib.kinds.pipelines import build_pipeline
from chalicelib.kinds.registry import BY_NAME, FAMILIES
from chalicelib.model import Finding, ResourceRef, Status
from chalicelib.pipeline import Pipeline, unknown_finding
from chalicelib.report.scope import Silenced
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.sweep.accounts import enabled_regions
from chalicelib.sweep.shards import Shard

logger = logging.getLogger("setpoint")

DEFAULT_WORKERS = 8
PipelineBuilder = Callable[[RoleSessions, str], Pipeline]


@dataclass(frozen=True)
class ShardResult:
    """What one shard found.

    `regionless_matched`: spec sources of region-less security-group specs a live group
    matched here. `unread`: why the shard's security groups could not be listed (a
    region-less spec unmatched anywhere is then `unknown`, not `missing`). `skipped`: why
    the shard read nothing on purpose (its region is not enabled in the account).
    `ignored`: resources an ignore rule skipped before their own reads
    (`SweepResult.ignored`), for `quiet` to count; never delivered. `silenced`: what
    `quiet` then silenced (those included), for the digest's and the report's counts.
    """

    shard: Shard
    findings: tuple[Finding, ...] = ()
    regionless_matched: frozenset[str] = frozenset()
    unread: str | None = None
    skipped: str | None = None
    ignored: tuple[Finding, ...] = ()
    silenced: Silenced = field(default_factory=Silenced)


def shard_unknown(shard: Shard, reason: str) -> list[Finding]:
    """One `unknown` per kind: the whole shard could not be read, and why."""
    return [
        unknown_finding(ResourceRef(kind, shard.account, shard.region, name="(all)"), reason)
        for kind in shard.kinds
    ]


def regionless_sources(catalog: SpecCatalog, account: str, family: str) -> frozenset[str]:
    regionless = BY_NAME[family].regionless
    if regionless is None:
        return frozenset()
    return frozenset(str(spec.source) for spec in regionless.specs(catalog, account))


def _default_builder(sessions: RoleSessions, account: str) -> Pipeline:
    return build_pipeline(sessions.clients_for(account))


class ShardRunner:
    """Sweeps shards with one pipeline (and one set of clients) per account.

    `enabled_only`: regions come from each account's enabled regions; a shard for a
    region the account has not enabled reads nothing and reports nothing. Otherwise the
    regions were configured, and a disabled one reports `unknown` (OptInRequired).
    """

    def __init__(
        self,
        sessions: RoleSessions,
        *,
        enabled_only: bool = False,
        build: PipelineBuilder = _default_builder,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.enabled_only = enabled_only
        self._build = build
        self._clock = clock
        self._pipelines: dict[str, Pipeline] = {}
        self._enabled: dict[str, frozenset[str]] = {}
        # a failed DescribeRegions, remembered as long as RoleSessions remembers a denied
        # role: one sweep does not ask once per shard, a warm container asks again later
        self._enabled_failures: dict[str, tuple[float, ReadError]] = {}
        self._lock = threading.Lock()

    def pipeline_for(self, account: str) -> Pipeline:
        with self._lock:
            if account not in self._pipelines:
                self._pipelines[account] = self._build(self.sessions, account)
            return self._pipelines[account]

    def _enabled_regions(self, account: str) -> frozenset[str]:
        with self._lock:
            found = self._enabled.get(account)
            failed = self._enabled_failures.get(account)
        if found is not None:
            return found
        if failed is not None and self._clock() - failed[0] < FAILURE_MEMORY_SECONDS:
            raise failed[1]
        try:
            ec2 = self.sessions.clients_for(account).client("ec2", default_region())
            found = enabled_regions(ec2)
        except ReadError as exc:
            with self._lock:
                self._enabled_failures[account] = (self._clock(), exc)
            raise
        with self._lock:
            self._enabled[account] = found
            self._enabled_failures.pop(account, None)
        return found

    def run(self, shard: Shard, catalog: SpecCatalog) -> ShardResult:
        try:
            if (
                self.enabled_only
                and BY_NAME[shard.family].scope == "regional"
                and shard.region not in self._enabled_regions(shard.account)
            ):
                return ShardResult(shard, skipped=f"{shard.region} is not enabled")
            result = self.pipeline_for(shard.account).sweep(
                catalog, shard.account, list(shard.regions), shard.kinds
            )
        except (SetpointError, ClientError, BotoCoreError) as exc:
            # ReadError from the role or the region list; SpecError from the catalog
            logger.warning("shard_failed", extra={"shard": shard.id, "error": str(exc)})
            return ShardResult(shard, tuple(shard_unknown(shard, str(exc))), unread=str(exc))
        findings = result.findings
        ignored = tuple(result.ignored)
        if BY_NAME[shard.family].regionless is None:
            return ShardResult(shard, tuple(findings), ignored=ignored)
        regionless = regionless_sources(catalog, shard.account, shard.family)
        matched = frozenset(
            f.spec for f in findings if f.spec in regionless and f.status is not Status.MISSING
        ) | (result.claimed & regionless)
        unread = next(
            (f.reason for f in findings if f.status is Status.UNKNOWN and f.id is None), None
        )
        kept = tuple(
            f
            for f in findings
            # a regionless spec's missing (or unlisted) verdict waits for the whole account;
            # an unknown live resource (id known) is reported here
            if not (
                f.spec in regionless
                and (f.status is Status.MISSING or (f.status is Status.UNKNOWN and f.id is None))
            )
        )
        return ShardResult(shard, kept, matched, unread, ignored=ignored)


def regionless_missing(
    catalog: SpecCatalog,
    account: str,
    region: str,
    matched: frozenset[str],
    unread: Sequence[str] = (),
) -> list[Finding]:
    """Region-less specs (of every family that allows them) no region of `account`
    matched: `missing`, or `unknown` when some region could not be listed. Filed under
    `region`, the account's first swept region, as a one-call sweep files them."""
    found: list[Finding] = []
    for family in FAMILIES:
        if family.regionless is None:
            continue
        for spec in family.regionless.specs(catalog, account):
            source = str(spec.source)
            if source in matched:
                continue
            ref = family.regionless.ref(spec, account, region)
            if unread:
                found.append(unknown_finding(ref, "; ".join(dict.fromkeys(unread)), source))
            else:
                found.append(family.regionless.missing(spec, ref))
    return found


def complete_accounts(results: Sequence[ShardResult], catalog: SpecCatalog) -> list[Finding]:
    """The findings only a whole account can decide (see `regionless_missing`)."""
    per_account: dict[str, list[ShardResult]] = {}
    for result in results:
        regional = BY_NAME[result.shard.family].regionless is not None
        if regional and result.skipped is None:
            per_account.setdefault(result.shard.account, []).append(result)
    found: list[Finding] = []
    for account, shards in per_account.items():
        matched = frozenset().union(*(r.regionless_matched for r in shards))
        unread = [r.unread for r in shards if r.unread]
        found += regionless_missing(catalog, account, shards[0].shard.region, matched, unread)
    return found


@dataclass
class InProcessSweep:
    """Every shard's result, in plan order, plus the account-level findings."""

    results: list[ShardResult] = field(default_factory=list)
    completion: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings] + self.completion

    @property
    def ignored(self) -> list[Finding]:
        """What the shards did not read because an ignore rule skips it."""
        return [f for r in self.results for f in r.ignored]


def run_in_process(
    shards: Sequence[Shard],
    catalog: SpecCatalog,
    runner: ShardRunner,
    *,
    workers: int = DEFAULT_WORKERS,
    on_result: Callable[[ShardResult], None] | None = None,
) -> InProcessSweep:
    """All shards, at most `workers` at once; `on_result` runs on the calling thread
    (progress bars, alert delivery) as each shard finishes."""
    results: dict[int, ShardResult] = {}
    for index, result in _as_finished(shards, catalog, runner, max(1, workers)):
        results[index] = result
        if on_result is not None:
            on_result(result)
    ordered = [results[i] for i in range(len(shards))]
    return InProcessSweep(ordered, complete_accounts(ordered, catalog))


def _as_finished(
    shards: Sequence[Shard], catalog: SpecCatalog, runner: ShardRunner, workers: int
) -> Iterator[tuple[int, ShardResult]]:
    if workers == 1 or len(shards) <= 1:
        for index, shard in enumerate(shards):
            yield index, runner.run(shard, catalog)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shard") as pool:
        futures = {pool.submit(runner.run, shard, catalog): i for i, shard in enumerate(shards)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def by_account(results: Sequence[ShardResult]) -> Mapping[str, list[ShardResult]]:
    grouped: dict[str, list[ShardResult]] = {}
    for result in results:
        grouped.setdefault(result.shard.account, []).append(result)
    return grouped
