"""elb_application_lb playbook tasks as load-balancer specs, round trip on moto."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION
from tests.kinds.load_balancer.test_pipeline import build_estate

BOOK = Path(__file__).resolve().parents[2] / "fixtures" / "ansible" / "alb"


@pytest.fixture
def book(aws: None, tmp_path: Path) -> tuple[Any, dict[str, str], Path]:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    ids = build_estate(
        boto3.client("ec2", region_name=REGION), elbv2, boto3.client("acm", region_name=REGION)
    )
    (lb,) = elbv2.describe_load_balancers(LoadBalancerArns=[ids["lb"]])["LoadBalancers"]
    (listener,) = elbv2.describe_listeners(ListenerArns=[ids["https"]])["Listeners"]
    root = tmp_path / "alb"
    shutil.copytree(BOOK, root)
    (root / "group_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text(
        json.dumps(
            {
                "subnets": [z["SubnetId"] for z in lb["AvailabilityZones"]],
                "certificate_arn": listener["Certificates"][0]["CertificateArn"],
            }
        ),
        encoding="utf-8",
    )
    return elbv2, ids, root


def check(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    argv = ["check", "--specs", f"ansible:{root}", "--region", REGION, "--kinds", "load_balancer"]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_playbook_describes_the_load_balancer(
    book: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = check(book[2], capsys)
    assert code == 0, report["findings"]
    assert report["summary"]["in_sync"] == 1


def test_a_weaker_tls_policy_is_drift_at_the_task(
    book: tuple[Any, dict[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    elbv2, ids, root = book
    elbv2.modify_listener(ListenerArn=ids["https"], SslPolicy="ELBSecurityPolicy-2016-08")
    code, report = check(root, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["name"] == "web-public" and finding["status"] == "drifted"
    assert finding["spec"] == f"{root}/site.yml" and finding["spec_line"] == 6
