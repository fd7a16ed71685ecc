"""The nightly check that went red because it read nothing: a check that compared nothing
(no specs loaded, no accounts, no resources read) is exit 2 with one line, never "No drift"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION


def one_spec(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "web.yaml").write_text("kind: security_group\nname: web\ningress: []\n")
    return folder


def test_an_empty_spec_directory_is_an_error_not_every_resource_unmanaged(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "policies"
    empty.mkdir()
    code = main(["check", "--specs", str(empty), "--region", REGION, "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    assert "No drift" not in captured.out
    (line,) = captured.err.strip().splitlines()
    assert "no specs" in line and str(empty) in line


def test_a_mistyped_s3_prefix_is_an_error(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="specs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="specs", Key="prod/web.yaml", Body=b"kind: security_group\nname: web\n")
    code = main(["check", "--specs", "s3://specs/prdo", "--region", REGION, "--no-progress"])
    assert code == 2
    assert "s3://specs/prdo" in capsys.readouterr().err


def test_allow_no_specs_lists_everything_unmanaged(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "policies"
    empty.mkdir()
    argv = ["check", "--specs", str(empty), "--region", REGION, "--allow-no-specs"]
    assert main([*argv, "--kinds", "security_group", "--no-progress"]) == 1
    assert "unmanaged" in capsys.readouterr().out


def test_an_organization_with_no_accounts_is_an_error(
    ec2: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """moto's Organizations always lists its management account, so an organization with
    no active account is handed in here (the only stand-in for our own code in this file)."""
    from chalicelib.cli import check

    monkeypatch.setattr(check, "resolve_accounts", lambda *_: [])
    code = main(
        [
            *("check", "--specs", str(one_spec(tmp_path)), "--region", REGION),
            *("--accounts", "organization", "--no-progress"),
        ]
    )
    assert code == 2
    assert "no accounts" in capsys.readouterr().err


def test_zero_resources_read_is_an_error(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "ops.yaml").write_text("kind: iam_group\nname: ops\n")  # no bucket is read
    code = main(
        [
            *("check", "--specs", str(folder), "--kinds", "s3_bucket"),
            *("--region", REGION, "--no-progress"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "No drift" not in captured.out
    assert "read 0 resources" in captured.err


def test_validate_on_an_empty_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--specs", str(tmp_path)]) == 2
    assert "no spec files" in capsys.readouterr().err
