"""The S3 pipeline end to end on moto: a CloudTrail record in, the bucket's finding out."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.events import Routed, route_payload
from chalicelib.kinds_s3 import _drop_account_prefix, build_s3_pipeline
from chalicelib.model import Kind, Status
from chalicelib.pipeline import Pipeline
from chalicelib.specs.catalog import load_documents
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
    return Pipeline([build_s3_pipeline(ClientCache())])


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
    assert finding.status is Status.DRIFTED and finding.kind is Kind.S3_BUCKET
    assert finding.spec == "policies/s3_buckets/site.yaml:1"
    assert finding.actor.arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert [c.world_open for c in finding.changes] == [True]


def test_deleting_a_specced_bucket_is_missing_and_an_unmanaged_one_is_silent(
    pipeline: Pipeline,
) -> None:
    (finding,) = evaluate(pipeline, record("DeleteBucket", "site-assets"))
    assert finding.status is Status.MISSING
    assert evaluate(pipeline, record("DeleteBucket", "someone-elses")) == []


def test_account_wide_block_removed_is_reported_for_the_account(pipeline: Pipeline) -> None:
    (finding,) = evaluate(pipeline, record("DeleteAccountPublicAccessBlock"))
    assert finding.status is Status.DRIFTED and finding.id is None
    assert finding.name == "account public access block"
    assert len(finding.changes) == 4
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
