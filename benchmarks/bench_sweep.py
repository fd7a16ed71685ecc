"""Measure `setpoint check` (the full sweep) at scale and write docs/performance.md's sweep section.

For each scale S: start a moto server (its own process, 127.0.0.1), seed it through its
HTTP API in a thread pool (S security groups with 1–8 rules across several VPCs in two
regions, S/4 buckets with a policy, Block Public Access and default encryption, S/4
customer-managed IAM policies, S/10 roles with an inline and attached policies), run
`setpoint import`, make 20 out-of-band changes, then run `setpoint check --format json`
in a child process several times: wall time and peak RSS of the child, AWS requests by
operation (a botocore `before-call` hook, see counted_cli.py), requests against the
lower bound, and whether every change was reported (matched by resource id). Each
check alternates with a Cloud Custodian run over the same server and estate (its
nearest four policies, benchmarks/custodian_peer.py), and both are measured alike: wall
time, the child's own CPU, moto's CPU over the same span (/proc), requests by operation.

moto is not AWS: times here are moto's, request counts carry over. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python benchmarks/bench_sweep.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.custodian_peer import (  # noqa: E402
    PeerInstall,
    custodian_command,
    ensure_custodian,
    matched_by_policy,
    peer_env,
    policy_file_text,
    read_counts,
)
from benchmarks.report_sections import git_commit, write_section  # noqa: E402
from benchmarks.server_cpu import process_cpu_s  # noqa: E402
from benchmarks.sweep_estate import (  # noqa: E402
    CHANGES,
    REGIONS,
    VPCS_PER_REGION,
    Aws,
    Change,
    Counts,
    Estate,
    apply_changes,
    counts_for,
    seed,
)

COUNTED_CLI = Path(__file__).with_name("counted_cli.py")

# Targets from the issue (a 2-core machine).
TARGET_REQUEST_RATIO = 1.2
TARGET_RSS_MB = 200.0
TARGET_TIME_RATIO = 4.5
TARGET_WALL_OVER_MOTO_CPU = 1.3  # wall time at most this many times moto's own CPU time
TARGET_CPU_VS_PEER = 5.0  # the check's client CPU at least this many times below Custodian's
PEER_MAX_SCALE = 2000  # Custodian runs beside the check up to this scale (minutes above it)
PEER_VENV = ROOT / "build" / "custodian-venv"

# EC2 DescribeSecurityGroups: at most 1000 per page. IAM GetAccountAuthorizationDetails:
# MaxItems at most 1000. S3 ListBuckets: MaxBuckets at most 10000.
SG_PAGE = 1000
IAM_PAGE = 1000
BUCKET_PAGE = 10000
S3_SECURITY_READS = 4  # policy, ACL (grants), public access block, encryption: always compared
S3_PINNED_KEYS = ("versioning", "object_ownership", "logging", "tags")  # one read each if pinned

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGIONS[0],
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# The moto server, in its own process (the checker and the seeder never share its GIL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class MotoServer:
    endpoint: str
    pid: int  # its CPU time is read from /proc before and after each measured run


@contextmanager
def moto_server() -> Iterator[MotoServer]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.2)
        yield MotoServer(endpoint, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SETPOINT_"))}
    # moto answers DescribeSecurityGroups for a whole region in one page (5,000 groups at
    # S=10,000), which on a loaded machine can take longer than the 20 s default; a retry
    # would only ask again. Timeouts are not what this bench measures.
    env.update(FAKE_AWS_ENV, AWS_ENDPOINT_URL=endpoint, SETPOINT_READ_TIMEOUT="300")
    return env


# --------------------------------------------------------------------------------------
# The lower bound: the fewest requests any sweep of this estate could make


@dataclasses.dataclass
class LowerBound:
    by_op: dict[str, int]
    groups_by_region: dict[str, int]
    buckets: int
    iam_items: int

    @property
    def total(self) -> int:
        return sum(self.by_op.values())


def lower_bound(aws: Aws, specs_dir: Path) -> LowerBound:
    """SG pages per region, one IAM listing, ListBuckets + the bucket reads the specs need.

    Counted from the live estate after the changes (what a sweep has to read) and the
    imported specs (which bucket properties they pin).
    """
    import yaml

    groups_by_region = {}
    for region in REGIONS:
        groups_by_region[region] = len(aws.ec2[region].describe_security_groups()["SecurityGroups"])
    buckets = aws.s3[REGIONS[0]].list_buckets()["Buckets"]
    spec_reads = {}
    for path in specs_dir.rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("kind") == "s3_bucket":
            spec_reads[doc["name"]] = S3_SECURITY_READS + sum(1 for k in S3_PINNED_KEYS if k in doc)
    bucket_reads = sum(spec_reads.get(b["Name"], S3_SECURITY_READS) for b in buckets)
    paginator = aws.iam.get_paginator("get_account_authorization_details")
    iam_items = 0
    for page in paginator.paginate(Filter=["Role", "LocalManagedPolicy", "User", "Group"]):
        iam_items += sum(
            len(page.get(key, []))
            for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
        )
    by_op = {
        "ec2:DescribeSecurityGroups": sum(
            max(1, math.ceil(n / SG_PAGE)) for n in groups_by_region.values()
        ),
        "iam:GetAccountAuthorizationDetails": max(1, math.ceil(iam_items / IAM_PAGE)),
        "s3:ListBuckets": max(1, math.ceil(len(buckets) / BUCKET_PAGE)),
        "s3:Get* (bucket properties the specs compare)": bucket_reads,
        "sts:GetCallerIdentity": 1,
    }
    return LowerBound(by_op, groups_by_region, len(buckets), iam_items)


# --------------------------------------------------------------------------------------
# Running the CLI as a child process


@dataclasses.dataclass
class ChildRun:
    wall_s: float
    max_rss_mb: float
    exit_code: int
    stderr: str
    load1: float  # the machine's 1-minute load average when the child started
    cpu_s: float  # the child's own user + system CPU time (moto runs in another process)
    server_cpu_s: float | None = None  # moto's own CPU time during the run (None: no /proc)


def run_child(
    args: Sequence[str], env: dict[str, str], cwd: Path, server_pid: int | None = None
) -> ChildRun:
    """Wall time and peak RSS of one child (os.wait4 gives this child's own rusage), and
    the moto server's CPU time over the same span when its pid is given."""
    load1 = os.getloadavg()[0]
    server_before = process_cpu_s(server_pid) if server_pid is not None else None
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(args), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    server_after = process_cpu_s(server_pid) if server_pid is not None else None
    server_cpu = (
        server_after - server_before
        if server_before is not None and server_after is not None
        else None
    )
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    proc.stderr.close()
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    cpu = usage.ru_utime + usage.ru_stime
    return ChildRun(wall, rss_mb, proc.returncode, stderr, load1, cpu, server_cpu)


def median_or_none(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


SPEC_LOAD = """
import sys, time
from pathlib import Path
from chalicelib.runtime import spec_provider
from chalicelib.aws import ClientCache
start, cpu = time.perf_counter(), time.process_time()
spec_provider(sys.argv[1:], ClientCache())()
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def spec_sources(specs: Path, budget: int | None = None) -> list[Path]:
    """`specs` as one source, or split into sub-folders that each fit the per-directory
    budget (`check` refuses a larger directory: S=10,000 writes 11.6 MiB of specs)."""
    from chalicelib.specs.budgets import MAX_BUNDLE_BYTES

    limit = MAX_BUNDLE_BYTES if budget is None else budget

    def size(folder: Path) -> int:
        return sum(f.stat().st_size for f in folder.rglob("*.y*ml"))

    if size(specs) <= limit:
        return [specs]
    if any(f.is_file() and f.suffix in (".yaml", ".yml") for f in specs.iterdir()):
        raise RuntimeError(f"{specs}: over the spec budget, with spec files of its own")
    return [
        part
        for child in sorted(c for c in specs.iterdir() if c.is_dir())
        for part in spec_sources(child, limit)
    ]


def time_spec_load(specs: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds loading the specs (read, YAML, schema, catalog), in a fresh child."""
    done = subprocess.run(
        [sys.executable, "-c", SPEC_LOAD, *map(str, spec_sources(specs))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def setpoint_cmd(counts_file: Path, *args: str) -> list[str]:
    return [sys.executable, str(COUNTED_CLI), str(counts_file), *args]


@dataclasses.dataclass
class ScaleResult:
    scale: int
    counts: Counts
    resources: int  # live resources swept (groups incl. VPC defaults, buckets, policies, roles)
    seed_s: float
    seed_requests: int
    import_s: float
    specs_written: int
    runs: list[ChildRun]
    ops: Counter[str]
    call_s: dict[str, float]  # time inside each operation, summed over threads (median run)
    spec_load_s: float  # loading and validating the spec directory alone (median)
    spec_load_cpu_s: float  # the same, CPU time
    ops_consistent: bool
    bound: LowerBound
    found: list[Change]
    missed: list[Change]
    extra: Counter[str]  # status counts of findings not caused by the 20 changes
    summary: dict[str, int]
    families: dict[str, tuple[ChildRun, int]]  # family -> its check run, resources in it
    peer: PeerResult | None = None  # Cloud Custodian over the same server, interleaved
    peer_note: str = ""  # why the peer did not run at this scale

    @property
    def wall_median_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)

    @property
    def rss_max_mb(self) -> float:
        return max(run.max_rss_mb for run in self.runs)

    @property
    def server_cpu_median_s(self) -> float | None:
        return median_or_none([run.server_cpu_s for run in self.runs])

    @property
    def requests(self) -> int:
        return sum(self.ops.values())


@dataclasses.dataclass
class PeerResult:
    """Cloud Custodian's runs at one scale, beside the check's."""

    version: str
    runs: list[ChildRun]
    ops: Counter[str]  # the first run's requests by operation
    ops_consistent: bool
    matched: dict[str, int]  # resources each policy matched (first run)

    @property
    def wall_median_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def cpu_median_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)

    @property
    def rss_max_mb(self) -> float:
        return max(run.max_rss_mb for run in self.runs)

    @property
    def server_cpu_median_s(self) -> float | None:
        return median_or_none([run.server_cpu_s for run in self.runs])

    @property
    def requests(self) -> int:
        return sum(self.ops.values())


@dataclasses.dataclass
class Prepared:
    """One scale, seeded, imported and changed, its moto server still running."""

    scale: int
    env: dict[str, str]
    check: list[str]  # the `setpoint` arguments of the measured command
    specs: Path
    counts_file: Path
    report: Path
    estate: Estate
    changes: list[Change]
    bound: LowerBound
    seed_s: float
    import_s: float
    written: int
    runs: list[ChildRun] = dataclasses.field(default_factory=list)
    ops: list[Counter[str]] = dataclasses.field(default_factory=list)
    call_seconds: list[dict[str, float]] = dataclasses.field(default_factory=list)
    spec_load: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    families: dict[str, ChildRun] = dataclasses.field(default_factory=dict)
    server_pid: int | None = None
    peer_runs: list[ChildRun] = dataclasses.field(default_factory=list)
    peer_ops: list[Counter[str]] = dataclasses.field(default_factory=list)
    peer_matched: dict[str, int] = dataclasses.field(default_factory=dict)


# One family of kinds per check, to split the CPU time by what is swept. The baseline
# sweeps IAM groups only (the estate has none: one small listing), so a family's own
# cost is its run minus the baseline: interpreter, imports and spec loading cancel out.
FAMILIES = {
    "baseline": "iam_group",
    "security groups": "security_group",
    "buckets": "s3_bucket",
    "IAM policies and roles": "iam_policy,iam_role",
}


def family_size(p: Prepared, family: str) -> int:
    if family == "security groups":
        return sum(p.bound.groups_by_region.values())
    if family == "buckets":
        return p.bound.buckets
    if family == "IAM policies and roles":
        return len(p.estate.policies) + len(p.estate.roles)
    return 0


def run_families(p: Prepared) -> None:
    """One check per family of kinds (CPU time split by kind)."""
    elsewhere = p.report.with_name(f"family-{p.scale}.json")  # keep the full report intact
    for family, kinds in FAMILIES.items():
        argv = [*p.check[:-1], str(elsewhere), "--kinds", kinds]
        run = run_child(setpoint_cmd(p.counts_file, *argv), p.env, ROOT)
        # the baseline reads no resource on purpose (the estate has no groups), and a check
        # that read nothing exits 2 with "read 0 resources": that is its expected ending
        expected = (0, 1, 2) if family == "baseline" else (0, 1)
        if run.exit_code not in expected or (run.exit_code == 2 and "read 0" not in run.stderr):
            raise RuntimeError(f"setpoint check --kinds {kinds} exited {run.exit_code}")
        p.families[family] = run
        log(f"S={p.scale}: --kinds {kinds}: {run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU")


def prepare(scale: int, workdir: Path, stack: ExitStack) -> Prepared:
    server = stack.enter_context(moto_server())
    aws = Aws(server.endpoint)
    env = child_env(server.endpoint)
    log(f"S={scale}: seeding {counts_for(scale)}")
    t0 = time.perf_counter()
    estate = seed(aws, scale)
    seed_s = time.perf_counter() - t0
    log(f"S={scale}: seeded in {seed_s:.1f} s ({estate.requests} requests)")

    specs = workdir / f"specs-{scale}"
    shutil.rmtree(specs, ignore_errors=True)
    region_flags = [flag for region in REGIONS for flag in ("--region", region)]
    counts_file = workdir / f"counts-{scale}.json"
    imported = run_child(
        setpoint_cmd(counts_file, "import", "--out", str(specs), *region_flags), env, ROOT
    )
    if imported.exit_code != 0:
        raise RuntimeError(f"setpoint import failed:\n{imported.stderr}")
    written = sum(1 for _ in specs.rglob("*.yaml"))
    log(f"S={scale}: imported {written} specs in {imported.wall_s:.1f} s")

    changes = apply_changes(aws, estate)
    bound = lower_bound(aws, specs)
    report = workdir / f"check-{scale}.json"
    sources = [flag for part in spec_sources(specs) for flag in ("--specs", str(part))]
    check = ["check", *sources, *region_flags, "--format", "json"]
    check += ["--output", str(report)]
    return Prepared(
        scale,
        env,
        check,
        specs,
        counts_file,
        report,
        estate,
        changes,
        bound,
        seed_s,
        imported.wall_s,
        written,
        server_pid=server.pid,
    )


def run_once(p: Prepared, index: int, total: int) -> None:
    run = run_child(setpoint_cmd(p.counts_file, *p.check), p.env, ROOT, p.server_pid)
    if run.exit_code not in (0, 1):
        raise RuntimeError(f"setpoint check exited {run.exit_code}:\n{run.stderr}")
    p.runs.append(run)
    counted = json.loads(p.counts_file.read_text(encoding="utf-8"))
    p.ops.append(Counter(counted["counts"]))
    p.call_seconds.append(counted["seconds"])
    log(
        f"S={p.scale}: check run {index + 1}/{total}: {run.wall_s:.2f} s, "
        f"{run.max_rss_mb:.0f} MB, {sum(p.ops[-1].values())} requests, load {run.load1:.1f}"
    )


def run_peer_once(p: Prepared, install: PeerInstall, workdir: Path, index: int, total: int) -> None:
    """One `custodian run` over the same moto server, its requests counted by the hook."""
    folder = workdir / f"custodian-{p.scale}"
    out = folder / f"out-{index}"
    shutil.rmtree(out, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    policy_file = folder / "policies.yml"
    policy_file.write_text(policy_file_text(REGIONS[0]), encoding="utf-8")
    counts_file = folder / f"counts-{index}.json"
    counts_file.unlink(missing_ok=True)
    env = peer_env(p.env, counts_file, folder)
    argv = custodian_command(install, policy_file, out, REGIONS)
    run = run_child(argv, env, folder, p.server_pid)
    if run.exit_code != 0:
        raise RuntimeError(f"custodian run exited {run.exit_code}:\n{run.stderr[-4000:]}")
    p.peer_runs.append(run)
    p.peer_ops.append(read_counts(counts_file))
    if index == 0:
        p.peer_matched = matched_by_policy(out)
    log(
        f"S={p.scale}: custodian run {index + 1}/{total}: {run.wall_s:.2f} s, "
        f"{run.cpu_s:.2f} s CPU, {sum(p.peer_ops[-1].values())} requests, load {run.load1:.1f}"
    )


def finish(
    p: Prepared, profile: Path | None, peer_version: str = "", peer_note: str = ""
) -> ScaleResult:
    if profile is not None:
        target = profile.with_suffix(f".{p.scale}")
        profile_env = dict(p.env, SETPOINT_BENCH_PROFILE=str(target))
        run_child(setpoint_cmd(p.counts_file, *p.check), profile_env, ROOT)
        log(f"S={p.scale}: profile in {target}")
    found_json = json.loads(p.report.read_text(encoding="utf-8"))
    findings = found_json["findings"]
    found = [c for c in p.changes if any(c.reported_by(f) for f in findings)]
    missed = [c for c in p.changes if c not in found]
    extra = Counter(
        f["status"]
        for f in findings
        if f["status"] != "in_sync" and not any(c.reported_by(f) for c in p.changes)
    )
    resources = (
        sum(p.bound.groups_by_region.values())
        + p.bound.buckets
        + len(p.estate.policies)
        + len(p.estate.roles)
    )
    first = p.ops[0]
    peer = None
    if p.peer_runs:
        peer = PeerResult(
            version=peer_version,
            runs=p.peer_runs,
            ops=p.peer_ops[0],
            ops_consistent=all(ops == p.peer_ops[0] for ops in p.peer_ops),
            matched=p.peer_matched,
        )
    return ScaleResult(
        scale=p.scale,
        counts=counts_for(p.scale),
        resources=resources,
        seed_s=p.seed_s,
        seed_requests=p.estate.requests,
        import_s=p.import_s,
        specs_written=p.written,
        runs=p.runs,
        ops=first,
        call_s={op: statistics.median(run.get(op, 0.0) for run in p.call_seconds) for op in first},
        spec_load_s=statistics.median(wall for wall, _ in p.spec_load),
        spec_load_cpu_s=statistics.median(cpu for _, cpu in p.spec_load),
        ops_consistent=all(ops == first for ops in p.ops),
        bound=p.bound,
        found=found,
        missed=missed,
        extra=extra,
        summary=dict(found_json.get("summary", {})),
        families={family: (run, family_size(p, family)) for family, run in p.families.items()},
        peer=peer,
        peer_note=peer_note,
    )


def peer_note_for(scale: int, peer: PeerInstall | None, peer_scales: Sequence[int]) -> str:
    """Why Custodian does not run beside the check at this scale ("" when it does)."""
    if peer is None:
        return "not run (--no-peer)"
    if not peer.ok:
        return f"not run: {peer.error}"
    if scale not in peer_scales:
        return "not run at this scale"
    return ""


def measure(
    scales: Sequence[int],
    runs: int,
    workdir: Path,
    profile: Path | None = None,
    split_families: bool = False,
    peer: PeerInstall | None = None,
    peer_scales: Sequence[int] = (),
) -> list[ScaleResult]:
    """Every scale prepared first (each on its own moto server), then the runs interleaved
    (S=500 check, S=500 Custodian, S=2000 check, S=2000 Custodian, S=500 check, ...) so
    load from other work on the machine falls on every scale and both tools alike rather
    than on whichever ran during a busy spell."""
    if not scales:
        raise ValueError("no scale given")
    notes = {scale: peer_note_for(scale, peer, peer_scales) for scale in scales}
    with ExitStack() as stack:
        prepared = [prepare(scale, workdir, stack) for scale in scales]
        for index in range(runs):
            for p in prepared:
                run_once(p, index, runs)
                if peer is not None and not notes[p.scale]:
                    run_peer_once(p, peer, workdir, index, runs)
        for _ in range(runs):
            for p in prepared:
                p.spec_load.append(time_spec_load(p.specs, p.env))
        if split_families:  # at the largest scale Custodian runs at (S=10,000 takes long)
            beside_peer = [p for p in prepared if p.scale <= PEER_MAX_SCALE]
            run_families((beside_peer or prepared)[-1])
        version = peer.version if peer is not None else ""
        return [finish(p, profile, version, notes[p.scale]) for p in prepared]


def measure_scale(scale: int, runs: int, workdir: Path, profile: Path | None) -> ScaleResult:
    return measure([scale], runs, workdir, profile)[0]


# --------------------------------------------------------------------------------------
# The report


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def machine_rows() -> list[list[object]]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    versions = []
    for name in ("boto3", "botocore", "moto"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        ["CPU", cpu],
        ["cores", os.cpu_count() or 0],
        ["RAM", ram],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["OS", platform.platform()],
        ["libraries", ", ".join(versions)],
        ["load average at start (1/5/15 min)", load],
    ]


def fmt_ops(ops: Counter[str] | dict[str, int]) -> str:
    return ", ".join(f"{op} ×{n}" for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))


def aws_estimate(result: ScaleResult) -> int:
    """The measured requests, corrected for what moto does differently from AWS."""
    moto_only = result.ops.get("s3:GetBucketLocation", 0)
    pages = result.bound.by_op["ec2:DescribeSecurityGroups"]
    missing_pages = max(0, pages - result.ops.get("ec2:DescribeSecurityGroups", 0))
    return result.requests - moto_only + missing_pages


def is_property_read(op: str) -> bool:
    return op.startswith("s3:Get") and op != "s3:GetBucketLocation"


def over_bound(result: ScaleResult) -> list[str]:
    """Where the measured requests exceed the lower bound, operation by operation."""
    bound = dict(result.bound.by_op)
    s3_gets = sum(
        n
        for op, n in result.ops.items()
        if op.startswith("s3:Get") and op != "s3:GetBucketLocation"
    )
    notes = []
    for op, n in sorted(result.ops.items(), key=lambda kv: -kv[1]):
        if is_property_read(op):
            continue
        expected = bound.get(op, 0)
        if n > expected:
            notes.append(f"`{op}` {n} (bound {expected})")
    expected_gets = bound["s3:Get* (bucket properties the specs compare)"]
    if s3_gets > expected_gets:
        notes.append(f"bucket property reads {s3_gets} (bound {expected_gets})")
    return notes


def ratio_text(num: float, den: float, unit: str = " s") -> str:
    return f"{num:.1f}{unit} / {den:.1f}{unit} = {num / den:.2f}×" if den > 0 else "—"


def floor_rows(results: Sequence[ScaleResult]) -> list[list[object]]:
    """Wall time against moto's own CPU time during the same runs (the emulator's floor)."""
    rows: list[list[object]] = []
    for r in results:
        moto = r.server_cpu_median_s
        label = f"wall time / moto's CPU time during the check, S={r.scale}, medians"
        target = f"≤ {TARGET_WALL_OVER_MOTO_CPU}×"
        if moto is None or moto <= 0:
            rows.append([label, target, "moto's CPU time not readable (no /proc)", ""])
            continue
        ratio = r.wall_median_s / moto
        rows.append(
            [
                label,
                target,
                ratio_text(r.wall_median_s, moto),
                verdict(ratio <= TARGET_WALL_OVER_MOTO_CPU),
            ]
        )
    return rows


def peer_summary_rows(results: Sequence[ScaleResult]) -> list[list[object]]:
    """Client CPU against Cloud Custodian's (the target), wall and requests beside it."""
    rows: list[list[object]] = []
    for r in results:
        label = f"client CPU, Cloud Custodian / `setpoint check`, S={r.scale}, medians"
        target = f"≥ {TARGET_CPU_VS_PEER:.0f}× less"
        if r.peer is None:
            if r.peer_note != "not run at this scale":
                rows.append([label, target, r.peer_note, ""])
            continue
        ratio = r.peer.cpu_median_s / r.cpu_median_s
        rows.append(
            [
                label,
                target,
                ratio_text(r.peer.cpu_median_s, r.cpu_median_s),
                verdict(ratio >= TARGET_CPU_VS_PEER),
            ]
        )
        rows.append(
            [
                f"wall time, Cloud Custodian / `setpoint check`, S={r.scale}, medians",
                "—",
                ratio_text(r.peer.wall_median_s, r.wall_median_s),
                "",
            ]
        )
        rows.append(
            [
                f"AWS requests, Cloud Custodian / `setpoint check`, S={r.scale}",
                "—",
                f"{r.peer.requests} / {r.requests} = {r.peer.requests / r.requests:.2f}×",
                "",
            ]
        )
    return rows


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def peer_lines(results: Sequence[ScaleResult], runs: int) -> list[str]:
    """The side-by-side section: both tools, each scale, from this run only."""
    out = ["### Side by side with Cloud Custodian (this run)", ""]
    with_peer = [r for r in results if r.peer is not None]
    if not with_peer:
        notes = sorted({r.peer_note for r in results if r.peer_note})
        return [*out, "Cloud Custodian: " + "; ".join(notes) + ". No comparison is shown.", ""]
    version = with_peer[0].peer.version if with_peer[0].peer else ""
    out += [
        f"Cloud Custodian {version} (`c7n` from PyPI, in its own venv) ran `custodian run` "
        f"{runs} times per scale on the same moto server as `setpoint check`, alternating "
        "with it (check, Custodian, check, Custodian, ...), over both regions, with its "
        "resource cache off. Its four policies read what the sweep compares through "
        "Custodian's nearest filters (benchmarks/custodian_peer.py): security groups "
        "(`ingress`, `egress`), buckets (`global-grants`, `has-statement`, "
        "`check-public-block`, `bucket-encryption`, value filters on versioning and logging, "
        "which `import`-written specs pin; `augment-keys` names those properties, so it "
        "reads no bucket property its filters do not use), customer-managed "
        "IAM policies (`has-allow-all`: each default version's document) and roles "
        "(`cross-account`, `has-inline-policy`, `has-specific-managed-policy`). Client CPU "
        "is each child's own user + system time (os.wait4); moto's CPU is the server "
        "process's over the same span (/proc). Custodian's requests are counted the way "
        "Setpoint's are: a botocore `before-call` handler loaded at start-up in its venv "
        "(a `.pth` file, benchmarks/request_count_hook.py), once per API call.",
        "",
    ]
    rows: list[list[object]] = []
    for r in results:
        tools: list[tuple[str, Sequence[ChildRun], int, float | None]] = [
            ("`setpoint check`", r.runs, r.requests, r.server_cpu_median_s)
        ]
        if r.peer is not None:
            tools.append(
                ("Cloud Custodian", r.peer.runs, r.peer.requests, r.peer.server_cpu_median_s)
            )
        for name, tool_runs, requests, moto in tools:
            wall = statistics.median(run.wall_s for run in tool_runs)
            cpu = statistics.median(run.cpu_s for run in tool_runs)
            walls = ", ".join(f"{run.wall_s:.1f}" for run in tool_runs)
            rows.append(
                [
                    r.scale,
                    name,
                    f"{wall:.2f} s ({walls})",
                    f"{cpu:.2f} s",
                    seconds(moto),
                    f"{wall / moto:.2f}×" if moto else "—",
                    requests,
                    f"{max(run.max_rss_mb for run in tool_runs):.0f} MB",
                ]
            )
        if r.peer is None:
            rows.append([r.scale, "Cloud Custodian", r.peer_note, "", "", "", "", ""])
    out += table(
        [
            "S",
            "tool",
            f"wall, median of {runs} (all runs)",
            "client CPU, median",
            "moto's CPU during the run, median",
            "wall / moto's CPU",
            "AWS requests",
            "peak RSS",
        ],
        rows,
    )
    out.append("")
    for r in with_peer:
        assert r.peer is not None
        consistent = "" if r.peer.ops_consistent else " (differed between runs; first shown)"
        out += [
            f"Cloud Custodian's requests at S={r.scale}: {r.peer.requests}{consistent}; "
            f"`setpoint check` made {r.requests}.",
            "",
            *table(
                ["operation", "Cloud Custodian", "`setpoint check`"],
                [
                    [f"`{op}`", r.peer.ops.get(op, 0), r.ops.get(op, 0)]
                    for op in sorted(set(r.peer.ops) | set(r.ops))
                ],
            ),
            "",
            "Resources its policies matched (first run; informational: the filters are there "
            "to make Custodian read, and its `egress` filter matches every group that allows "
            "all outbound traffic): "
            + ", ".join(f"{name} {n}" for name, n in r.peer.matched.items())
            + ".",
            "",
        ]
    return out


def family_lines(results: list[ScaleResult]) -> list[str]:
    """CPU time per resource by family of kinds, from the one-family checks."""
    split = [r for r in results if r.families]
    if not split:
        return []
    r = split[-1]
    base_run, _ = r.families["baseline"]
    rows = []
    for family, (run, size) in r.families.items():
        if family == "baseline" or not size:
            continue
        own = run.cpu_s - base_run.cpu_s
        noise = own <= 0  # single runs: a small family can land below the baseline
        rows.append(
            [
                family,
                size,
                f"{run.wall_s:.2f} s",
                f"{run.cpu_s:.2f} s",
                "below the baseline's noise" if noise else f"{own:.2f} s",
                "—" if noise else f"{1000 * own / size:.2f} ms",
            ]
        )
    return [
        f"### CPU time by kind (S={r.scale}, one run each)",
        "",
        f"`check --kinds K` for one family at a time. The baseline, `--kinds iam_group` "
        f"(no groups in the estate: one small listing), took {base_run.cpu_s:.2f} s of CPU "
        f"({base_run.wall_s:.2f} s wall): interpreter, imports, clients and loading all "
        "specs. A family's own CPU is its run minus the baseline; it includes botocore "
        "parsing the responses (moto's time is in another process).",
        "",
        *table(
            ["family", "resources", "wall", "CPU", "CPU minus baseline", "per resource"],
            rows,
        ),
        "",
    ]


def render(results: list[ScaleResult], runs: int, elapsed_s: float) -> str:
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "## Full sweep (bench_sweep.py)",
        "",
        "`setpoint check` over a seeded moto estate at scale S: S security groups with 1–8",
        f"ingress rules each across {VPCS_PER_REGION * len(REGIONS)} VPCs in "
        f"{len(REGIONS)} regions ({', '.join(REGIONS)}), S/4 buckets (policy, Block Public",
        "Access, default encryption), S/4 customer-managed IAM policies and S/10 roles (an",
        "inline policy and one or two attached policies each), and one multi-region trail",
        "(the `guard` kind reports a region no trail covers). `setpoint import` writes the",
        f"specs, then {CHANGES} out-of-band changes are made and `setpoint check --format json`",
        f"runs as a child process {runs} times, each run followed by one of Cloud "
        "Custodian's over the same server (up to S=2000). Rerun with `make bench` or",
        "`python benchmarks/bench_sweep.py --output docs/performance.md` "
        f"(this run took {elapsed_s:.0f} s).",
        "",
        f"Measured {date} at commit {git_commit()}.",
        "",
        "### Summary",
        "",
    ]
    by_scale = {r.scale: r for r in results}
    rows: list[list[object]] = []
    for r in results:
        ratio = r.requests / r.bound.total
        rows.append(
            [
                f"requests vs lower bound, S={r.scale}",
                f"≤ {TARGET_REQUEST_RATIO}×",
                f"{r.requests} / {r.bound.total} = {ratio:.2f}×",
                verdict(ratio <= TARGET_REQUEST_RATIO),
            ]
        )
    for r in results:
        rows.append(
            [
                f"changes found, S={r.scale}",
                f"{CHANGES}/{CHANGES}",
                f"{len(r.found)}/{CHANGES}",
                verdict(not r.missed),
            ]
        )
    if 2000 in by_scale:
        r = by_scale[2000]
        rows.append(
            [
                "peak RSS of `setpoint check`, S=2000",
                f"≤ {TARGET_RSS_MB:.0f} MB",
                f"{r.rss_max_mb:.0f} MB",
                verdict(r.rss_max_mb <= TARGET_RSS_MB),
            ]
        )
    if 500 in by_scale and 2000 in by_scale:
        ratio = by_scale[2000].wall_median_s / by_scale[500].wall_median_s
        rows.append(
            [
                "time(S=2000) / time(S=500), medians",
                f"≤ {TARGET_TIME_RATIO}×",
                f"{by_scale[2000].wall_median_s:.1f} s / {by_scale[500].wall_median_s:.1f} s "
                f"= {ratio:.2f}×",
                verdict(ratio <= TARGET_TIME_RATIO),
            ]
        )
        cpu_ratio = by_scale[2000].cpu_median_s / by_scale[500].cpu_median_s
        rows.append(
            [
                "CPU(S=2000) / CPU(S=500) of the check child, medians (less load-sensitive)",
                "—",
                f"{by_scale[2000].cpu_median_s:.1f} s / {by_scale[500].cpu_median_s:.1f} s "
                f"= {cpu_ratio:.2f}×",
                "",
            ]
        )
    rows += floor_rows(results)
    rows += peer_summary_rows(results)
    out += [*table(["measure", "target", "result", ""], rows), ""]
    out += peer_lines(results, runs)

    out += ["### Per scale", ""]
    rows = []
    for r in results:
        walls = sorted(run.wall_s for run in r.runs)
        loads = [run.load1 for run in r.runs]
        rows.append(
            [
                r.scale,
                f"{r.counts.groups} / {r.counts.buckets} / {r.counts.policies} / {r.counts.roles}",
                r.resources,
                f"{r.seed_s:.1f} s ({r.seed_requests} requests)",
                f"{r.import_s:.1f} s ({r.specs_written} specs)",
                f"{r.wall_median_s:.2f} s ({', '.join(f'{w:.2f}' for w in walls)}; "
                f"load {min(loads):.1f}–{max(loads):.1f})",
                f"{1000 * r.wall_median_s / r.resources:.1f} ms",
                f"{r.cpu_median_s:.2f} s ({1000 * r.cpu_median_s / r.resources:.1f} ms)",
                f"{r.spec_load_s:.2f} s wall, {r.spec_load_cpu_s:.2f} s CPU",
                f"{r.rss_max_mb:.0f} MB",
                r.requests,
                f"{r.requests / r.resources:.2f} (bound {r.bound.total / r.resources:.2f})",
            ]
        )
    out += table(
        [
            "S",
            "groups / buckets / policies / roles seeded",
            "resources swept",
            "seed time",
            "`import` time",
            f"`check` wall time, median of {runs} (all runs)",
            "per resource",
            "CPU time of `check`, median (per resource)",
            "of which loading specs (median)",
            "peak RSS (max)",
            "AWS requests",
            "requests per resource",
        ],
        rows,
    )
    out += [
        "",
        "Resources swept: every live security group (the seeded ones, each VPC's default "
        "group, the one made by hand), bucket, customer-managed policy and role. CPU time is "
        "the child's own (user + system, from os.wait4): moto runs in another process, so it "
        "counts Setpoint's work and botocore's (signing, parsing), not the server's, and "
        "varies less with machine load than wall time does.",
        "",
        *family_lines(results),
        "### AWS requests by operation",
        "",
    ]
    for r in results:
        bound_rows = [[op, n] for op, n in r.bound.by_op.items()]
        out += [
            f"S={r.scale}: measured {r.requests} requests"
            + ("" if r.ops_consistent else " (the count differed between runs; first run shown)")
            + ".",
            "",
            *table(
                ["operation", "requests", "time inside the calls, summed over threads"],
                [
                    [f"`{op}`", n, f"{r.call_s.get(op, 0.0):.2f} s"]
                    for op, n in sorted(r.ops.items())
                ],
            ),
            "",
            f"Lower bound {r.bound.total}: security groups per region "
            + ", ".join(f"{region} {n}" for region, n in r.bound.groups_by_region.items())
            + f" (≤ {SG_PAGE} per page); {r.bound.iam_items} IAM items (≤ {IAM_PAGE} per "
            f"GetAccountAuthorizationDetails page); {r.bound.buckets} buckets (one ListBuckets "
            f"page per {BUCKET_PAGE}, then the {S3_SECURITY_READS} always-compared properties "
            "per bucket plus one read per pinned property in its spec).",
            "",
            *table(["lower bound", "requests"], bound_rows),
            "",
        ]
        notes = over_bound(r)
        if notes:
            out += ["Above the bound: " + "; ".join(notes) + ".", ""]
        on_aws = aws_estimate(r)
        groups = max(1, sum(r.bound.groups_by_region.values()))
        out += [
            f"Against AWS (estimate) the same sweep would make {on_aws} requests "
            f"({on_aws / r.bound.total:.2f}× the bound): without the `GetBucketLocation` "
            "calls moto makes necessary, and with every DescribeSecurityGroups page AWS "
            "would return (moto answers in one page).",
            "",
            f"Where the time goes: the check used {r.cpu_median_s:.1f} s of CPU (median); "
            f"loading the {r.specs_written} specs alone takes {r.spec_load_cpu_s:.1f} s of "
            f"CPU ({100 * r.spec_load_cpu_s / r.cpu_median_s:.0f}%, measured on its own in a "
            f"fresh process; {1000 * r.spec_load_cpu_s / r.specs_written:.1f} ms per spec). "
            "The per-operation times above are spent waiting on moto (S3 reads overlap in "
            "a thread pool, so their sum exceeds wall time); moto took "
            f"{1000 * r.call_s.get('ec2:DescribeSecurityGroups', 0.0) / groups:.1f} ms per "
            "security group to answer DescribeSecurityGroups.",
            "",
        ]

    out += ["### The 20 changes", ""]
    for r in results:
        status = ", ".join(f"{k} {v}" for k, v in sorted(r.summary.items()))
        out += [
            f"S={r.scale}: {len(r.found)}/{CHANGES} found (report summary: {status}).",
            "",
        ]
        if r.missed:
            out += ["Missed: " + "; ".join(f"{c.kind} {c.what}" for c in r.missed) + ".", ""]
        if r.extra:
            out += [
                "Findings not caused by the changes: " + fmt_ops(r.extra) + ".",
                "",
            ]
    sample = results[0]
    out += [
        *table(
            ["kind", "change"],
            [[c.kind, c.what] for c in (*sample.found, *sample.missed)],
        ),
        "",
        "A change counts as found when the report lists its resource id (group id, bucket "
        "name, IAM ARN) with a status other than `in_sync`: the deleted group as `missing`, "
        "the one made by hand as `unmanaged`, the rest as `drifted`. The deleted group's "
        "spec names it by name and VPC (`import` writes no group id), so its `missing` "
        "finding carries no id and is matched by kind and name.",
        "",
        "### Machine",
        "",
        *table(["", ""], machine_rows()),
        "",
        "### Methodology and caveats",
        "",
        "- moto is not AWS. moto answers one request at a time per call and costs roughly",
        "  10–15 ms per EC2 call and 4–10 ms per S3/IAM call here; AWS latencies differ. The",
        "  request counts carry over; the times show how the sweep scales, not AWS times.",
        "- The machine is shared with other work (see the load average); times are noisy,",
        "  so the table shows the median of the runs and every run, the scales' runs are",
        "  interleaved, and CPU time of the check process is given beside wall time.",
        "- moto's own cost per security group grows with the number of groups in a region",
        "  (see ms per group above), so the wall-time ratio between scales includes moto's",
        "  growth; the CPU-time ratio is Setpoint's and botocore's alone.",
        "- The moto server runs in its own process; the check is a child process, timed from",
        "  start to exit (interpreter start and imports included). Peak RSS is the child's",
        "  own `ru_maxrss` (os.wait4), the largest of the runs.",
        "- Requests are counted by a botocore `before-call` hook the child installs before",
        "  it runs `chalicelib.cli.main.main` (benchmarks/counted_cli.py); every client in the",
        "  process copies it. One API call counts once, retries included. The hook is in",
        "  place in the timed runs; it adds one counter increment per request.",
        "- moto's ListBuckets does not return `BucketRegion` (AWS does), so against moto the",
        "  sweep needs one `GetBucketLocation` per bucket that it would not make on AWS; the",
        "  lower bound counts none. moto ignores page sizes on DescribeSecurityGroups and",
        "  GetAccountAuthorizationDetails (one page, however large), so the page counts of",
        "  the bound are what AWS would need, and moto's answer is one page.",
        "- moto's CPU time is read from `/proc/PID/stat` (utime + stime, every thread) of the",
        "  server process just before each child starts and just after it exits: the work",
        "  moto did to answer that run. On one emulator process this is the floor: no client",
        "  can finish faster than moto can answer, so wall time is judged against it.",
        "- Cloud Custodian runs in this same benchmark run, on the same moto server and the",
        "  same estate, interleaved with the check (see the side-by-side section); it is",
        "  installed in a throwaway venv (`build/custodian-venv`, reused while its stamp names",
        "  the same pinned version). No number from another day is compared.",
        "- No test asserts on these numbers; tests/benchmarks checks the harness at tiny scale.",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", help="write the sweep section of this page (default: stdout)")
    parser.add_argument(
        "--scale",
        "--scales",
        default="500,2000",
        help="comma-separated scales S (default 500,2000)",
    )
    parser.add_argument(
        "--with-10k",
        action="store_true",
        help="also sweep S=10000 (the check alone; about 10 more minutes, so off by default)",
    )
    parser.add_argument(
        "--no-peer", action="store_true", help="do not run Cloud Custodian beside the check"
    )
    parser.add_argument(
        "--peer-venv",
        default=str(PEER_VENV),
        help="where Cloud Custodian is installed (default build/custodian-venv, reused by stamp)",
    )
    parser.add_argument("--runs", type=int, default=3, help="check runs per scale (default 3)")
    parser.add_argument("--json", help="also write the raw results here as JSON")
    parser.add_argument("--profile", help="also run one check under cProfile into FILE.<S>")
    parser.add_argument(
        "--no-split", action="store_true", help="skip the per-kind CPU runs at the largest S"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scales = [int(v) for v in args.scale.split(",") if v.strip()]
    if args.with_10k and 10000 not in scales:
        scales.append(10000)
    profile = Path(args.profile) if args.profile else None
    peer = None
    if not args.no_peer:
        log(f"installing Cloud Custodian into {args.peer_venv} (reused when its stamp matches)")
        peer = ensure_custodian(Path(args.peer_venv))
        log(
            f"Cloud Custodian {peer.version} ready" + (" (reused)" if peer.reused else "")
            if peer.ok
            else f"Cloud Custodian not installed: {peer.error}; the check runs alone"
        )
    peer_scales = [scale for scale in scales if scale <= PEER_MAX_SCALE]
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-") as tmp:
        results = measure(
            scales, args.runs, Path(tmp), profile, not args.no_split, peer, peer_scales
        )
    report = render(results, args.runs, time.perf_counter() - started)
    if args.output:
        write_section(Path(args.output), "sweep", report)
        log(f"wrote the sweep section of {args.output}")
    else:
        print(report)
    if args.json:
        Path(args.json).write_text(
            json.dumps([raw(r) for r in results], indent=1), encoding="utf-8"
        )
    return 0


def raw(result: ScaleResult) -> dict[str, Any]:
    """The measurements as plain JSON (dataclasses.asdict would mangle the Counters)."""
    return {
        "scale": result.scale,
        "counts": dataclasses.asdict(result.counts),
        "resources": result.resources,
        "seed_s": result.seed_s,
        "import_s": result.import_s,
        "runs": [dataclasses.asdict(run) | {"stderr": run.stderr[-2000:]} for run in result.runs],
        "wall_median_s": result.wall_median_s,
        "rss_max_mb": result.rss_max_mb,
        "ops": dict(result.ops),
        "call_s": result.call_s,
        "spec_load_s": result.spec_load_s,
        "spec_load_cpu_s": result.spec_load_cpu_s,
        "lower_bound": dict(result.bound.by_op),
        "found": [dataclasses.asdict(c) for c in result.found],
        "missed": [dataclasses.asdict(c) for c in result.missed],
        "extra": dict(result.extra),
        "summary": result.summary,
        "families": {
            family: {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "resources": size}
            for family, (run, size) in result.families.items()
        },
        "server_cpu_median_s": result.server_cpu_median_s,
        "peer": None
        if result.peer is None
        else {
            "version": result.peer.version,
            "runs": [
                dataclasses.asdict(run) | {"stderr": run.stderr[-2000:]} for run in result.peer.runs
            ],
            "ops": dict(result.peer.ops),
            "matched": result.peer.matched,
        },
        "peer_note": result.peer_note,
    }


if __name__ == "__main__":
    sys.exit(main())
