"""The guard through the CLI on moto: explain a real StopLogging record, import, check."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from chalicelib.cli.main import main
from tests.events.helpers import SAMPLES

REGION = "us-west-2"  # the published StopLogging record's region
TRAIL = "example-trail"


def _trail() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="example-trail-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(Name=TRAIL, S3BucketName="example-trail-logs", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name=TRAIL)


def test_explain_a_real_stoplogging_record_prints_a_critical_alert_and_exits_1(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail()
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name=TRAIL)
    (tmp_path / "policies").mkdir()
    event = str(SAMPLES / "cloudtrail" / "StopLogging__2.json")
    assert main(["explain", event, "--specs", str(tmp_path / "policies")]) == 1
    out = capsys.readouterr().out
    assert "Critical: Drift: Setpoint guard example-trail" in out
    assert "assumed-role/tester" in out and "trail is not logging" in out


def test_import_names_the_trail_and_check_then_finds_it_stopped(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _trail()
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION, "--kinds", "guard"]) == 0
    spec = (specs / "guard" / "guard.yaml").read_text()
    assert "kind: guard" in spec and '- "example-trail"' in spec
    assert main(["validate", "--specs", str(specs)]) == 0
    check = ["check", "--specs", str(specs), "--region", REGION, "--kinds", "guard"]
    assert main(check) == 0
    boto3.client("cloudtrail", region_name=REGION).stop_logging(Name=TRAIL)
    capsys.readouterr()
    assert main([*check, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    stopped = [f for f in report["findings"] if f["name"] == TRAIL]
    assert [c["path"] for c in stopped[0]["changes"]] == ["logging"]
    assert stopped[0]["spec"].endswith("guard/guard.yaml")


def test_two_guard_specs_for_every_account_are_an_error_naming_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "policies"
    specs.mkdir()
    (specs / "a.yaml").write_text("kind: guard\ntrails: [one]\n")
    (specs / "b.yaml").write_text("kind: guard\nregions: [us-east-1]\n")
    assert main(["validate", "--specs", str(specs)]) == 2
    captured = capsys.readouterr()
    assert "a guard spec for every account is also in" in captured.out + captured.err
