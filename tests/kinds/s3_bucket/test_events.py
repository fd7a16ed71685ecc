"""Every S3 sample record maps to the bucket (or skip) a user would expect; S3 rows in the table."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from chalicelib.events.table import EVENT_TABLE, eventbridge_source, watched_event_names
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.compare import ACCOUNT_BLOCK_NAME
from chalicelib.kinds.s3_bucket.events import S3_SOURCE, bucket_name, is_account_block
from chalicelib.model import GUARD, ResourceRef
from tests.events.helpers import SAMPLES, load_routable_sample

Expected = tuple[ResourceRef, ...] | SkipReason
ACCOUNT = "123456789012"


def bucket(name: str, region: str) -> ResourceRef:
    return ResourceRef(S3_BUCKET, ACCOUNT, region, id=name, name=name)


def account_block(region: str) -> ResourceRef:
    return ResourceRef(S3_BUCKET, ACCOUNT, region, id=None, name=ACCOUNT_BLOCK_NAME)


EXPECTED: dict[str, Expected] = {
    # a data event: S3's bucket rows do not route it; the guard's row does (its own test)
    "PutObject__setpoint1": (
        ResourceRef(
            GUARD,
            ACCOUNT,
            "us-east-1",
            id="arn:aws:s3:::setpoint-specs-123456789012-prod/policies/bundle.json",
            name="s3://setpoint-specs-123456789012-prod/policies/bundle.json",
        ),
    ),
    "CreateBucket__1": (bucket("test-backt-testfile01", "ap-northeast-1"),),
    # EventBridge envelopes without recipientAccountId: the account comes from the envelope
    "CreateBucket__2": (bucket("custodian-create-bucket-v4", "us-west-2"),),
    "CreateBucket__3": (bucket("cwe-test", "us-east-1"),),
    # S3 Express directory bucket: another service (s3express), not a general-purpose bucket
    "CreateBucket__5": SkipReason.NOT_WATCHED,
    # account-wide block (s3-control, logged as s3.amazonaws.com): one account-scope ref
    "DeleteAccountPublicAccessBlock__1": (account_block("us-east-1"),),
    "PutAccountPublicAccessBlock__1": (account_block("us-east-1"),),
    "DeleteBucketEncryption__1": (bucket("sensitive-data-bucket", "us-east-1"),),
    "DeleteBucketEncryption__2": SkipReason.FAILED_CALL,  # AccessDenied
    "DeleteBucketPolicy__1": (bucket("myawsbucket", "us-west-2"),),
    "DeleteBucketPublicAccessBlock__1": (bucket("corporate-documents", "us-east-1"),),
    "DeleteBucketPublicAccessBlock__2": SkipReason.FAILED_CALL,
    "DeleteBucket__1": (bucket("secrets", "us-east-2"),),  # errorCode "" is success
    "DeleteBucket__2": SkipReason.FAILED_CALL,  # BucketNotEmpty
    "DeleteBucket__3": (bucket("test-backt-testfile01", "ap-northeast-1"),),
    "PutBucketAcl__1": SkipReason.NO_RESOURCE,  # bucketName "" as the docs published it
    "PutBucketAcl__2": SkipReason.NO_RESOURCE,  # bucketName redacted to "..."
    "PutBucketAcl__3": SkipReason.NOT_WATCHED,  # eventSource redacted to "..."
    "PutBucketAcl__4": (bucket("bucket", "us-west-2"),),
    "PutBucketAcl__5": SkipReason.FAILED_CALL,
    "PutBucketEncryption__1": (bucket("sensitive-data-bucket", "us-east-1"),),
    "PutBucketLogging__setpoint1": (bucket("example-team-artifacts", "us-east-1"),),
    "PutBucketLogging__2": (bucket("critical-data-bucket", "us-west-2"),),
    "PutBucketLogging__3": SkipReason.FAILED_CALL,
    "PutBucketPolicy__1": (bucket("example-bucket", "us-west-2"),),
    "PutBucketPolicy__2": SkipReason.FAILED_CALL,
    "PutBucketPolicy__3": (bucket("test", "us-east-1"),),
    "PutBucketPublicAccessBlock__1": SkipReason.NO_RESOURCE,  # bucketName "..."
    "PutBucketPublicAccessBlock__2": (bucket("test", "us-east-1"),),
    "PutBucketPublicAccessBlock__3": (bucket("corporate-documents", "us-east-1"),),
    "PutBucketVersioning__setpoint1": (bucket("example-team-artifacts", "us-east-1"),),
    "PutBucketVersioning__2": (bucket("important-files-bucket", "us-east-1"),),
    "PutBucketVersioning__3": (bucket("critical-data-bucket", "us-east-1"),),
    "PutBucketVersioning__4": SkipReason.FAILED_CALL,
}


def test_every_s3_sample_has_an_expectation() -> None:
    on_disk = {path.stem for path in (SAMPLES / "s3").glob("*.json")}
    assert on_disk, f"no samples found in {SAMPLES / 's3'}"
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_s3_sample_routes_as_expected(name: str) -> None:
    (result,) = route_payload(load_routable_sample("s3", name))
    expected = EXPECTED[name]
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skipped), result
        assert result.reason is expected, result.detail
    else:
        assert isinstance(result, Routed), result
        assert result.refs == expected


def test_a_redacted_bucket_name_is_skipped_naming_the_value() -> None:
    (result,) = route_payload(load_routable_sample("s3", "PutBucketAcl__2"))
    assert isinstance(result, Skipped)
    assert "bucketName is '...'" in result.detail


def _record(event_name: str, params: Any) -> dict[str, Any]:
    return {
        "eventName": event_name,
        "eventSource": S3_SOURCE,
        "awsRegion": "eu-west-1",
        "recipientAccountId": ACCOUNT,
        "requestParameters": params,
    }


@pytest.mark.parametrize("value", ["", "...", ["bucket"], None, 7, "-starts-with-dash", "a"])
def test_values_that_are_not_bucket_names_name_no_bucket(value: object) -> None:
    assert bucket_name(value) is None
    (result,) = route_payload(_record("PutBucketPolicy", {"bucketName": value}))
    assert isinstance(result, Skipped) and result.reason is SkipReason.NO_RESOURCE


def test_legacy_us_east_1_names_with_capitals_are_buckets() -> None:
    assert bucket_name("My_Old.Bucket-1") == "My_Old.Bucket-1"


def test_account_block_ref_is_recognised_and_bucket_refs_are_not() -> None:
    (routed,) = route_payload(_record("PutAccountPublicAccessBlock", {}))
    assert isinstance(routed, Routed)
    assert is_account_block(routed.refs[0])
    (other,) = route_payload(_record("PutBucketTagging", {"bucketName": "logs"}))
    assert isinstance(other, Routed) and not is_account_block(other.refs[0])


def test_the_eventbridge_rule_covers_every_s3_call() -> None:
    # the guard's PutObject (a spec written) comes from s3.amazonaws.com too, to its own function
    names = [
        n for n in watched_event_names(S3_SOURCE) if EVENT_TABLE[(S3_SOURCE, n)].kind is S3_BUCKET
    ]
    assert names == sorted(
        [
            "CreateBucket",
            "DeleteBucket",
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "PutBucketAcl",
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "PutBucketVersioning",
            "PutBucketOwnershipControls",
            "DeleteBucketOwnershipControls",
            "PutBucketLogging",
            "PutBucketTagging",
            "DeleteBucketTagging",
            "PutAccountPublicAccessBlock",
            "DeleteAccountPublicAccessBlock",
        ]
    )
    assert all(EVENT_TABLE[(S3_SOURCE, n)].kind is S3_BUCKET for n in names)
    assert eventbridge_source(S3_SOURCE) == "aws.s3"
