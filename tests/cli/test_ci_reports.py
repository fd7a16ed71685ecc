"""What a nightly CI job reads: the scope of every report, errors as reports, clean exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

OTHER = "us-west-2"


@pytest.fixture
def specs(ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Groups in two regions, imported; the specs name both regions."""
    boto3.client("ec2", region_name=OTHER).create_security_group(
        GroupName="west", Description="west"
    )
    ec2.create_security_group(GroupName="home", Description="home")
    out = tmp_path / "policies"
    argv = ["import", "--out", str(out), "--kinds", "security_group"]
    assert main([*argv, "--region", REGION, "--region", OTHER]) == 0
    capsys.readouterr()
    return out


def test_json_states_its_scope(specs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "--specs", str(specs), "--kinds", "security_group", "--format", "json"]
    assert main([*argv, "--region", REGION]) == 0
    scope = json.loads(capsys.readouterr().out)["scope"]
    assert scope["regions"] == [REGION]
    assert scope["regions_from"] == "--region"
    assert scope["kinds"] == ["security_group"]
    assert scope["sources"] == [str(specs)]
    assert scope["resources_read"] >= 1 and scope["specs"] >= 2
    assert len(scope["accounts"]) == 1


def test_without_region_flags_the_specs_regions_are_read_and_the_report_says_so(
    specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS_DEFAULT_REGION is eu-west-1; a spec names us-west-2: before, its group was "missing"
    argv = ["check", "--specs", str(specs), "--kinds", "security_group", "--format", "json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scope"]["regions"] == [REGION, OTHER]
    assert report["scope"]["regions_from"] == "the AWS default region + the regions the specs name"
    assert report["summary"]["missing"] == 0


def test_text_and_junit_state_the_scope(
    specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "--specs", str(specs), "--kinds", "security_group", "--region", REGION]
    assert main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("Scope: 1 account(s)") and f"regions {REGION} (from --region)" in last
    junit = tmp_path / "drift.xml"
    assert main([*argv, "--format", "junit", "--output", str(junit)]) == 0
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert props["setpoint.regions"] == REGION
    assert props["setpoint.kinds"] == "security_group"


def test_a_check_that_cannot_run_still_writes_a_junit_error(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    report = tmp_path / "drift.xml"
    argv = ["check", "--specs", str(empty), "--format", "junit", "--output", str(report)]
    assert main(argv) == 2
    assert "no specs loaded" in capsys.readouterr().err
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    error = suite.find("testcase/error")
    assert error is not None and "no specs loaded" in (error.get("message") or "")


def test_a_check_that_cannot_run_still_writes_a_json_error(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--specs", str(tmp_path / "nope"), "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["error"]["type"] == "ConfigError"
    assert "nope" in report["error"]["message"]
    assert "findings" not in report  # never an empty list that reads as "no drift"


@pytest.mark.parametrize(
    ("region", "says"),
    [
        ("nowhere-1", "--region nowhere-1: not an AWS region"),
        ("EU-WEST-1", "--region EU-WEST-1: region names are lower case (eu-west-1)"),
        ("eu-wset-1", "did you mean eu-west-1?"),
    ],
)
def test_a_bad_region_is_one_line_before_any_call(
    specs: Path, region: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--specs", str(specs), "--region", region]) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_an_output_in_a_missing_folder_is_refused_before_the_sweep(
    specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "x.json"
    assert main(["check", "--specs", str(specs), "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: --output {target}: no such directory {target.parent}"


def test_a_closed_pipe_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text("kind: s3_bucket\nname: audit-logs\n")
    # `setpoint validate ... | head -0`: the reader is gone before we write
    code = (
        "import sys; from chalicelib.cli.main import main; \n"
        "import os; r, w = os.pipe(); os.close(r); os.dup2(w, 1);\n"
        f"sys.exit(main(['validate', '--specs', {str(specs)!r}]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "closed pipe" in run.stderr


def test_version_and_a_mistyped_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("setpoint ")
    assert main(["chek"]) == 2
    assert "did you mean 'check'?" in capsys.readouterr().err


def test_html_report_is_written_with_its_findings(
    specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], ec2: Any
) -> None:
    ec2.create_security_group(GroupName="stray", Description="made by hand")
    page = tmp_path / "report.html"
    argv = ["check", "--specs", str(specs), "--kinds", "security_group", "--region", REGION]
    assert main([*argv, "--format", "html", "--output", str(page)]) == 1
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "stray" in text and 'data-status="unmanaged"' in text
    assert f"regions {REGION} (from --region)" in text
