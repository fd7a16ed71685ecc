"""The event path over a pushed bundle with its index, at catalog sizes (bench_events.py).

For each size: the estate's groups and filler groups as spec files, made into the bundle
`setpoint push` uploads (validated, with its index: `specs.bundle.indexed_bundle`),
uploaded to its own prefix. Then, in fresh runtimes as a new Lambda container has:

- the cold event (runtime built, bundle listed, fetched, decoded and indexed, the event's
  own specs parsed): requests, own time (wall minus time inside moto), wall time;
- the same cold event again under `tracemalloc`, for its peak Python memory (moto's own
  allocations while serving the bundle included, so it overstates the Lambda's);
- warm events (`bench_events.measure_timing`: drift and revert of the web group).

moto is not AWS: request counts and our own time carry over, latencies do not.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

TARGET_COLD_S = 2.0
TARGET_PEAK_MB = 256.0
TARGET_RATIO = 1.3
DEFAULT_SIZES = (100, 1000, 10_000)


@dataclasses.dataclass
class IndexedRun:
    specs: int
    bundle_bytes: int
    spec_bytes: int
    build_s: float  # push's validation and index, for this many specs
    cold_ops: Counter[str]
    cold_own_s: float
    cold_wall_s: float
    peak_mb: float
    warm: Any  # bench_events.TimingRun


def spec_texts(ec2: Any, region: str, total: int, vpc: str, filler: Callable[..., Any]) -> dict:
    """Import-style spec files for every live group, padded with filler groups to `total`."""
    from chalicelib.kinds.security_group.collector import (
        SecurityGroupCollector,
        parse_security_group,
    )
    from chalicelib.kinds.security_group.writer import render_security_group_spec, spec_filename

    texts: dict[str, str] = {}
    for state in SecurityGroupCollector(lambda _region: ec2).list_region(region):
        name = f"policies/security_groups/{region}/{spec_filename(state)}"
        if name in texts:
            name = f"{name.removesuffix('.yaml')}.{state.group_id}.yaml"
        texts[name] = render_security_group_spec(state, group_names=state.peer_names)
    for index in range(max(0, total - len(texts))):
        state = parse_security_group(filler(index, vpc), region)
        name = f"policies/security_groups/{region}/{spec_filename(state)}"
        texts[name] = render_security_group_spec(state, group_names={})
    return texts


def measure_indexed(
    sizes: Sequence[int],
    *,
    meter: Any,
    actor: Any,
    estate: Any,
    ec2: Any,
    s3: Any,
    webhook: str,
    bucket: str,
    region: str,
    account: str,
    filler: Callable[..., Any],
    timing: Callable[..., Any],
    log: Callable[[str], None],
) -> list[IndexedRun]:
    import boto3

    from chalicelib.aws import ClientCache
    from chalicelib.handlers import handle_cloudtrail_event
    from chalicelib.notify.delivery import SlackWebhookNotifier
    from chalicelib.runtime import Runtime, build_pipeline, spec_provider
    from chalicelib.specs.bundle import indexed_bundle

    runs: list[IndexedRun] = []
    for size in sizes:
        prefix = f"indexed-{size}"
        log(f"      indexed bundle, {size} specs: rendering and validating (as push does)")
        texts = spec_texts(ec2, region, size, estate.vpc, filler)
        start = time.perf_counter()
        bundle = indexed_bundle(texts)
        build_s = time.perf_counter() - start
        body = bundle.body()
        s3.put_object(Bucket=bucket, Key=f"{prefix}/bundle.json", Body=body)
        spec_bytes = sum(len(text.encode()) for text in texts.values())
        del texts, bundle

        def cold(
            traced: bool, prefix: str = prefix, size: int = size
        ) -> tuple[Counter[str], float, float, float]:
            session = boto3.session.Session()
            meter.attach(session)
            event = actor.open_to_world(estate.web, 22)
            gc.collect()
            if traced:
                tracemalloc.start()
            with meter.window():
                start = time.perf_counter()
                clients = ClientCache(session)
                runtime = Runtime(
                    clients=clients,
                    pipeline=build_pipeline(clients),
                    specs=spec_provider(f"s3://{bucket}/{prefix}", clients),
                    notifiers=[SlackWebhookNotifier(webhook)],
                    regions=[region],
                    account=account,
                )
                outcome = handle_cloudtrail_event(event, runtime)
                wall = time.perf_counter() - start
            peak = 0.0
            if traced:
                peak = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
                tracemalloc.stop()
            statuses = [f.status.value for f in outcome.findings]
            if statuses != ["drifted"] or outcome.errors:
                raise SystemExit(f"indexed cold event broke at {size} specs: {statuses}")
            actor.revert(estate.web, 22)
            return meter.all_ops.copy(), wall - meter.transport_s, wall, peak

        log(f"      indexed bundle, {size} specs: cold event, then under tracemalloc")
        ops, own, wall, _ = cold(False)
        _, _, _, peak = cold(True)
        log(f"      indexed bundle, {size} specs: 40 warm events")
        warm = timing(meter, actor, estate, webhook, prefix, size, pairs=20)
        runs.append(IndexedRun(size, len(body), spec_bytes, build_s, ops, own, wall, peak, warm))
    return runs


def render_indexed(
    runs: Sequence[IndexedRun],
    *,
    ms: Callable[[float], float],
    percentile: Callable[[Sequence[float], float], float],
    verdict: Callable[[bool], str],
    table: Callable[..., list[str]],
    fmt_ops: Callable[[Counter[str]], str],
    target_requests: int,
    target_own_ms: float,
    header: list[str],
) -> str:
    """The section's Markdown: summary against the targets, then one row per size."""
    medians = [statistics.median(e.own_s for e in run.warm.events) for run in runs]
    ratio = medians[-1] / medians[0] if medians and medians[0] > 0 else float("nan")
    largest = runs[-1]
    warm_requests = max(sum(run.warm.ops.values()) for run in runs)
    own_ok = all(ms(m) <= target_own_ms for m in medians)
    peak = max(run.peak_mb for run in runs)
    out = [
        *header,
        "### Summary",
        "",
        *table(
            ["measure", "target", "result", ""],
            [
                [
                    "AWS requests per warm event, every size",
                    f"≤ {target_requests}",
                    f"{warm_requests} (most)",
                    verdict(warm_requests <= target_requests),
                ],
                [
                    "own time per warm event, median, every size",
                    f"≤ {target_own_ms:.0f} ms",
                    f"{min(ms(m) for m in medians):.1f}–{max(ms(m) for m in medians):.1f} ms",
                    verdict(own_ok),
                ],
                [
                    f"median own time, {largest.specs:,} specs / {runs[0].specs:,} specs",
                    f"< {TARGET_RATIO}",
                    f"{ratio:.2f}",
                    verdict(ratio < TARGET_RATIO),
                ],
                [
                    f"cold event (bundle fetched and indexed), {largest.specs:,} specs, wall",
                    f"≤ {TARGET_COLD_S:.0f} s",
                    f"{largest.cold_wall_s:.2f} s",
                    verdict(largest.cold_wall_s <= TARGET_COLD_S),
                ],
                [
                    "peak Python memory of the cold event (tracemalloc), every size",
                    f"≤ {TARGET_PEAK_MB:.0f} MB",
                    f"{peak:.0f} MB",
                    verdict(peak <= TARGET_PEAK_MB),
                ],
            ],
        ),
        "",
        "### By catalog size",
        "",
        *table(
            [
                "specs",
                "bundle MB (specs MB)",
                "push: validate + index, s",
                "cold requests",
                "cold own ms",
                "cold wall ms",
                "cold peak MB",
                "warm requests per event",
                "warm own median ms",
                "warm own p90 ms",
            ],
            [
                [
                    f"{run.specs:,}",
                    f"{run.bundle_bytes / 2**20:.1f} ({run.spec_bytes / 2**20:.1f})",
                    f"{run.build_s:.1f}",
                    f"{sum(run.cold_ops.values())}: {fmt_ops(run.cold_ops)}",
                    f"{ms(run.cold_own_s):.0f}",
                    f"{ms(run.cold_wall_s):.0f}",
                    f"{run.peak_mb:.0f}",
                    f"{sum(run.warm.ops.values())}: {fmt_ops(run.warm.ops)}",
                    f"{ms(median):.1f}",
                    f"{ms(percentile([e.own_s for e in run.warm.events], 0.9)):.1f}",
                ]
                for run, median in zip(runs, medians, strict=True)
            ],
        ),
        "",
    ]
    return "\n".join(out)
