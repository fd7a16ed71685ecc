"""`setpoint import` then `setpoint check` on buckets with every property set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

OWNER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOnlyFromOneAccount",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::data-lake", "arn:aws:s3:::data-lake/*"],
        }
    ],
}


def build_buckets(s3: Any) -> None:
    where = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
    for name in ("data-lake", "access-logs", "plain-bucket", "kms-bucket"):
        s3.create_bucket(Bucket=name, **where)
    s3.put_bucket_policy(Bucket="data-lake", Policy=json.dumps(OWNER_POLICY))
    s3.put_public_access_block(
        Bucket="data-lake",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket="data-lake",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket="data-lake", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_ownership_controls(
        Bucket="data-lake",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    s3.put_bucket_tagging(
        Bucket="data-lake", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]}
    )
    owner = s3.get_bucket_acl(Bucket="access-logs")["Owner"]
    s3.put_bucket_acl(
        Bucket="access-logs",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {
                    "Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"},
                    "Permission": "FULL_CONTROL",
                },
                {
                    "Grantee": {
                        "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery",
                        "Type": "Group",
                    },
                    "Permission": "WRITE",
                },
                {
                    "Grantee": {
                        "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery",
                        "Type": "Group",
                    },
                    "Permission": "READ_ACP",
                },
            ],
        },
    )
    s3.put_bucket_logging(
        Bucket="data-lake",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "access-logs", "TargetPrefix": "data-lake/"}
        },
    )
    s3.put_bucket_versioning(Bucket="kms-bucket", VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(
        Bucket="kms-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd",
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


@pytest.fixture
def imported(aws: None, tmp_path: Path) -> tuple[Any, Path]:
    s3 = boto3.client("s3", region_name=REGION)
    build_buckets(s3)
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION, "--kinds", "s3_bucket"]) == 0
    return s3, specs


def _check(specs: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(
        [
            "check",
            "--specs",
            str(specs),
            "--region",
            REGION,
            "--kinds",
            "s3_bucket",
            "--format",
            "json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_import_then_check_reports_nothing(
    imported: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, specs = imported
    code, report = _check(specs, capsys)
    assert report["findings"] == []
    assert report["summary"]["checked"] == 4 and report["summary"]["in_sync"] == 4
    assert code == 0
    assert main(["validate", "--specs", str(specs)]) == 0


def test_imported_spec_reads_like_the_bucket(imported: tuple[Any, Path]) -> None:
    _, specs = imported
    text = (specs / "s3_buckets" / "data-lake.yaml").read_text()
    assert "Version: '2012-10-17'" in text
    assert "- s3:GetObject" in text and "AWS: '210987654321'" in text
    assert "status: Enabled" in text and "object_ownership: BucketOwnerEnforced" in text
    assert "target_bucket: access-logs" in text and "team: data" in text
    logs = (specs / "s3_buckets" / "access-logs.yaml").read_text()
    assert "group: LogDelivery" in logs and "permission: WRITE" in logs
    assert "sse: none" in logs  # moto makes buckets without default encryption
    assert "tags: {}" in logs  # pinned: a tag added by hand is drift
    kms = (specs / "s3_buckets" / "kms-bucket.yaml").read_text()
    assert "kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd" in kms
    assert "bucket_key: true" in kms


def test_a_public_statement_added_by_hand_is_drift_flagged_public(
    imported: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, specs = imported
    policy = json.loads(json.dumps(OWNER_POLICY))
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::data-lake/*",
        }
    )
    s3.put_bucket_policy(Bucket="data-lake", Policy=json.dumps(policy))
    s3.delete_bucket_encryption(Bucket="kms-bucket")
    code, report = _check(specs, capsys)
    assert code == 1
    by_id = {f["id"]: f for f in report["findings"]}
    assert set(by_id) == {"data-lake", "kms-bucket"}
    (change,) = by_id["data-lake"]["changes"]
    assert change["summary"] == (
        "Allow s3:GetObject on arn:aws:s3:::data-lake/* to everyone (public) — not in spec"
    )
    assert change["op"] == "add" and change["path"] == "policy"
    (gone,) = by_id["kms-bucket"]["changes"]
    assert gone["summary"].startswith("default encryption (in spec: aws:kms key arn:aws:kms:")


def test_a_new_bucket_is_unmanaged_and_a_deleted_one_missing(
    imported: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, specs = imported
    s3.delete_bucket(Bucket="plain-bucket")
    s3.create_bucket(Bucket="hand-made", CreateBucketConfiguration={"LocationConstraint": REGION})
    code, report = _check(specs, capsys)
    assert code == 1
    status = {f["id"]: f["status"] for f in report["findings"]}
    assert status == {"plain-bucket": "missing", "hand-made": "unmanaged"}


def _kms_default(key: str | None) -> dict[str, Any]:
    default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
    if key:
        default["KMSMasterKeyID"] = key
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}


def test_the_aws_managed_key_is_pinned_so_a_swap_to_another_accounts_key_is_drift(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="kms-managed", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket="kms-managed", ServerSideEncryptionConfiguration=_kms_default(None)
    )
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION, "--kinds", "s3_bucket"]) == 0
    assert "kms_key_id: aws/s3" in (specs / "s3_buckets" / "kms-managed.yaml").read_text()
    assert _check(specs, capsys)[0] == 0
    attacker = "arn:aws:kms:us-east-1:999999999999:key/attacker"
    s3.put_bucket_encryption(
        Bucket="kms-managed", ServerSideEncryptionConfiguration=_kms_default(attacker)
    )
    code, report = _check(specs, capsys)
    assert code == 1
    (finding,) = report["findings"]
    (change,) = finding["changes"]
    assert change["path"] == "encryption"
    assert change["summary"].startswith(f"default encryption uses key {attacker}, spec says aws/s3")
    assert "another account (999999999999" in change["summary"]
