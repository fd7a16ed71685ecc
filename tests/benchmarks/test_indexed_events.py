"""The indexed-bundle section of the event benchmark says pass or FAIL from its numbers."""

from __future__ import annotations

from collections import Counter

from benchmarks import bench_events
from benchmarks.indexed_events import IndexedRun


def run(specs: int, own_ms: float, cold_s: float = 0.3, peak_mb: float = 40.0) -> IndexedRun:
    timing = bench_events.EventTiming("drift", own_ms / 1000, 0.0, 0.0, 0.0, 3)
    warm = bench_events.TimingRun(specs, [timing], 1, Counter({"s3:ListObjectsV2": 1}))
    ops = Counter({"s3:GetObject": 1, "s3:ListObjectsV2": 1})
    return IndexedRun(specs, 1 << 20, 1 << 19, 1.0, ops, cold_s, cold_s, peak_mb, warm)


def summary(runs: list[IndexedRun]) -> dict[str, str]:
    text = bench_events.render_indexed_section(bench_events.machine(), runs, 1.0)
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return {
        row[0].lstrip("| "): row[-1].rstrip(" |")
        for row in rows
        if len(row) == 4 and row[0] != "| measure"
    }


def test_every_target_met_is_a_pass() -> None:
    verdicts = summary([run(100, 10.0), run(50_000, 12.0, cold_s=1.5)])
    assert set(verdicts.values()) == {"**pass**"}, verdicts


def test_own_time_growing_with_the_catalog_fails_the_ratio_even_under_25_ms() -> None:
    verdicts = summary([run(100, 10.0), run(50_000, 14.0, cold_s=2.5, peak_mb=300.0)])
    failed = [measure for measure, verdict in verdicts.items() if verdict == "**FAIL**"]
    assert len(failed) == 3 and any("50,000 specs / 100 specs" in m for m in failed), verdicts
