"""The S3 pipeline end to end on moto: a CloudTrail record in, the bucket's finding out."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.aws import ClientCache
from chalicelib.events.route import Routed, route_payload
from chalicelib.kinds.registry import deletes
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.collector import BucketCollector
from chalicelib.kinds.s3_bucket.pipeline import (
    S3BucketPipeline,
    _drop_account_prefix,
    build_s3_pipeline,
)
from chalicelib.model import Status, is_gone
from chalicelib.pipeline import Pipeline
from chalicelib.specs.loading import load_documents
from tests.conftest import REGION

ACCOUNT = "123456789012"
CATALOG = load_documents(
    [("policies/s3_buckets/site.yaml", "kind: s3_bucket\nname: site-assets\n")]
)


def record(event_name: str, bucket: str | None = None) -> dict[str, Any]:
    params = {"bucketName": bucket} if bucket else {}
    return {
        "eventName": event_name,
        "eventSource": "s3.amazonaws.com",
        "awsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "eventID": "e-1",
        "userIdentity": {"arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT},
        "requestParameters": params,
    }


@pytest.fixture
def pipeline(aws: None) -> Pipeline:
    return Pipeline([build_s3_pipeline(ClientCache())], deletes=deletes)


def evaluate(pipeline: Pipeline, payload: dict[str, Any]) -> list[Any]:
    (routed,) = route_payload(payload)
    assert isinstance(routed, Routed)
    return pipeline.evaluate(routed.refs, CATALOG, routed.actor)


def test_a_public_policy_put_by_hand_is_drift_with_the_actor(pipeline: Pipeline) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="site-assets", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket="site-assets",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket="site-assets",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    (finding,) = evaluate(pipeline, record("PutBucketEncryption", "site-assets"))
    assert finding.status is Status.IN_SYNC
    s3.put_bucket_policy(
        Bucket="site-assets",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::site-assets/*",
                    }
                ],
            }
        ),
    )
    (finding,) = evaluate(pipeline, record("PutBucketPolicy", "site-assets"))
    assert finding.status is Status.DRIFTED and finding.kind is S3_BUCKET
    assert finding.spec == "policies/s3_buckets/site.yaml:1"
    assert finding.actor.arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert [c.world_open for c in finding.changes] == [True]


def test_deleting_a_specced_bucket_is_missing_and_an_unmanaged_one_is_gone(
    pipeline: Pipeline,
) -> None:
    (finding,) = evaluate(pipeline, record("DeleteBucket", "site-assets"))
    assert finding.status is Status.MISSING and not is_gone(finding)
    (gone,) = evaluate(pipeline, record("DeleteBucket", "someone-elses"))
    assert is_gone(gone) and gone.id == "someone-elses"


def test_account_wide_block_removed_is_reported_for_the_account(pipeline: Pipeline) -> None:
    (finding,) = evaluate(pipeline, record("DeleteAccountPublicAccessBlock"))
    assert finding.status is Status.DRIFTED and finding.id is None
    assert finding.name == "account public access block"
    assert len(finding.changes) == 1  # the block is gone: one change, not one per flag
    assert "every bucket in account 123456789012" in finding.changes[0].summary
    boto3.client("s3control", region_name=REGION).put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    (back,) = evaluate(pipeline, record("PutAccountPublicAccessBlock"))
    assert back.status is Status.IN_SYNC


def test_sweep_only_covers_buckets_in_its_regions(pipeline: Pipeline) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="east-bucket")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="west-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    found = pipeline.sweep(CATALOG, ACCOUNT, [REGION]).findings
    assert {(f.id, f.status) for f in found} == {
        ("west-bucket", Status.UNMANAGED),
        ("site-assets", Status.MISSING),
    }


def test_local_endpoints_lose_the_account_prefix_s3control_adds() -> None:
    class Request:
        def __init__(self) -> None:
            self.url = (
                "http://123456789012.localhost:5000/v20180820/configuration/publicAccessBlock"
            )
            self.headers: dict[str, str] = {}

    request = Request()
    _drop_account_prefix(request)
    assert request.url == "http://localhost:5000/v20180820/configuration/publicAccessBlock"


# -- sweeps: what is read, and findings that belong to no region ----------------------------


class Calls:
    """Counts S3 API calls per operation; can deny GetBucketLocation for some buckets."""

    def __init__(self, deny_location: frozenset[str] = frozenset()) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.deny_location = deny_location

    def record(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bucket"] = params.get("Bucket")
        self.seen.append((model.name, params.get("Bucket")))

    def deny(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        if model.name == "GetBucketLocation" and context.get("bucket") in self.deny_location:
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "AccessDenied", "Message": "denied"}}
            raise ClientError(error, "GetBucketLocation")
        return None

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.seen if name == operation)

    def buckets(self, operation: str) -> set[str | None]:
        return {bucket for name, bucket in self.seen if name == operation}


def counted_pipeline(calls: Calls, *, sweep_account_block: bool = False) -> S3BucketPipeline:
    def s3(region: str) -> Any:
        client = boto3.client("s3", region_name=region)
        client.meta.events.register("before-parameter-build.s3.*", calls.record)
        client.meta.events.register("before-call.s3.*", calls.deny)
        return client

    collector = BucketCollector(
        s3, lambda region: boto3.client("s3control", region_name=region), home_region="us-east-1"
    )
    return S3BucketPipeline(collector, sweep_account_block=sweep_account_block)


def _buckets() -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="east-bucket")
    s3 = boto3.client("s3", region_name=REGION)
    for name in ("west-one", "west-two"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


def test_a_sweep_lists_and_locates_once_and_reads_only_its_regions(aws: None) -> None:
    _buckets()
    calls = Calls()
    found = counted_pipeline(calls).sweep(CATALOG, ACCOUNT, ["ap-south-1", REGION]).findings
    assert calls.count("ListBuckets") == 1
    # moto gives no BucketRegion: one GetBucketLocation per bucket, for all regions at once
    assert calls.count("GetBucketLocation") == 3
    # the us-east-1 bucket is another sweep's: not read, not reported
    assert calls.buckets("GetBucketPolicy") == {"west-one", "west-two"}
    assert {f.id for f in found} == {"west-one", "west-two", "site-assets"}


def test_a_region_less_missing_spec_is_one_global_finding_in_every_sweep(aws: None) -> None:
    pipeline = counted_pipeline(Calls())
    both = pipeline.sweep(CATALOG, ACCOUNT, ["us-east-1", REGION]).findings
    assert [(f.id, f.status, f.region) for f in both] == [("site-assets", Status.MISSING, "global")]
    # a sweep split by region reports the same resource, not one per region
    east = pipeline.sweep(CATALOG, ACCOUNT, ["us-east-1"]).findings
    west = pipeline.sweep(CATALOG, ACCOUNT, [REGION]).findings
    assert [(f.id, f.region) for f in east] == [(f.id, f.region) for f in west]


def test_a_bucket_that_cannot_be_located_is_unknown_once_not_per_region(aws: None) -> None:
    _buckets()
    calls = Calls(deny_location=frozenset({"west-two"}))
    found = counted_pipeline(calls).sweep(CATALOG, ACCOUNT, ["us-east-1", REGION]).findings
    (unknown,) = [f for f in found if f.id == "west-two"]
    assert unknown.status is Status.UNKNOWN and unknown.region == "global"
    assert "GetBucketLocation on west-two failed: AccessDenied" in (unknown.reason or "")
    assert "west-two" not in calls.buckets("GetBucketPolicy")


def test_a_sweep_reads_the_account_wide_block_once(aws: None) -> None:
    _buckets()
    calls = Calls()
    pipeline = counted_pipeline(calls, sweep_account_block=True)
    found = pipeline.sweep(CATALOG, ACCOUNT, ["us-east-1", REGION]).findings
    (block,) = [f for f in found if f.name == "account public access block"]
    assert block.status is Status.DRIFTED and block.region == "global" and block.id is None
    assert len(block.changes) == 1  # a missed DeleteAccountPublicAccessBlock is caught
    boto3.client("s3control", region_name=REGION).put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    found = pipeline.sweep(CATALOG, ACCOUNT, [REGION]).findings
    (block,) = [f for f in found if f.name == "account public access block"]
    assert block.status is Status.IN_SYNC


def test_a_denied_account_block_is_one_unknown_finding_with_the_reason(aws: None) -> None:
    control = boto3.client("s3control", region_name="us-east-1")
    stub = Stubber(control)
    stub.add_client_error("get_public_access_block", "AccessDenied", http_status_code=403)
    collector = BucketCollector(
        lambda region: boto3.client("s3", region_name=region),
        lambda _: control,
        home_region="us-east-1",
    )
    with stub:
        found = S3BucketPipeline(collector).sweep(CATALOG, ACCOUNT, [REGION]).findings
    (block,) = [f for f in found if f.name == "account public access block"]
    assert block.status is Status.UNKNOWN and block.region == "global"
    assert block.reason == f"GetPublicAccessBlock for account {ACCOUNT} failed: AccessDenied"
