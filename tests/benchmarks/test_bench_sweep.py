"""The sweep benchmark's harness at a tiny scale: it seeds, changes, counts and reports.

It runs the real thing (a moto server process, `setpoint import` and `check` as child
processes) on 20 groups, so a harness that miscounts or misses a change shows here and
not only in a long benchmark run. Nothing here asserts on time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks.bench_sweep import (
    S3_SECURITY_READS,
    ScaleResult,
    measure,
    peer_note_for,
    render,
    spec_sources,
)
from benchmarks.custodian_peer import PeerInstall
from benchmarks.sweep_estate import CHANGES, REGIONS, VPCS_PER_REGION, counts_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ScaleResult:
    # with the per-family runs, which must not disturb the full check's report
    (result,) = measure([20], runs=1, workdir=tmp_path_factory.mktemp("bench"), split_families=True)
    return result


def test_every_change_is_made_and_found(tiny: ScaleResult) -> None:
    assert len(tiny.found) == CHANGES
    assert tiny.missed == []
    assert not tiny.extra, "findings that none of the changes explain"
    kinds = {c.kind for c in tiny.found}
    assert kinds == {"security_group", "s3_bucket", "iam_policy", "iam_role"}


def test_requests_are_counted_by_operation(tiny: ScaleResult) -> None:
    assert tiny.ops_consistent
    assert tiny.ops["ec2:DescribeSecurityGroups"] >= len(REGIONS)
    assert tiny.ops["iam:GetAccountAuthorizationDetails"] >= 1
    assert tiny.ops["s3:ListBuckets"] >= 1
    assert tiny.requests == sum(tiny.ops.values())


def test_the_lower_bound_counts_pages_and_bucket_reads(tiny: ScaleResult) -> None:
    counts = counts_for(20)
    bound = tiny.bound.by_op
    assert bound["ec2:DescribeSecurityGroups"] == len(REGIONS)  # well under 1000 per region
    assert bound["iam:GetAccountAuthorizationDetails"] == 1
    assert bound["s3:ListBuckets"] == 1
    assert tiny.bound.buckets == counts.buckets
    reads = bound["s3:Get* (bucket properties the specs compare)"]
    assert reads >= S3_SECURITY_READS * counts.buckets
    # the seeded groups, one made by hand, one deleted, and each VPC's default group
    # (the created VPCs and each region's default VPC)
    defaults = len(REGIONS) * (VPCS_PER_REGION + 1)
    assert sum(tiny.bound.groups_by_region.values()) == counts.groups + defaults


def test_the_child_is_measured(tiny: ScaleResult) -> None:
    (run,) = tiny.runs
    assert run.exit_code == 1  # drift found
    assert run.max_rss_mb > 10


def test_the_report_states_the_result(tiny: ScaleResult, tmp_path: Path) -> None:
    text = render([tiny], runs=1, elapsed_s=1.0)
    assert "## Full sweep (bench_sweep.py)" in text
    assert f"| changes found, S=20 | {CHANGES}/{CHANGES} | {CHANGES}/{CHANGES} | **pass** |" in text
    assert "`ec2:DescribeSecurityGroups`" in text


def test_the_cpu_time_is_split_by_family(tiny: ScaleResult) -> None:
    assert set(tiny.families) == {
        "baseline",
        "security groups",
        "buckets",
        "IAM policies and roles",
    }
    _, groups = tiny.families["security groups"]
    assert groups == sum(tiny.bound.groups_by_region.values())
    assert all(run.cpu_s > 0 for run, _ in tiny.families.values())


def test_moto_cpu_is_measured_beside_the_check(tiny: ScaleResult) -> None:
    (run,) = tiny.runs
    assert run.server_cpu_s is not None and run.server_cpu_s > 0  # moto answered requests
    text = render([tiny], runs=1, elapsed_s=1.0)
    assert "| wall time / moto's CPU time during the check, S=20, medians | ≤ 1.3× |" in text


def test_without_custodian_the_comparison_says_not_run(tiny: ScaleResult) -> None:
    """No figure from another day: the rows name why the peer did not run."""
    assert tiny.peer is None
    failed = PeerInstall(Path("venv"), "c7n", error="`pip install c7n` failed: no network")
    for note in (tiny.peer_note, peer_note_for(20, failed, [20])):
        text = render([dataclasses.replace(tiny, peer_note=note)], runs=1, elapsed_s=1.0)
        row = "| client CPU, Cloud Custodian / `setpoint check`, S=20, medians | ≥ 5× less |"
        assert f"{row} {note} |  |" in text
        assert note.startswith("not run")
        assert "Cloud Custodian: " + note in text
        assert "× faster" not in text and "wall time, Cloud Custodian" not in text


def test_specs_over_the_directory_budget_are_checked_as_several_sources(tmp_path: Path) -> None:
    """S=10,000 writes 11.6 MiB of specs, and `check` refuses a directory over 8 MiB."""
    for folder, size in (("security_groups/us-east-1", 600), ("security_groups/eu-west-1", 600)):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "a.yaml").write_text("x" * size)
    (tmp_path / "s3_buckets").mkdir()
    (tmp_path / "s3_buckets" / "b.yaml").write_text("x" * 100)
    assert spec_sources(tmp_path, budget=2000) == [tmp_path]
    assert spec_sources(tmp_path, budget=1250) == [
        tmp_path / "s3_buckets",
        tmp_path / "security_groups",
    ]
    assert spec_sources(tmp_path, budget=700) == [
        tmp_path / "s3_buckets",
        tmp_path / "security_groups" / "eu-west-1",
        tmp_path / "security_groups" / "us-east-1",
    ]
