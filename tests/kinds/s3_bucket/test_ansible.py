"""s3_bucket playbook tasks as bucket specs, round trip on moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.sources.ansible.provider import load_ansible
from tests.conftest import REGION

BOOK = Path(__file__).resolve().parents[2] / "fixtures" / "ansible" / "buckets"
NAME = "example-audit-logs"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=NAME, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_policy(Bucket=NAME, Policy=(BOOK / "files" / "audit-policy.json").read_text())
    client.put_public_access_block(
        Bucket=NAME,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    client.put_bucket_encryption(
        Bucket=NAME,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    client.put_bucket_versioning(Bucket=NAME, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_tagging(
        Bucket=NAME, Tagging={"TagSet": [{"Key": "team", "Value": "security"}]}
    )
    return client


def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    argv = ["check", "--specs", f"ansible:{BOOK}", "--region", REGION, "--kinds", "s3_bucket"]
    code = main([*argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_playbook_describes_the_bucket(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check(capsys)
    assert code == 0, report["findings"]
    assert report["summary"]["in_sync"] == 1


def test_a_policy_opened_by_hand_is_drift_at_the_task(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.delete_public_access_block(Bucket=NAME)
    code, report = check(capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["name"] == NAME and finding["status"] == "drifted"
    assert finding["spec"] == f"{BOOK}/site.yml" and finding["spec_line"] == 7


def test_module_defaults_carry_over(tmp_path: Path) -> None:
    (tmp_path / "site.yml").write_text(
        "- hosts: localhost\n  tasks:\n"
        "    - s3_bucket: {name: b1, public_access: {block_public_acls: true}, acl: public-read,"
        " versioning: false}\n"
        "    - s3_bucket: {name: gone}\n    - s3_bucket: {name: gone, state: absent}\n",
        encoding="utf-8",
    )
    (spec,) = load_ansible(str(tmp_path)).by_kind["s3_bucket"]
    assert spec.name == "b1"
    assert spec.versioning is None  # false: never versioned and suspended both meet it
    block = spec.public_access_block
    assert (block.block_public_acls, block.block_public_policy) == (True, False)
