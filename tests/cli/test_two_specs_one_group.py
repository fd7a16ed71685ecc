"""An id spec and a name spec for one group: never "missing" and "drifted" at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_check_names_both_specs_and_calls_the_group_unknown(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    web = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    specs = tmp_path / "specs"
    # only the live group shows that these two are one: validation cannot tell
    _write(specs, "by-id.yaml", f"kind: security_group\ngroup_id: {web}\ningress: []\n")
    _write(specs, "by-name.yaml", "kind: security_group\nname: web\ningress: []\n")
    assert main(["validate", "--specs", str(specs)]) == 0
    capsys.readouterr()
    argv = ["check", "--specs", str(specs), "--region", REGION, "--kinds", "security_group"]
    assert main([*argv, "--format", "json"]) != 0  # (the VPC default group is unmanaged)
    report = json.loads(capsys.readouterr().out)
    (group,) = [f for f in report["findings"] if f.get("id") == web]
    assert group["status"] == "unknown"
    assert "by-id.yaml" in group["spec"] + group["reason"]
    assert "by-name.yaml" in group["spec"] + group["reason"]
    assert report["summary"]["missing"] == 0 and report["summary"]["drifted"] == 0


def test_validate_refuses_it_when_the_id_spec_names_the_group_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    _write(
        specs,
        "a.yaml",
        "kind: security_group\ngroup_id: sg-0123456789abcdef0\nname: web\ningress: []\n",
    )
    _write(specs, "b.yaml", "kind: security_group\nname: web\nregion: eu-west-1\ningress: []\n")
    assert main(["validate", "--specs", str(specs)]) == 2
    err = capsys.readouterr().err
    assert f"{specs}/b.yaml:1" in err and f"{specs}/a.yaml:1" in err
    assert "both would govern one group" in err
