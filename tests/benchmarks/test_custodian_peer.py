"""The peer comparison's pure helpers: /proc CPU, the Custodian policy file, its counts.

Custodian itself is not installed here (the benchmark installs it in its own venv);
these check what the benchmark builds and reads around it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.custodian_peer import (
    POLICY_NAMES,
    PeerInstall,
    custodian_command,
    ensure_custodian,
    matched_by_policy,
    peer_env,
    policy_file_text,
    read_counts,
)
from benchmarks.request_count_hook import ENV_VAR
from benchmarks.server_cpu import parse_stat_cpu, process_cpu_s

# A real /proc/PID/stat line whose command name holds a space and a parenthesis.
STAT = (
    "4242 (python3 (moto)) S 1 4242 4242 0 -1 4194560 9000 0 0 0 "
    "1234 567 0 0 20 0 9 0 100 200000000 5000 18446744073709551615"
)


def test_cpu_is_utime_plus_stime_counted_after_the_command_name() -> None:
    assert parse_stat_cpu(STAT, 100) == pytest.approx(18.01)


def test_a_line_without_a_command_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no command name"):
        parse_stat_cpu("4242 S 1 2 3", 100)
    with pytest.raises(ValueError, match="expected at least 15"):
        parse_stat_cpu("4242 (x) S 1 2", 100)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_busy_child_shows_cpu_time() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "sum(range(20_000_000)); print('ready', flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline() == b"ready\n"  # the work is done, the child waits
        busy = process_cpu_s(child.pid)
    finally:
        child.communicate(b"\n", timeout=60)
    assert busy is not None and busy > 0.05
    assert process_cpu_s(child.pid) is None  # reaped: no stat file


def test_the_policy_file_reads_every_kind_the_sweep_compares() -> None:
    doc = yaml.safe_load(policy_file_text("us-east-1"))
    by_name = {p["name"]: p for p in doc["policies"]}
    assert set(by_name) == set(POLICY_NAMES.values())
    resources = {p["resource"] for p in doc["policies"]}
    assert resources == {"aws.security-group", "aws.s3", "aws.iam-policy", "aws.iam-role"}
    assert not any("actions" in p for p in doc["policies"]), "the peer must change nothing"
    buckets = by_name[POLICY_NAMES["buckets"]]
    (group,) = buckets["filters"]
    assert {f["type"] for f in group["or"]} == {
        "global-grants",
        "has-statement",
        "check-public-block",
        "bucket-encryption",
        "value",
    }
    # the properties Setpoint's bucket specs compare, read by Custodian's filters
    assert {f["key"] for f in group["or"] if f["type"] == "value"} == {
        "Versioning.Status",
        "Logging",
    }
    assert set(buckets["query"][0]["augment-keys"]) == {"Acl", "Policy", "Versioning", "Logging"}
    # buckets are listed once for every region: read them in the first region only
    assert buckets["conditions"] == [{"type": "value", "key": "region", "value": "us-east-1"}]
    roles = by_name[POLICY_NAMES["IAM roles"]]
    assert {f["type"] for f in roles["filters"][0]["or"]} == {
        "cross-account",
        "has-inline-policy",
        "has-specific-managed-policy",
    }


def test_custodian_runs_every_region_without_its_cache(tmp_path: Path) -> None:
    install = PeerInstall(tmp_path / "venv", "c7n")
    argv = custodian_command(install, tmp_path / "p.yml", tmp_path / "out", ["a-1", "b-2"])
    assert argv[:2] == [str(tmp_path / "venv" / "bin" / "custodian"), "run"]
    assert argv[argv.index("--cache-period") + 1] == "0"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--region"] == ["a-1", "b-2"]
    env = peer_env({"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, tmp_path / "c.json", tmp_path)
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env[ENV_VAR] == str(tmp_path / "c.json") and env["HOME"] == str(tmp_path)


def test_counts_and_matches_are_read_from_the_run(tmp_path: Path) -> None:
    counts = tmp_path / "c.json"
    counts.write_text(json.dumps({"counts": {"s3:ListBuckets": 1, "ec2:X": 2}}))
    assert read_counts(counts) == {"s3:ListBuckets": 1, "ec2:X": 2}
    for region, n in (("us-east-1", 2), ("eu-west-1", 3)):
        folder = tmp_path / "out" / region / POLICY_NAMES["security groups"]
        folder.mkdir(parents=True)
        (folder / "resources.json").write_text(json.dumps([{}] * n))
    matched = matched_by_policy(tmp_path / "out")
    assert matched[POLICY_NAMES["security groups"]] == 5
    assert matched[POLICY_NAMES["buckets"]] == 0


def test_the_count_hook_counts_requests_in_a_child(tmp_path: Path) -> None:
    """The hook as the peer's venv loads it: every botocore call counted, written at exit."""
    # the answer comes from a `before-send` handler: the call goes through botocore's
    # whole call path (before-call included), only the HTTP send is replaced
    script = (
        "import botocore.session\n"
        "from botocore.awsrequest import AWSResponse\n"
        "from benchmarks.request_count_hook import install_from_env\n"
        "install_from_env(); install_from_env()  # a .pth seen twice installs once\n"
        "BODY = (b'<GetCallerIdentityResponse><GetCallerIdentityResult><Account>1</Account>'\n"
        "        b'</GetCallerIdentityResult></GetCallerIdentityResponse>')\n"
        "class Raw:\n"
        "    def stream(self, **_):\n"
        "        yield BODY\n"
        "def answer(request, **_):\n"
        "    return AWSResponse(request.url, 200, {}, Raw())\n"
        "client = botocore.session.get_session().create_client('sts', region_name='us-east-1')\n"
        "client.meta.events.register('before-send', answer)\n"
        "for _ in range(2):\n"
        "    client.get_caller_identity()\n"
    )
    counts = tmp_path / "counts.json"
    env = dict(
        os.environ, **{ENV_VAR: str(counts)}, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script], env=env, cwd=root, check=True, timeout=120)
    assert read_counts(counts) == {"sts:GetCallerIdentity": 2}


def test_a_failed_install_is_reported_not_raised(tmp_path: Path) -> None:
    install = ensure_custodian(tmp_path / "venv", spec="./no-such-package-here")
    assert not install.ok
    assert install.error is not None and "no-such-package-here" in install.error
    assert not (tmp_path / "venv" / ".setpoint-peer-stamp").exists()
