"""Bucket reads: the property table against moto, and Stubber where moto differs from AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.errors import ReadError
from chalicelib.kinds.s3_bucket.collector import (
    PROPERTY_READS,
    BucketCollector,
    bucket_region,
    parse_acl,
    parse_encryption,
    required_permissions,
)
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
    GRANTS,
    LOG_DELIVERY,
    POLICY,
    SECURITY_PROPERTIES,
    Encryption,
    Grant,
    PublicAccessBlock,
)
from tests.conftest import REGION

ACCOUNT = "123456789012"


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


def collector() -> BucketCollector:
    return BucketCollector(
        lambda region: boto3.client("s3", region_name=region),
        lambda region: boto3.client("s3control", region_name=region),
        home_region=REGION,
    )


@pytest.mark.parametrize(
    ("location", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("ap-south-1", "ap-south-1")],
)
def test_location_constraints_become_regions(location: str | None, region: str) -> None:
    assert bucket_region(location) == region


def test_every_property_has_one_row_and_a_permission() -> None:
    assert sorted(row.prop for row in PROPERTY_READS) == sorted(ALL_PROPERTIES)
    assert all(row.permission.startswith("s3:") for row in PROPERTY_READS)
    assert "s3:ListAllMyBuckets" in required_permissions()


def test_the_lambda_policy_grants_every_read_the_table_needs() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / ".chalice"
    for stage in ("dev", "prod"):
        policy = json.loads((root / f"policy-{stage}.json").read_text())
        granted = {
            action
            for statement in policy["Statement"]
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        }
        assert set(required_permissions()) <= granted, stage


def test_a_new_moto_bucket_reads_as_unconfigured(s3: Any) -> None:
    s3.create_bucket(Bucket="fresh", CreateBucketConfiguration={"LocationConstraint": REGION})
    state = collector().read("fresh", account=ACCOUNT)
    assert state is not None
    assert state.region == REGION and state.read == frozenset(ALL_PROPERTIES)
    assert state.policy is None and state.public_access_block is None
    assert state.encryption == Encryption("none")  # moto: no default encryption
    assert state.grants == frozenset()  # the owner's FULL_CONTROL is the baseline
    assert state.versioning.status == "Disabled" and state.logging is None
    assert state.object_ownership is None and dict(state.tags) == {}


def test_a_bucket_in_us_east_1_is_read_there(s3: Any) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="old-east")
    state = collector().read("old-east", account=ACCOUNT, properties=[POLICY])
    assert state is not None and state.region == "us-east-1"
    assert state.read == frozenset({POLICY})


def test_a_deleted_bucket_reads_as_none(s3: Any) -> None:
    assert collector().read("never-made", account=ACCOUNT) is None


def test_read_many_reads_every_bucket_in_a_thread_pool(s3: Any) -> None:
    names = [f"bucket-{i:02d}" for i in range(12)]
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket="bucket-07",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    reader = collector()
    listed = reader.list_names()
    assert sorted(listed) == names
    results = dict(reader.read_many(listed, account=ACCOUNT))
    assert set(results) == set(names)
    seventh = results["bucket-07"]
    assert not isinstance(seventh, ReadError) and seventh is not None
    assert seventh.public_access_block == PublicAccessBlock(True, True, False, True)
    assert seventh.read == frozenset(SECURITY_PROPERTIES)


def test_account_wide_block_is_read_from_s3control(s3: Any) -> None:
    control = boto3.client("s3control", region_name=REGION)
    assert collector().read_account_block(ACCOUNT, REGION) is None
    control.put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    assert collector().read_account_block(ACCOUNT, REGION) == PublicAccessBlock(
        True, True, True, False
    )


# -- where moto differs from AWS: Stubber ---------------------------------------------------


def _stubbed(region: str = "us-east-1") -> tuple[Any, Stubber]:
    client = boto3.client(
        "s3", region_name=region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_list_buckets_follows_continuation_tokens() -> None:
    # moto returns no ContinuationToken at all; AWS pages with one.
    client, stub = _stubbed()
    # AWS also refuses an unpaged ListBuckets on accounts with a bucket quota above 10,000.
    stub.add_response(
        "list_buckets",
        {"Buckets": [{"Name": "a-one"}, {"Name": "a-two"}], "ContinuationToken": "t1"},
        {"MaxBuckets": 10000},
    )
    stub.add_response(
        "list_buckets",
        {"Buckets": [{"Name": "b-three"}]},
        {"ContinuationToken": "t1", "MaxBuckets": 10000},
    )
    with stub:
        names = BucketCollector(lambda _: client).list_names()
    assert names == ["a-one", "a-two", "b-three"]
    stub.assert_no_pending_responses()


def test_access_denied_on_one_property_is_recorded_and_the_rest_is_read() -> None:
    # moto does not deny reads to a caller with credentials; AWS does per action.
    client, stub = _stubbed()
    stub.add_client_error("get_bucket_policy", "AccessDenied", http_status_code=403)
    stub.add_response(
        "get_bucket_acl",
        {
            "Owner": {"ID": "owner"},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": "owner"}, "Permission": "FULL_CONTROL"},
                {
                    "Grantee": {
                        "Type": "Group",
                        "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                    },
                    "Permission": "READ",
                },
            ],
        },
    )
    stub.add_client_error(
        "get_public_access_block", "NoSuchPublicAccessBlockConfiguration", http_status_code=404
    )
    stub.add_response(
        "get_bucket_encryption",
        {
            "ServerSideEncryptionConfiguration": {
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
    )
    with stub:
        state = BucketCollector(lambda _: client).read(
            "b", account=ACCOUNT, properties=SECURITY_PROPERTIES, region="us-east-1"
        )
    assert state is not None
    assert dict(state.unreadable) == {POLICY: "GetBucketPolicy: AccessDenied"}
    assert POLICY not in state.read and GRANTS in state.read
    assert state.grants == {
        Grant("group", "http://acs.amazonaws.com/groups/global/AllUsers", "READ")
    }
    assert state.public_access_block is None
    assert state.encryption == Encryption("AES256", None, False)


def test_location_denied_is_a_read_error_naming_the_call() -> None:
    client, stub = _stubbed()
    stub.add_client_error("get_bucket_location", "AccessDenied", http_status_code=403)
    with stub, pytest.raises(ReadError, match="GetBucketLocation on b failed: AccessDenied"):
        BucketCollector(lambda _: client).read("b", account=ACCOUNT)


def test_parse_acl_keeps_owner_grants_other_than_full_control() -> None:
    owner, grants = parse_acl(
        {
            "Owner": {"ID": "me"},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": "me"}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": "me"}, "Permission": "READ"},
                {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "WRITE"},
            ],
        }
    )
    assert owner == "me"
    assert grants == {Grant("id", "me", "READ"), Grant("group", LOG_DELIVERY, "WRITE")}


def test_parse_encryption_reads_kms_key_and_bucket_key() -> None:
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"},
        "BucketKeyEnabled": True,
    }
    assert parse_encryption({"ServerSideEncryptionConfiguration": {"Rules": [rule]}}) == Encryption(
        "aws:kms", "k1", True
    )


def test_bucket_region_from_list_buckets_saves_get_bucket_location() -> None:
    client, stub = _stubbed()
    stub.add_response(
        "list_buckets",
        {
            "Buckets": [
                {"Name": "in-eu", "BucketRegion": "eu-west-1"},
                {"Name": "no-region"},
                {"Name": "in-us", "BucketRegion": "us-east-1"},
            ]
        },
        {"MaxBuckets": 10000},
    )
    # only the bucket the listing does not place is located
    stub.add_response(
        "get_bucket_location", {"LocationConstraint": "ap-south-1"}, {"Bucket": "no-region"}
    )
    with stub:
        reader = BucketCollector(lambda _: client)
        listing = reader.list_buckets()
        located = reader.locate(listing)
    stub.assert_no_pending_responses()
    assert listing == {"in-eu": "eu-west-1", "no-region": None, "in-us": "us-east-1"}
    assert located == {"in-eu": "eu-west-1", "no-region": "ap-south-1", "in-us": "us-east-1"}


def test_sse_kms_without_a_key_id_is_the_aws_managed_key() -> None:
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    assert parse_encryption({"ServerSideEncryptionConfiguration": {"Rules": [rule]}}) == Encryption(
        "aws:kms", "aws/s3", False
    )
    aes = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert parse_encryption({"ServerSideEncryptionConfiguration": {"Rules": [aes]}}) == Encryption(
        "AES256", None, False
    )
