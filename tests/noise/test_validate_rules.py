"""`setpoint validate` warns about ignore rules that name no spec, and says what it cannot check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """The repository's example specs (web, bastion, database groups; buckets; IAM)."""
    target = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", target)
    return target


def _validate(specs: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--specs", str(specs)])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_rule_naming_no_spec_is_a_warning_with_file_and_line(
    specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (specs / ".setpointignore").write_text(
        "# the bastion's tags are the ops team's\n"
        "security_group:bastion:tags.*\n"
        "security_group:bastoin\n"  # a typo: names nothing
        "s3_bucket:vendor-*\n"  # no bucket spec is named so
        "load_balancer:edge\n"  # no load balancer spec at all
        "tag:kubernetes.io/cluster/prod=owned\n"
    )
    code, out, err = _validate(specs, capsys)
    assert code == 0  # warnings do not fail validation
    assert "spec(s) valid" in out and "warning" not in out
    shown = f"{specs}/.setpointignore"
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert [line.split(": warning: ")[0] for line in warnings] == [
        f"{shown}:3",
        f"{shown}:4",
        f"{shown}:5",
    ]
    assert "'security_group:bastoin' matches none of the 3 security_group spec(s)" in err
    assert "'load_balancer:edge' matches no spec" in err
    assert f"{shown}: note: 1 tag rule(s) (line 6) cannot be checked offline" in err


def test_rules_that_name_specs_give_no_warning(
    specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (specs / ".setpointignore").write_text("security_group:web*\n!iam_role:app-*\n")
    code, _out, err = _validate(specs, capsys)
    assert code == 0 and err == ""


def test_a_rule_that_silences_the_guard_is_a_warning(
    specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`guard:*` would hide a StopLogging from chat: validate says so, loudly."""
    (specs / ".setpointignore").write_text("guard:*\n")
    code, _out, err = _validate(specs, capsys)
    assert code == 0
    assert f"{specs}/.setpointignore:1: warning: ignore rule 'guard:*' silences the guard" in err
