"""`setpoint import` then `setpoint check` on an account with every IAM shape: nothing to report.

`check` runs as a user runs it (its own pipeline, nothing swapped): a `check` that lost IAM
fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main

IAM_KINDS = "iam_policy,iam_role,iam_user,iam_group"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def iam(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Roles here attach AWS managed policies, which moto only has when asked to load them.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    yield boto3.client("iam", region_name="us-east-1")


def build_account(iam: Any) -> dict[str, str]:
    """Customer policies (with a path and several versions), roles, users and groups."""
    read = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"}
    deploy = iam.create_policy(PolicyName="deploy", Path="/team/", PolicyDocument=doc(read))
    deploy_arn = deploy["Policy"]["Arn"]
    iam.create_policy_version(
        PolicyArn=deploy_arn,
        PolicyDocument=doc(
            read,
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ),
        SetAsDefault=True,
    )
    boundary = iam.create_policy(
        PolicyName="boundary",
        Description="caps every role",
        PolicyDocument=doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
    )["Policy"]["Arn"]
    trust = doc(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "x1"}},
        },
    )
    iam.create_role(
        RoleName="app",
        Path="/svc/",
        AssumeRolePolicyDocument=trust,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "web"}],
    )
    iam.put_role_policy(
        RoleName="app",
        PolicyName="logs",
        PolicyDocument=doc(
            {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:*"}
        ),
    )
    iam.attach_role_policy(RoleName="app", PolicyArn=deploy_arn)
    iam.attach_role_policy(RoleName="app", PolicyArn=READ_ONLY)
    iam.create_user(UserName="ci", Tags=[{"Key": "owner", "Value": "platform"}])
    iam.put_user_policy(
        UserName="ci",
        PolicyName="push",
        PolicyDocument=doc({"Effect": "Allow", "Action": "ecr:PutImage", "Resource": "*"}),
    )
    iam.attach_user_policy(UserName="ci", PolicyArn=deploy_arn)
    iam.create_group(GroupName="devs")
    iam.attach_group_policy(GroupName="devs", PolicyArn=READ_ONLY)
    iam.put_group_policy(
        GroupName="devs",
        PolicyName="console",
        PolicyDocument=doc({"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}),
    )
    iam.add_user_to_group(UserName="ci", GroupName="devs")
    iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    return {"deploy": deploy_arn}


def check_json(specs: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["check", "--specs", str(specs), "--kinds", IAM_KINDS, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_import_then_check_reports_nothing(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_account(iam)
    out = tmp_path / "specs"
    assert main(["import", "--out", str(out), "--kinds", IAM_KINDS]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.glob("iam/*/*.yaml"))
    assert written == [
        "iam/iam_group/devs.yaml",
        "iam/iam_policy/boundary.yaml",
        "iam/iam_policy/deploy.yaml",
        "iam/iam_role/app.yaml",  # the service-linked role is not written
        "iam/iam_user/ci.yaml",
    ]
    role = (out / "iam/iam_role/app.yaml").read_text()
    assert "- arn:aws:iam::aws:policy/ReadOnlyAccess" in role and "- deploy" in role
    assert "permissions_boundary: boundary" in role
    assert "groups:\n  - devs\n" in (out / "iam/iam_user/ci.yaml").read_text()
    assert main(["validate", "--specs", str(out)]) == 0

    code, report = check_json(out, capsys)
    assert report["findings"] == [] and code == 0
    assert report["summary"]["checked"] == 5


def test_check_after_import_finds_an_admin_attachment(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_account(iam)
    out = tmp_path / "specs"
    assert main(["import", "--out", str(out), "--kinds", IAM_KINDS]) == 0
    iam.attach_user_policy(UserName="ci", PolicyArn=ADMIN)
    iam.delete_role_permissions_boundary(RoleName="app")

    code, report = check_json(out, capsys)
    assert code == 1
    by_name = {f["name"]: f for f in report["findings"]}
    assert set(by_name) == {"ci", "app"}
    (attach,) = by_name["ci"]["changes"]
    assert attach["op"] == "add" and attach["actual"] == ADMIN
    assert attach["summary"].startswith("attaches AdministratorAccess (AWS managed, admin)")
    (boundary,) = by_name["app"]["changes"]
    assert boundary["op"] == "remove" and boundary["path"] == "permissions_boundary"
    assert by_name["app"]["region"] == "global"


def test_check_after_import_finds_a_user_added_to_an_admin_group(
    iam: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_account(iam)
    out = tmp_path / "specs"
    assert main(["import", "--out", str(out), "--kinds", IAM_KINDS]) == 0
    iam.create_group(GroupName="Admins")
    iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    iam.add_user_to_group(UserName="ci", GroupName="Admins")

    code, report = check_json(out, capsys)
    assert code == 1
    by_name = {f["name"]: f for f in report["findings"]}
    assert by_name["Admins"]["status"] == "unmanaged"
    (join,) = by_name["ci"]["changes"]
    assert join["op"] == "add" and join["path"] == "groups" and join["actual"] == "Admins"
    assert join["summary"] == (
        "joins group Admins (attaches AdministratorAccess: admin) — not in spec"
    )
