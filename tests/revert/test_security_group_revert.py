"""`on_drift: revert` on a security group, on moto: the unapproved rule goes, the spec's stay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.notify.delivery import notifier_for
from chalicelib.revert.settings import RevertSettings
from chalicelib.runtime import build_reverter, spec_provider
from tests.conftest import authorize_record, make_vpc_with_web
from tests.runtime_builder import build_runtime


@pytest.fixture
def opted_in(ec2: Any, tmp_path: Path) -> tuple[Any, dict[str, str], Path]:
    """The demo's group `web` (443 open to the world in spec), its spec saying revert."""
    ids = make_vpc_with_web(ec2)
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "security_group"]) == 0
    (spec,) = [p for p in specs.rglob("*.yaml") if "web" in p.read_text()]
    spec.write_text(spec.read_text() + "on_drift: revert\n")
    return ec2, ids, specs


def _ingress(ec2: Any, group_id: str) -> set[tuple[int, str]]:
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return {
        (perm["FromPort"], r["CidrIp"]) for perm in group["IpPermissions"] for r in perm["IpRanges"]
    }


def _open_ssh(ec2: Any, tmp_path: Path, group_id: str) -> str:
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    path = tmp_path / "event.json"
    path.write_text(json.dumps(authorize_record(group_id)))
    return str(path)


def test_the_unapproved_ssh_rule_is_revoked_the_spec_rule_kept_and_chat_says_reverted(
    opted_in: Any, tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = opted_in
    url, received = webhook
    event = _open_ssh(ec2, tmp_path, ids["web"])
    args = ["explain", event, "--specs", str(specs), "--apply-reverts", "--post"]
    assert main([*args, "--chat-url", url]) == 1
    assert _ingress(ec2, ids["web"]) == {(443, "0.0.0.0/0")}
    drift, back = (json.dumps(body) for body in received)
    assert (
        "Reverted: revoke ingress tcp/22 from 0.0.0.0/0 (ec2:RevokeSecurityGroupIngress)" in drift
    )
    assert "Back to normal" in back
    out = capsys.readouterr().out
    assert "Reverted: revoke ingress tcp/22 from 0.0.0.0/0" in out


def test_explain_alone_prints_what_it_would_revert_and_changes_nothing(
    opted_in: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = opted_in
    event = _open_ssh(ec2, tmp_path, ids["web"])
    assert main(["explain", event, "--specs", str(specs)]) == 1
    out = capsys.readouterr().out
    assert "Would revert: revoke ingress tcp/22 from 0.0.0.0/0" in out
    assert _ingress(ec2, ids["web"]) == {(443, "0.0.0.0/0"), (22, "0.0.0.0/0")}


def test_json_findings_carry_the_reverts(
    opted_in: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = opted_in
    event = _open_ssh(ec2, tmp_path, ids["web"])
    assert (
        main(["explain", event, "--specs", str(specs), "--apply-reverts", "--format", "json"]) == 1
    )
    report = json.loads(capsys.readouterr().out)
    (revert,) = report["findings"][0]["reverts"]
    assert revert["done"] is True and revert["error"] is None
    assert revert["action"] == "revoke ingress tcp/22 from 0.0.0.0/0"
    assert revert["change"]["actual"] == {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}


def test_a_change_by_a_configured_iac_principal_is_never_reverted(
    opted_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    ec2, ids, specs = opted_in
    monkeypatch.setenv("SETPOINT_IAC_PRINCIPALS", "arn:aws:iam::123456789012:user/alice")
    event = _open_ssh(ec2, tmp_path, ids["web"])
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    assert (22, "0.0.0.0/0") in _ingress(ec2, ids["web"])
    assert "Not reverted: revoke ingress tcp/22 from 0.0.0.0/0" in capsys.readouterr().out


def test_the_kill_switch_turns_every_revert_off(
    opted_in: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    ec2, ids, specs = opted_in
    monkeypatch.setenv("SETPOINT_REVERT", "off")
    event = _open_ssh(ec2, tmp_path, ids["web"])
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    assert (22, "0.0.0.0/0") in _ingress(ec2, ids["web"])
    assert "SETPOINT_REVERT=off" in capsys.readouterr().out


def test_a_spec_that_does_not_opt_in_is_only_alerted(
    ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = make_vpc_with_web(ec2)
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "security_group"]) == 0
    event = _open_ssh(ec2, tmp_path, ids["web"])
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    assert (22, "0.0.0.0/0") in _ingress(ec2, ids["web"])
    assert "revert" not in capsys.readouterr().out.lower().replace("↳ revert", "")


def test_the_fourth_revert_in_an_hour_gives_up_and_says_so(opted_in: Any, webhook: Any) -> None:
    """Someone re-opens SSH as fast as it is revoked: three reverts, then an alert that
    Setpoint gave up, and the rule stays for a person to deal with."""
    ec2, ids, specs = opted_in
    url, received = webhook
    now = [datetime(2026, 12, 3, 12, 0, tzinfo=UTC)]
    runtime = build_runtime(
        specs=spec_provider([str(specs)], _clients()),
        notifiers=[notifier_for(url, "slack")],
        clock=lambda: now[0],
    )
    runtime.reverter = build_reverter(runtime, RevertSettings(limit=3), apply=True)
    for round_ in range(4):
        ec2.authorize_security_group_ingress(
            GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
        )
        handle_cloudtrail_event(authorize_record(ids["web"]), runtime)
        now[0] += timedelta(minutes=5)
        revoked = (22, "0.0.0.0/0") not in _ingress(ec2, ids["web"])
        assert revoked is (round_ < 3)
    last = json.dumps(received[-1])
    assert "Gave up reverting: revoke ingress tcp/22 from 0.0.0.0/0" in last
    assert "3 reverts of this resource in the last hour" in last


def _clients() -> Any:
    from chalicelib.aws import ClientCache

    return ClientCache()


def test_a_teams_card_says_what_was_reverted(
    opted_in: Any, tmp_path: Path, webhook: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2, ids, specs = opted_in
    url, received = webhook
    event = _open_ssh(ec2, tmp_path, ids["web"])
    args = ["explain", event, "--specs", str(specs), "--apply-reverts", "--post"]
    assert main([*args, "--chat-format", "teams", "--chat-url", url]) == 1
    card = received[0]["attachments"][0]["content"]
    texts = [block.get("text", "") for block in card["body"]]
    assert any(t.startswith("Reverted: revoke ingress tcp/22 from 0.0.0.0/0") for t in texts)


def test_a_revert_function_that_cannot_be_invoked_still_gets_the_drift_alerted(
    opted_in: Any, webhook: Any
) -> None:
    """The hand-off fails (no such function): the event function alerts itself, saying so."""
    import boto3

    from chalicelib.revert.hand_off import LambdaHandOff

    ec2, ids, specs = opted_in
    url, received = webhook
    runtime = build_runtime(
        specs=spec_provider([str(specs)], _clients()), notifiers=[notifier_for(url, "slack")]
    )
    lam = boto3.client("lambda", region_name="eu-west-1")
    hand_off = LambdaHandOff(lambda: lam, "setpoint-dev-on_revert")
    runtime.reverter = build_reverter(runtime, RevertSettings(), apply=False, hand_off=hand_off)
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    outcome = handle_cloudtrail_event(authorize_record(ids["web"]), runtime)
    assert outcome.handed_off == 0
    (alert,) = received
    assert "Not reverted: revoke ingress tcp/22 from 0.0.0.0/0" in json.dumps(alert)
    assert "handoff_failed: " in json.dumps(alert)
    assert (22, "0.0.0.0/0") in _ingress(ec2, ids["web"])
