"""`check --fail-on`: rules for resources nobody wrote a spec for, loud only when it matters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def estate(ec2: Any, tmp_path: Path) -> dict[str, Any]:
    """One managed bucket (so specs load), and unmanaged groups: one private, maybe one open."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(
        Bucket="managed-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3.put_public_access_block(
        Bucket="managed-logs",
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
            True,
        ),
    )
    s3.put_bucket_encryption(
        Bucket="managed-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "logs.yaml").write_text(f"kind: s3_bucket\nname: managed-logs\nregion: {REGION}\n")
    private = ec2.create_security_group(GroupName="private", Description="p")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=private,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )
    return {"ec2": ec2, "specs": specs}


def _check(specs: Path, rules: str, kinds: str = "security_group,s3_bucket") -> int:
    return main(
        [
            "check",
            "--specs",
            str(specs),
            "--region",
            REGION,
            "--kinds",
            kinds,
            "--fail-on",
            rules,
            "--format",
            "json",
        ]
    )


def test_an_unmanaged_private_group_is_quiet_under_admin_rules(
    estate: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # the default VPC's default group and "private" are unmanaged, and nothing is open
    assert _check(estate["specs"], "drift,admin") == 0
    assert _check(estate["specs"], "drift,unmanaged") == 1  # the default: every unmanaged one
    capsys.readouterr()


def test_an_unmanaged_group_with_ssh_open_to_the_world_is_loud(
    estate: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2 = estate["ec2"]
    jump = ec2.create_security_group(GroupName="jump", Description="j")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=jump,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    capsys.readouterr()
    assert _check(estate["specs"], "drift,admin") == 1
    report = json.loads(capsys.readouterr().out)
    (found,) = [f for f in report["findings"] if f["id"] == jump]
    (ssh,) = [c for c in found["changes"] if c["path"] == "ingress"]
    assert ssh["flags"] == ["admin"] and ssh["world_open"]


def test_https_open_to_the_world_is_world_open_but_not_admin(
    estate: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ec2 = estate["ec2"]
    web = ec2.create_security_group(GroupName="web", Description="w")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    assert _check(estate["specs"], "admin") == 0
    assert _check(estate["specs"], "world_open") == 1
    capsys.readouterr()


def test_an_unmanaged_star_star_policy_is_admin(
    estate: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = "s3_bucket,iam_policy"
    assert _check(estate["specs"], "drift,admin", kinds) == 0
    boto3.client("iam").create_policy(PolicyName="break-glass", PolicyDocument=json.dumps(ADMIN))
    assert _check(estate["specs"], "drift,admin", kinds) == 1
    capsys.readouterr()


def test_a_mistyped_rule_names_the_valid_ones(
    estate: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        _check(estate["specs"], "worldopen")
    assert done.value.code == 2
    assert "did you mean 'world_open'?" in capsys.readouterr().err
