"""`explain` and `import` never pass escapes from the cloud to the terminal (issue 13 item 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import authorize_record, make_vpc_with_web

# ESC [2J clears the screen; OSC 8 makes "Instances" a link to somewhere else
CLEAR = "\x1b[2J"
LINK = "\x1b]8;;https://evil.example\x1b\\Instances\x1b]8;;\x1b\\"


def _explain(tmp_path: Path, record: dict[str, Any], specs: Path) -> int:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return main(["explain", str(path), "--specs", str(specs)])


@pytest.fixture
def specs(ec2: Any, tmp_path: Path) -> tuple[dict[str, str], Path]:
    ids = make_vpc_with_web(ec2)
    out = tmp_path / "policies"
    assert main(["import", "--out", str(out)]) == 0
    return ids, out


@pytest.mark.parametrize(
    "fields",
    [
        {"eventName": f"Describe{LINK}{CLEAR}", "readOnly": True},  # read-only
        {"errorCode": f"{CLEAR}AccessDenied\u202e\u200b"},  # failed call
        {"eventName": f"Nope\u2028skipped (failed_call): {LINK}"},  # not watched
    ],
)
def test_skip_details_are_shown_never_obeyed(
    specs: tuple[dict[str, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, Any],
) -> None:
    ids, spec_dir = specs
    capsys.readouterr()
    record = {**authorize_record(ids["web"]), **fields}
    assert _explain(tmp_path, record, spec_dir) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\u200b" not in out
    assert "\u2028" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("skipped")]
    assert "\\x1b" in line or "\\u202e" in line or "\\u2028" in line


def test_import_prints_resource_names_without_their_escapes(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    # ESC cannot travel in EC2's XML; bidi and zero-width characters can
    ec2.create_security_group(GroupName="db\u202e\u200b", Description="x", VpcId=vpc)
    out = tmp_path / "policies"
    assert main(["import", "--out", str(out)]) == 0
    assert main(["import", "--out", str(out)]) == 0  # now every group is "skipped"
    printed = capsys.readouterr().out
    assert "skipped" in printed
    assert "\u202e" not in printed and "\u200b" not in printed


def test_explain_json_writes_hidden_characters_as_json_escapes(
    specs: tuple[dict[str, str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids, spec_dir = specs
    capsys.readouterr()
    record = {**authorize_record(ids["web"]), "errorCode": "Denied\u202e\u200b\x85"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert main(["explain", str(path), "--specs", str(spec_dir), "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert not any(ch in out for ch in "\u202e\u200b\x85")
    assert "\\u202e\\u200b\\u0085" in out
    (skipped,) = json.loads(out)["skipped"]
    assert "Denied\u202e\u200b\x85" in skipped["detail"]  # the data itself is unchanged
