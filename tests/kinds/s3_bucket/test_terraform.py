"""Terraform's buckets and split bucket resources as bucket specs (fixtures:
tests/fixtures/terraform, shapes and their sources in SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import SpecError
from chalicelib.kinds.s3_bucket.terraform import BucketMapping
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.sources.terraform.model import TfInstance
from chalicelib.sources.terraform.state import parse_state

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "terraform"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


def _storage() -> list[TfInstance]:
    path = FIXTURES / "storage" / "terraform.tfstate"
    return parse_state("storage/terraform.tfstate", path.read_text())


def _documents(instances: list[TfInstance]) -> dict[str, dict[str, Any]]:
    out = list(BucketMapping().declare(instances))
    assert not [item for item in out if isinstance(item, SpecError)]
    return {str(item.data["name"]): dict(item.data) for item in out if isinstance(item, Declared)}


def test_split_resources_win_over_the_computed_inline_blocks() -> None:
    logs = _documents(_storage())["acme-audit-logs"]
    assert logs["encryption"] == {
        "sse": "aws:kms",
        "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "bucket_key": True,
    }
    assert logs["versioning"] == {"status": "Enabled"}
    assert logs["object_ownership"] == "BucketOwnerPreferred"
    assert logs["public_access_block"] == dict.fromkeys(
        (
            "block_public_acls",
            "ignore_public_acls",
            "block_public_policy",
            "restrict_public_buckets",
        ),
        True,
    )
    # the owner's FULL_CONTROL is every bucket's baseline, not a grant to declare
    assert logs["grants"] == [
        {"group": "LogDelivery", "permission": "WRITE"},
        {"group": "LogDelivery", "permission": "READ_ACP"},
    ]
    assert logs["policy"]["Statement"][0]["Sid"] == "DenyInsecureTransport"
    assert logs["region"] == "eu-west-1" and "account" not in logs
    assert logs["tags"] == {"team": "security", "managed-by": "terraform"}  # tags_all


def test_a_bucket_without_split_resources_keeps_what_its_inline_blocks_say() -> None:
    site = _documents(_storage())["acme-static-site"]
    assert site["grants"] == [{"group": "AllUsers", "permission": "READ"}]  # acl public-read
    assert site["encryption"] == {"sse": "AES256", "bucket_key": False}
    assert site["versioning"] == {"status": "Enabled", "mfa_delete": False}
    assert site["region"] == "us-west-2" and site["tags"] == {}
    # no public access block declared: the spec's default (all four on) applies
    assert "public_access_block" not in site and "policy" not in site


def test_the_documents_build_as_bucket_specs_with_the_state_address() -> None:
    parsed = declared_file("terraform:storage", BucketMapping().declare(_storage()))
    assert parsed.errors == ()
    specs = {item.spec.name: item.spec for item in parsed.specs}
    assert str(specs["acme-audit-logs"].source) == "storage/terraform.tfstate: aws_s3_bucket.logs"
    assert str(specs["acme-static-site"].source) == (
        "storage/terraform.tfstate: aws_s3_bucket.site[0]"
    )


def _bucket(name: str = "b-1", **extra: Any) -> TfInstance:
    attributes: dict[str, Any] = {"bucket": name, "id": name, "region": "eu-west-1"}
    attributes.update(extra)
    return TfInstance(
        "s.tfstate", f"aws_s3_bucket.{name.replace('-', '_')}", "aws_s3_bucket", attributes, AWS
    )


def _part(type_: str, **attributes: Any) -> TfInstance:
    return TfInstance("s.tfstate", f"{type_}.x", type_, {"bucket": "b-1", **attributes}, AWS)


def test_parts_of_a_bucket_no_state_declares_declare_nothing() -> None:
    block = _part("aws_s3_bucket_public_access_block", block_public_acls=False)
    assert list(BucketMapping().declare([block])) == []


def test_two_resources_of_one_split_type_for_a_bucket_is_an_error_naming_both() -> None:
    first = _part("aws_s3_bucket_policy", policy="{}")
    second = TfInstance("t.tfstate", "aws_s3_bucket_policy.y", first.type, first.attributes, AWS)
    errors = [
        e for e in BucketMapping().declare([_bucket(), first, second]) if isinstance(e, SpecError)
    ]
    (error,) = errors
    assert str(error).startswith("t.tfstate: aws_s3_bucket_policy.y")
    assert "s.tfstate: aws_s3_bucket_policy.x" in str(error)


def test_expected_bucket_owner_scopes_the_spec_to_its_account() -> None:
    versioning = _part(
        "aws_s3_bucket_versioning",
        expected_bucket_owner="123456789012",
        versioning_configuration=[{"status": "Suspended", "mfa_delete": "Disabled"}],
    )
    (document,) = BucketMapping().declare([_bucket(), versioning])
    assert isinstance(document, Declared)
    assert document.data["account"] == "123456789012"
    assert document.data["versioning"] == {"status": "Suspended", "mfa_delete": False}


def test_a_canned_acl_setpoint_cannot_compare_and_an_email_grantee_are_errors() -> None:
    exec_read = _part("aws_s3_bucket_acl", acl="aws-exec-read")
    email = _bucket(
        "b-2",
        grant=[{"type": "AmazonCustomerByEmail", "id": "", "uri": "", "permissions": ["READ"]}],
    )
    errors = [
        e
        for e in BucketMapping().declare([_bucket(), exec_read, email])
        if isinstance(e, SpecError)
    ]
    assert [(e.file, e.field) for e in errors] == [
        ("s.tfstate: aws_s3_bucket_acl.x", "acl"),
        ("s.tfstate: aws_s3_bucket.b_2", "grant[0]"),
    ]


def test_a_sensitive_policy_is_refused_without_printing_it() -> None:
    policy = TfInstance(
        "s.tfstate",
        "aws_s3_bucket_policy.p",
        "aws_s3_bucket_policy",
        {"bucket": "b-1", "policy": '{"Statement": "secret-ish"}'},
        AWS,
        frozenset({("policy",)}),
    )
    (error,) = BucketMapping().declare([_bucket(), policy])
    assert isinstance(error, SpecError) and error.field == "policy"
    assert "secret-ish" not in str(error) and "sensitive" in str(error)


def test_an_empty_inline_policy_means_none_and_a_broken_one_is_an_error() -> None:
    (plain,) = BucketMapping().declare([_bucket(policy="")])
    assert isinstance(plain, Declared) and "policy" not in plain.data
    (broken,) = BucketMapping().declare([_bucket(policy="{not json")])
    assert isinstance(broken, SpecError) and broken.field == "policy"


# --- round trip on moto: the buckets built with boto3, the state that describes them --------

KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _build_buckets(s3: Any, west: Any) -> str:
    """What the storage fixture describes; returns moto's canonical owner id."""
    s3.create_bucket(
        Bucket="acme-audit-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_public_access_block(
        Bucket="acme-audit-logs",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket="acme-audit-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": KMS_KEY,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(
        Bucket="acme-audit-logs", VersioningConfiguration={"Status": "Enabled"}
    )
    s3.put_bucket_ownership_controls(
        Bucket="acme-audit-logs",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    owner = s3.get_bucket_acl(Bucket="acme-audit-logs")["Owner"]
    log_delivery = {"URI": "http://acs.amazonaws.com/groups/s3/LogDelivery", "Type": "Group"}
    s3.put_bucket_acl(
        Bucket="acme-audit-logs",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {
                    "Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"},
                    "Permission": "FULL_CONTROL",
                },
                {"Grantee": log_delivery, "Permission": "WRITE"},
                {"Grantee": log_delivery, "Permission": "READ_ACP"},
            ],
        },
    )
    state = json.loads((FIXTURES / "storage" / "terraform.tfstate").read_text())
    (policy,) = [r for r in state["resources"] if r["type"] == "aws_s3_bucket_policy"]
    s3.put_bucket_policy(
        Bucket="acme-audit-logs", Policy=policy["instances"][0]["attributes"]["policy"]
    )
    s3.put_bucket_tagging(
        Bucket="acme-audit-logs",
        Tagging={
            "TagSet": [
                {"Key": "team", "Value": "security"},
                {"Key": "managed-by", "Value": "terraform"},
            ]
        },
    )
    west.create_bucket(
        Bucket="acme-static-site", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    west.put_bucket_acl(Bucket="acme-static-site", ACL="public-read")
    west.put_bucket_versioning(
        Bucket="acme-static-site", VersioningConfiguration={"Status": "Enabled"}
    )
    west.put_bucket_encryption(
        Bucket="acme-static-site",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    return str(owner["ID"])


@pytest.fixture
def described(aws: None, tmp_path: Path) -> tuple[Any, Path]:
    import boto3

    s3 = boto3.client("s3", region_name="eu-west-1")
    owner = _build_buckets(s3, boto3.client("s3", region_name="us-west-2"))
    states = tmp_path / "states" / "storage"
    states.mkdir(parents=True)
    text = (FIXTURES / "storage" / "terraform.tfstate").read_text().replace(OWNER, owner)
    (states / "terraform.tfstate").write_text(text)
    return s3, states.parent


def _check(states: Path, region: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    from chalicelib.cli.main import main

    capsys.readouterr()
    code = main(
        [
            "check",
            "--specs",
            f"terraform:{states}",
            "--region",
            region,
            "--kinds",
            "s3_bucket",
            "--format",
            "json",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_the_buckets_the_state_describes_are_in_sync(
    described: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, states = described
    code, report = _check(states, "eu-west-1", capsys)
    assert report["findings"] == [] and report["summary"]["in_sync"] == 1
    assert code == 0


def test_a_removed_public_access_block_is_drift_on_the_state_address(
    described: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, states = described
    s3.delete_public_access_block(Bucket="acme-audit-logs")
    code, report = _check(states, "eu-west-1", capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["id"] == "acme-audit-logs" and finding["status"] == "drifted"
    assert finding["spec"] == "storage/terraform.tfstate: aws_s3_bucket.logs"
    assert finding["changes"] and all(c["world_open"] for c in finding["changes"])


def test_a_public_bucket_whose_state_declares_no_access_block_is_never_in_sync(
    described: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # the public-read ACL is declared, so it is not drift; the missing block is
    _, states = described
    code, report = _check(states, "us-west-2", capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["spec"] == "storage/terraform.tfstate: aws_s3_bucket.site[0]"
    paths = {c["path"] for c in finding["changes"]}
    assert paths and all(path.startswith("public_access_block") for path in paths)
