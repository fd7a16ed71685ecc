"""`.setpointignore` lines whose id is an ARN (load balancers, IAM policies, trails, rules)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.noise.parse import parse_ignore_file

KINDS = ("iam_policy", "load_balancer", "guard", "security_group")


def test_an_arn_keeps_its_colons_and_a_path_may_follow() -> None:
    text = (
        "iam_policy:arn:aws:iam::*:policy/ci-*\n"
        "load_balancer:arn:aws:elasticloadbalancing:*:*:loadbalancer/app/web/*:listeners*\n"
        "security_group:sg-*:ingress\n"
    )
    policy, balancer, group = parse_ignore_file(".setpointignore", text, KINDS)
    assert (policy.id_glob, policy.path_glob) == ("arn:aws:iam::*:policy/ci-*", None)
    assert balancer.id_glob == "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/web/*"
    assert balancer.path_glob == "listeners*"
    assert (group.id_glob, group.path_glob) == ("sg-*", "ingress")


def test_a_rule_naming_a_policy_by_arn_skips_that_policy(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    arn = iam.create_policy(PolicyName="ci-reader", PolicyDocument=json.dumps(narrow))["Policy"][
        "Arn"
    ]
    specs = tmp_path / "specs"
    assert main(["import", "--out", str(specs), "--kinds", "iam_policy"]) == 0
    wide = {**narrow, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wide), SetAsDefault=True)
    capsys.readouterr()
    argv = ["check", "--specs", str(specs), "--kinds", "iam_policy", "--format", "json"]
    assert main(argv) == 1  # the widened policy is drift
    capsys.readouterr()
    (specs / ".setpointignore").write_text("iam_policy:arn:aws:iam::*:policy/ci-*\n")
    assert main(argv) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["summary"]["ignored"] == 1
