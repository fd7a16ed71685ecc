"""`setpoint check` across accounts: the in-process sweep, reports and exit codes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import ClientCache
from chalicelib.cli import check
from chalicelib.cli.main import main
from tests.sweep.conftest import MANAGEMENT, Org, deny_assume_role, make_org

REGION = "eu-west-1"


@pytest.fixture
def org(aws: None) -> Org:
    return make_org()


@pytest.fixture
def denied_in_cli(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI makes its own clients: refuse the denied member's role in them too."""

    def clients() -> ClientCache:
        made = ClientCache()
        deny_assume_role(made.client("sts"), org.denied)
        return made

    monkeypatch.setattr(check, "new_clients", clients)


def empty_specs(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    return folder


def test_junit_over_listed_accounts_names_the_refused_one_as_an_error(
    org: Org, denied_in_cli: None, tmp_path: Path
) -> None:
    out = tmp_path / "report.xml"
    code = main(
        [
            "check",
            "--specs",
            str(empty_specs(tmp_path)),
            "--allow-no-specs",
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--accounts",
            f"{org.allowed},{org.denied}",
            "--format",
            "junit",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 1  # the allowed account's default group has no spec
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    errors = [c for c in suite.iter("testcase") if c.find("error") is not None]
    (error,) = errors
    message = error.find("error").get("message", "")  # type: ignore[union-attr]
    assert f"arn:aws:iam::{org.denied}:role/setpoint-readonly" in message
    assert "AccessDenied" in message
    failures = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    details = [c.find("failure").text or "" for c in failures]  # type: ignore[union-attr]
    assert failures and all(f"account: {org.allowed}" in d for d in details)


def test_organization_covers_active_accounts_with_the_named_role(
    org: Org, denied_in_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code = main(
        [
            "check",
            "--specs",
            str(empty_specs(tmp_path)),
            "--allow-no-specs",
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--accounts",
            "organization",
            "--role-name",
            "auditor",
            "--format",
            "json",
        ]
    )
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 1
    accounts = {f["account"] for f in report["findings"]}
    assert accounts == {MANAGEMENT, org.allowed, org.denied}  # not the suspended one
    (unknown,) = [f for f in report["findings"] if f["status"] == "unknown"]
    assert f":{org.denied}:role/auditor" in unknown["reason"]


def test_an_unknown_account_is_exit_2_when_nothing_drifted(
    org: Org, denied_in_cli: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "check",
            "--specs",
            str(empty_specs(tmp_path)),
            "--allow-no-specs",
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--accounts",
            org.denied,
        ]
    )
    assert code == 2
    assert "unknown" in capsys.readouterr().out


def test_a_bad_account_list_is_an_error_naming_the_value(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "check",
            "--specs",
            str(empty_specs(tmp_path)),
            "--allow-no-specs",
            "--accounts",
            "12345,prod",
        ]
    )
    assert code == 2
    assert "'12345'" in capsys.readouterr().err


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert check.show_progress(None, Tty()) is True
    assert check.show_progress(None, io.StringIO()) is False  # piped
    monkeypatch.setenv("CI", "true")
    assert check.show_progress(None, Tty()) is False
    assert check.show_progress(True, io.StringIO()) is True  # --progress forces it
    monkeypatch.delenv("CI")
    assert check.show_progress(False, Tty()) is False


@pytest.mark.parametrize("fmt", ["sarif", "markdown"])
def test_ci_formats_report_the_unmanaged_default_group_and_exit_1(
    org: Org, tmp_path: Path, fmt: str
) -> None:
    import json

    out = tmp_path / f"report.{fmt}"
    code = main(
        [
            "check",
            "--specs",
            str(empty_specs(tmp_path)),
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--format",
            fmt,
            "--allow-no-specs",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 1
    text = out.read_text(encoding="utf-8")
    if fmt == "sarif":
        results = json.loads(text)["runs"][0]["results"]
        assert results and {r["ruleId"] for r in results} == {"unmanaged"}
        assert all(r["properties"]["region"] == REGION for r in results)
    else:
        assert text.startswith("## Setpoint drift report\n")
        assert "### unmanaged: security group sg-" in text


def test_help_names_the_ci_formats(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    help_text = capsys.readouterr().out
    assert "sarif" in help_text and "markdown" in help_text
