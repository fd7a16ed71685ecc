"""`setpoint import` over specs a team already reviewed: it must never approve drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION


@pytest.fixture
def reviewed(ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """An imported, reviewed spec folder; then port 22 opened to the world by hand."""
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    out = tmp_path / "policies"
    assert main(["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]) == 0
    spec = out / "security_groups" / REGION / "web.yaml"
    reviewed_text = "# reviewed by security in PR #12\n" + spec.read_text()
    spec.write_text(reviewed_text)
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    capsys.readouterr()
    return {"ec2": ec2, "vpc": vpc, "web": web, "out": out, "spec": spec, "text": reviewed_text}


def _check(out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(
        [
            "check",
            "--specs",
            str(out),
            "--region",
            REGION,
            "--format",
            "json",
            "--kinds",
            "security_group",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_import_again_keeps_the_reviewed_spec_and_the_drift_stays_visible(
    reviewed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = reviewed["out"]
    assert main(["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]) == 0
    said = capsys.readouterr().out
    assert f"skipped {reviewed['spec']}: security_group web already specified in" in said
    assert "import never approves drift" in said
    assert reviewed["spec"].read_text() == reviewed["text"]  # comment and rules as reviewed
    code, report = _check(out, capsys)
    assert code == 1
    (web,) = [f for f in report["findings"] if f["id"] == reviewed["web"]]
    assert web["status"] == "drifted"


def test_a_new_resource_is_still_imported_beside_the_reviewed_ones(
    reviewed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, out = reviewed["ec2"], reviewed["out"]
    ec2.create_security_group(GroupName="cache", Description="cache", VpcId=reviewed["vpc"])
    assert main(["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]) == 0
    said = capsys.readouterr().out
    assert "wrote 1 spec(s)" in said
    assert (out / "security_groups" / REGION / "cache.yaml").exists()


def test_dry_run_lists_and_writes_nothing(
    reviewed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, out = reviewed["ec2"], reviewed["out"]
    ec2.create_security_group(GroupName="cache", Description="cache", VpcId=reviewed["vpc"])
    argv = ["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]
    assert main([*argv, "--dry-run"]) == 0
    said = capsys.readouterr().out
    cache = out / "security_groups" / REGION / "cache.yaml"
    assert f"would write {cache}" in said
    assert not cache.exists()


def test_force_rewrites_and_says_so(
    reviewed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    out = reviewed["out"]
    argv = ["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]
    assert main([*argv, "--force"]) == 0
    said = capsys.readouterr().out
    assert f"overwrote {reviewed['spec']} (--force)" in said
    assert "0.0.0.0/0" in reviewed["spec"].read_text()
    assert _check(out, capsys)[0] == 0  # the drift is now the spec: that is what --force means


def test_only_adopts_one_resource(
    reviewed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, out = reviewed["ec2"], reviewed["out"]
    cache = ec2.create_security_group(GroupName="cache", Description="c", VpcId=reviewed["vpc"])
    ec2.create_security_group(GroupName="queue", Description="q", VpcId=reviewed["vpc"])
    argv = ["import", "--out", str(out), "--region", REGION, "--kinds", "security_group"]
    assert main([*argv, "--only", cache["GroupId"]]) == 0
    assert "wrote 1 spec(s)" in capsys.readouterr().out
    assert (out / "security_groups" / REGION / "cache.yaml").exists()
    assert not (out / "security_groups" / REGION / "queue.yaml").exists()
    assert main([*argv, "--only", "sg-0nothere"]) == 2
    assert "--only sg-0nothere: no live resource" in capsys.readouterr().err


def test_out_that_is_a_file_is_one_clean_error(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "specs.yaml"
    target.write_text("not a folder\n")
    assert main(["import", "--out", str(target), "--region", REGION]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: --out {target}: is a file, not a directory"
