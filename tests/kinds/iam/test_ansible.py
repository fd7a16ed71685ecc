"""IAM playbook tasks as IAM specs, round trip on moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.errors import SpecSetError
from chalicelib.sources.ansible.provider import load_ansible
from tests.conftest import REGION

BOOK = Path(__file__).resolve().parents[2] / "fixtures" / "ansible" / "iam"
KINDS = "iam_policy,iam_role,iam_user,iam_group"


@pytest.fixture
def iam(aws: None) -> Any:
    client = boto3.client("iam", region_name=REGION)
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::example-artifacts/*",
            }
        ],
    }
    arn = client.create_policy(PolicyName="deploy-artifacts", PolicyDocument=json.dumps(document))[
        "Policy"
    ]["Arn"]
    trust = (BOOK / "files" / "ec2-trust.json").read_text()
    client.create_role(RoleName="app-server", AssumeRolePolicyDocument=trust)
    client.attach_role_policy(RoleName="app-server", PolicyArn=arn)
    client.put_role_policy(
        RoleName="app-server",
        PolicyName="write-logs",
        PolicyDocument=(BOOK / "files" / "write-logs.json").read_text(),
    )
    client.create_user(UserName="alice")
    client.create_group(GroupName="devs")
    client.add_user_to_group(GroupName="devs", UserName="alice")
    return client


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    argv = ["check", "--specs", f"ansible:{BOOK}", "--region", REGION, "--kinds", KINDS]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_playbook_describes_the_account(iam: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check(capsys)
    assert code == 0, report["findings"]
    assert report["summary"]["in_sync"] == 4


def test_an_admin_policy_attached_by_hand_is_drift_at_the_role_task(
    iam: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = iam.create_policy(
        PolicyName="admin",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="app-server", PolicyArn=admin)
    code, report = check(capsys)
    assert code == 1
    drifted = [f for f in report["findings"] if f["status"] == "drifted"]
    (finding,) = drifted
    assert finding["name"] == "app-server"
    assert finding["spec"] == f"{BOOK}/site.yml" and finding["spec_line"] == 18


def test_an_inline_policy_for_an_undeclared_role_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(
        "- hosts: localhost\n  tasks:\n"
        "    - iam_policy: {iam_type: role, iam_name: ghost, policy_name: p, policy_json: '{}'}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecSetError, match="no iam_role task declares"):
        load_ansible(str(tmp_path))
