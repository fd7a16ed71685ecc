"""`.setpointignore`, a spec's `ignore:` and dated `exceptions:`, through `setpoint check`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

SSH_WORLD = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
}


@pytest.fixture
def drifted(ec2: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Imported specs; then SSH opened to the world on `web` and a k8s-owned group made."""
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    specs = tmp_path / "specs"
    argv = ["import", "--out", str(specs), "--region", REGION, "--kinds", "security_group"]
    assert main(argv) == 0
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[SSH_WORLD])
    k8s = ec2.create_security_group(
        GroupName="k8s-elb-a1b2",
        Description="owned by the controller",
        VpcId=vpc,
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [{"Key": "kubernetes.io/cluster/prod", "Value": "owned"}],
            }
        ],
    )["GroupId"]
    capsys.readouterr()
    spec = specs / "security_groups" / REGION / "web.yaml"
    return {"web": web, "k8s": k8s, "specs": specs, "spec": spec}


def _check(specs: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    argv = ["check", "--specs", str(specs), "--region", REGION, "--kinds", "security_group"]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _ids(report: dict[str, Any]) -> set[str]:
    return {f["id"] for f in report["findings"]}


def test_a_tag_rule_skips_what_the_cluster_owns_and_counts_it(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text(
        "# groups the Kubernetes load-balancer controller owns\n"
        "tag:kubernetes.io/cluster/prod=owned\n"
    )
    code, report = _check(drifted["specs"], capsys)
    assert drifted["k8s"] not in _ids(report)
    assert report["summary"]["ignored"] == 1
    assert code == 1  # web's SSH is still drift


def test_a_negated_rule_brings_one_back(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text("security_group:*\n!security_group:web\n")
    _, report = _check(drifted["specs"], capsys)
    assert _ids(report) == {drifted["web"]}


def test_a_path_rule_drops_only_those_changes(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text(
        "security_group:web:ingress\ntag:kubernetes.io/cluster/prod=owned\n"
    )
    code, report = _check(drifted["specs"], capsys)
    assert code == 0  # the only drift was in ingress
    assert report["scope"]["ignored_changes"] == 1


def test_a_pasted_exception_silences_exactly_that_change_until_its_date(
    drifted: dict[str, Any], ec2: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text("tag:kubernetes.io/cluster/prod=owned\n")
    _, before = _check(drifted["specs"], capsys)
    (change,) = next(f for f in before["findings"] if f["id"] == drifted["web"])["changes"]
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    pasted = json.dumps({"op": change["op"], "path": change["path"], "actual": change["actual"]})
    spec = drifted["spec"]
    original = spec.read_text()

    def except_until(day: str) -> None:
        spec.write_text(
            original
            + f"exceptions:\n  - change: {pasted}\n    until: {day}\n"
            + "    reason: vendor support session, INC-4711\n"
        )

    except_until(until)
    code, report = _check(drifted["specs"], capsys)
    assert code == 0
    assert report["summary"]["excepted"] == 1
    # a second, different change on the same group is still drift; the pasted one is not
    rdp = {**SSH_WORLD, "FromPort": 3389, "ToPort": 3389}
    ec2.authorize_security_group_ingress(GroupId=drifted["web"], IpPermissions=[rdp])
    code, report = _check(drifted["specs"], capsys)
    assert code == 1
    (web,) = [f for f in report["findings"] if f["id"] == drifted["web"]]
    assert [c["actual"]["ports"] for c in web["changes"]] == ["3389"]
    assert [e["change"]["actual"]["ports"] for e in web["excepted"]] == ["22"]
    assert web["excepted"][0]["until"] == until
    # the day after `until` the pasted change is drift again, and says which exception expired
    except_until((datetime.now(UTC).date() - timedelta(days=1)).isoformat())
    code, report = _check(drifted["specs"], capsys)
    assert code == 1
    (web,) = [f for f in report["findings"] if f["id"] == drifted["web"]]
    assert sorted(c["actual"]["ports"] for c in web["changes"]) == ["22", "3389"]
    assert "vendor support session, INC-4711" in web["reason"]


def test_an_expired_exception_is_drift_again_and_says_which(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text("tag:kubernetes.io/cluster/prod=owned\n")
    spec = drifted["spec"]
    spec.write_text(
        spec.read_text()
        + "exceptions:\n  - change: {op: add, path: ingress, actual: {ports: '22'}}\n"
        + "    until: 2020-01-31\n    reason: old migration\n"
    )
    code, report = _check(drifted["specs"], capsys)
    assert code == 1
    (web,) = [f for f in report["findings"] if f["id"] == drifted["web"]]
    assert "expired 2020-01-31 (old migration)" in web["reason"]


def test_a_stale_exception_and_an_unused_rule_are_reported(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text("security_group:nothing-like-this\n")
    spec = drifted["spec"]
    until = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    spec.write_text(
        spec.read_text()
        + f"exceptions:\n  - change: {{op: add, path: egress}}\n    until: {until}\n"
        + "    reason: never happened\n"
    )
    _, report = _check(drifted["specs"], capsys)
    skipped = " ".join(report["scope"]["skipped"])
    assert ".setpointignore:1: ignore rule matched nothing" in skipped
    assert "exception matched no change (stale; remove it)" in skipped


@pytest.mark.parametrize(
    ("block", "says"),
    [
        ("  - change: {op: add}\n    until: 2999-01-01\n    reason: r\n", "more than a year ahead"),
        ("  - change: {op: add}\n    until: 2026-13-01\n    reason: r\n", "month must be in 1..12"),
        ("  - change: {op: add}\n    until: 2026-12-31\n", "needs a reason"),
        ("  - change: {colour: red}\n    until: 2026-12-31\n    reason: r\n", "change object"),
    ],
)
def test_validate_refuses_a_bad_exception_naming_its_line(
    tmp_path: Path, block: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "web.yaml").write_text(
        "kind: security_group\nname: web\ningress: []\nexceptions:\n" + block
    )
    assert main(["validate", "--specs", str(specs)]) == 2
    err = capsys.readouterr().err
    assert says in err and f"{specs}/web.yaml:" in err


def test_validate_refuses_a_bad_ignore_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "web.yaml").write_text("kind: security_group\nname: web\ningress: []\n")
    (specs / ".setpointignore").write_text("# ok\nsecurity_gruop:web\n")
    assert main(["validate", "--specs", str(specs)]) == 2
    assert f"{specs}/.setpointignore:2: unknown kind 'security_gruop'" in capsys.readouterr().err


def test_the_exception_a_report_offers_is_refused_until_filled_in_then_accepts_that_change(
    drifted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    (drifted["specs"] / ".setpointignore").write_text("tag:kubernetes.io/cluster/prod=owned\n")
    _, before = _check(drifted["specs"], capsys)
    (change,) = next(f for f in before["findings"] if f["id"] == drifted["web"])["changes"]
    offered = change["exception"]
    assert offered.startswith("exceptions: [{change: {op: add, path: ingress, actual: {")
    spec = drifted["spec"]
    original = spec.read_text()

    spec.write_text(original + offered + "\n")  # pasted as offered, placeholders and all
    assert main(["validate", "--specs", str(drifted["specs"])]) == 2
    errors = capsys.readouterr()
    shown = errors.out + errors.err
    assert "'YYYY-MM-DD' is not a date" in shown and "placeholder WHY" in shown

    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    spec.write_text(
        original
        + offered.replace("YYYY-MM-DD", until).replace("WHY", "vendor session, INC-9")
        + "\n"
    )
    code, report = _check(drifted["specs"], capsys)
    assert "summary" in report, (report, spec.read_text())
    assert report["summary"]["excepted"] == 1, report
    assert code == 0, report
