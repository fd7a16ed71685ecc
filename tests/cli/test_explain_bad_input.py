"""`setpoint explain` on event files that are not usable JSON: exit 2 and one `error:` line.

Each of these once escaped as a traceback (exit 1, which reads as "drift found"): bytes that
are not UTF-8, a UTF-16 file, an integer longer than Python's 4,300-digit conversion limit,
nesting deeper than the recursion limit, and a lone surrogate escape (`"\\ud800"`), which
parses but cannot be printed or encoded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.cli.main import main
from chalicelib.events.event_file import MAX_EVENT_DEPTH

RECORD = {
    "eventVersion": "1.08",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "AuthorizeSecurityGroupIngress",
    "awsRegion": "us-east-1",
    "requestParameters": {"groupId": "sg-0123456789abcdef0"},
}


def explain(tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and the `error:` lines of `setpoint explain` on a file holding `data`."""
    path = tmp_path / "event.json"
    path.write_bytes(data)
    specs = tmp_path / "policies"
    specs.mkdir(exist_ok=True)
    code = main(["explain", str(path), "--specs", str(specs)])
    err = capsys.readouterr().err
    return code, err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "event.json" in lines[0]
    return lines[0]


def test_bytes_that_are_not_utf8_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b'{"eventName": "x",\n "userAgent": "\xff\xfe"}'
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    line = one_error(err)
    assert "event.json:2: not UTF-8" in line


def test_utf16_is_named_as_such(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        code, err = explain(tmp_path, json.dumps(RECORD).encode(encoding), capsys)
        assert code == 2, encoding
        assert "UTF-16" in one_error(err), encoding


def test_an_integer_over_4300_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b'{"eventName": "x",\n\n "eventTime": ' + b"9" * 5000 + b"}"
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    line = one_error(err)
    assert "event.json:3: not valid JSON" in line
    assert "digits" in line


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_nesting_beyond_the_recursion_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int
) -> None:
    data = b'{"eventName": "x", "requestParameters": ' + b"[" * depth + b"]" * depth + b"}"
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    assert "nested deeper than" in one_error(err)


def test_nesting_below_the_recursion_limit_but_over_the_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    depth = MAX_EVENT_DEPTH + 5
    data = b'{"eventName": "x", "requestParameters": ' + b"[" * depth + b"]" * depth + b"}"
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    assert f"nested deeper than {MAX_EVENT_DEPTH} levels" in one_error(err)


def test_a_lone_surrogate_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {**RECORD, "userAgent": "aws-cli/2 \ud800"}
    data = json.dumps(record).encode("ascii")  # ensure_ascii writes it as \ud800
    assert b"\\ud800" in data
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    line = one_error(err)
    assert "userAgent" in line
    assert "U+D800" in line


def test_a_lone_surrogate_in_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b'{"eventName": "x", "requestParameters": {"\\udfff": 1}}'
    code, err = explain(tmp_path, data, capsys)
    assert code == 2
    assert "U+DFFF" in one_error(err)


def test_a_surrogate_pair_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`\\ud83d\\ude00` is one emoji, not a lone surrogate: the record is read (and skipped
    for having no spec), never refused."""
    record = {**RECORD, "eventName": "DescribeSecurityGroups", "readOnly": True}
    data = json.dumps({**record, "userAgent": "agent \U0001f600"}).encode("ascii")
    assert b"\\ud83d\\ude00" in data
    code, err = explain(tmp_path, data, capsys)
    assert "U+D83D" not in err
    assert "not UTF-8" not in err
    assert code == 0, err
