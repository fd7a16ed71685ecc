"""`on_drift: revert` on a bucket and a managed policy, on moto, through `explain`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from tests.conftest import REGION

BUCKET = "acme-audit-logs"
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
# a role EC2 may assume: the trust policy of the roles these tests create
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def record(source: str, name: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record by alice, in the shape of the sample records."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/alice",
            "accountId": "123456789012",
            "userName": "alice",
        },
        "eventTime": "2026-12-03T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.60",
        "requestParameters": params,
        "responseElements": None,
        "eventID": "5d4c3b2a-0000-4000-8000-000000000042",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }


def opt_in(specs: Path, marker: str) -> None:
    (spec,) = [p for p in specs.rglob("*.yaml") if marker in p.read_text()]
    spec.write_text(spec.read_text() + "on_drift: revert\n")


def write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def bucket(aws: None, tmp_path: Path) -> tuple[Any, Path]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "s3_bucket"]) == 0
    opt_in(specs, BUCKET)
    return s3, specs


def test_a_deleted_public_access_block_is_restored(
    bucket: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, specs = bucket
    s3.delete_public_access_block(Bucket=BUCKET)
    event = write(
        tmp_path,
        record("s3.amazonaws.com", "DeleteBucketPublicAccessBlock", REGION, {"bucketName": BUCKET}),
    )
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    out = capsys.readouterr().out
    assert "Reverted: restore the public access block as the spec has it" in out
    assert "(s3:PutPublicAccessBlock)" in out


def test_flags_turned_off_one_by_one_are_one_call_that_restores_them_all(
    bucket: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, specs = bucket
    off = {"BlockPublicAcls": True, "IgnorePublicAcls": True}
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            **off,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    params = {"bucketName": BUCKET, "PublicAccessBlockConfiguration": {}}
    event = write(
        tmp_path, record("s3.amazonaws.com", "PutBucketPublicAccessBlock", REGION, params)
    )
    args = ["explain", event, "--specs", str(specs), "--apply-reverts", "--format", "json"]
    assert main(args) == 1
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert [r["done"] for r in finding["reverts"]] == [True, True]


def test_removed_default_encryption_is_put_back(
    bucket: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, specs = bucket
    s3.delete_bucket_encryption(Bucket=BUCKET)
    event = write(
        tmp_path,
        record("s3.amazonaws.com", "DeleteBucketEncryption", REGION, {"bucketName": BUCKET}),
    )
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "Reverted: restore default encryption AES256" in capsys.readouterr().out


def test_a_widened_managed_policy_gets_the_spec_document_back(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps(READ_ONLY))["Policy"][
        "Arn"
    ]
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "iam_policy"]) == 0
    opt_in(specs, "reader")
    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(EVERYTHING), SetAsDefault=True
    )
    params = {"policyArn": arn, "policyDocument": json.dumps(EVERYTHING), "setAsDefault": True}
    event = write(tmp_path, record("iam.amazonaws.com", "CreatePolicyVersion", "us-east-1", params))
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    statements = document["Document"]["Statement"]
    assert [s["Action"] for s in statements] == ["s3:GetObject"]
    out = capsys.readouterr().out
    # two changes (a statement added, one gone), one call: said once
    assert out.count("Reverted: put back the spec's policy document") == 1


def test_an_attached_policy_the_spec_does_not_list_is_detached_and_kept(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    wide = iam.create_policy(PolicyName="wide", PolicyDocument=json.dumps(EVERYTHING))["Policy"]
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "iam_role"]) == 0
    opt_in(specs, "deploy")
    iam.attach_role_policy(RoleName="deploy", PolicyArn=wide["Arn"])
    params = {"roleName": "deploy", "policyArn": wide["Arn"]}
    event = write(tmp_path, record("iam.amazonaws.com", "AttachRolePolicy", "us-east-1", params))
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    assert iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"] == []
    assert iam.get_policy(PolicyArn=wide["Arn"])["Policy"]["PolicyName"] == "wide"
    assert f"Reverted: detach {wide['Arn']}" in capsys.readouterr().out


def test_a_weakened_listener_tls_policy_is_restored(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.kinds.load_balancer.test_pipeline import build_estate

    elbv2 = boto3.client("elbv2", region_name=REGION)
    ids = build_estate(
        boto3.client("ec2", region_name=REGION), elbv2, boto3.client("acm", region_name=REGION)
    )
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "load_balancer"]) == 0
    opt_in(specs, "web-public")
    elbv2.modify_listener(ListenerArn=ids["https"], SslPolicy="ELBSecurityPolicy-2016-08")
    params = {"listenerArn": ids["https"], "sslPolicy": "ELBSecurityPolicy-2016-08"}
    event = write(
        tmp_path, record("elasticloadbalancing.amazonaws.com", "ModifyListener", REGION, params)
    )
    assert main(["explain", event, "--specs", str(specs), "--apply-reverts"]) == 1
    (listener,) = elbv2.describe_listeners(ListenerArns=[ids["https"]])["Listeners"]
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    said = "Reverted: restore TLS policy ELBSecurityPolicy-TLS13-1-2-2021-06 on listener 443"
    assert said in capsys.readouterr().out


def test_a_member_accounts_role_is_never_reverted_with_this_accounts_clients(
    aws: None, tmp_path: Path
) -> None:
    """IAM reverts name a role by name only: a role `deploy` drifted in member account
    222222222222 must not detach the policy from our own `deploy`. The revert is refused
    before any call and the finding says why."""
    import dataclasses

    from chalicelib.aws import ClientCache
    from chalicelib.kinds.iam import IAM_ROLE
    from chalicelib.model import GLOBAL_REGION, ResourceRef
    from chalicelib.revert.settings import RevertSettings
    from chalicelib.runtime import build_reverter, spec_provider
    from tests.runtime_builder import build_runtime

    iam = boto3.client("iam", region_name="us-east-1")
    trust = json.dumps(EC2_TRUST)
    role = iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust)["Role"]
    wide = iam.create_policy(PolicyName="wide", PolicyDocument=json.dumps(EVERYTHING))["Policy"]
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--kinds", "iam_role"]) == 0
    opt_in(specs, "deploy")
    iam.attach_role_policy(RoleName="deploy", PolicyArn=wide["Arn"])
    clients = ClientCache()
    runtime = build_runtime(clients=clients, specs=spec_provider([str(specs)], clients))
    reverter = build_reverter(runtime, RevertSettings(), apply=True)
    ref = ResourceRef(IAM_ROLE, "123456789012", GLOBAL_REGION, id=role["Arn"], name="deploy")
    (ours,) = [f for f in runtime.evaluate([ref], None) if f.status.value == "drifted"]
    member = "222222222222"
    theirs = dataclasses.replace(
        ours, account=member, id=role["Arn"].replace("123456789012", member)
    )
    (kept,), handed = reverter.apply([theirs])
    assert handed == []
    assert kept.reverts and not any(r.done for r in kept.reverts)
    assert all((r.error or "").startswith("elsewhere: ") for r in kept.reverts)
    assert member in (kept.reverts[0].error or "")
    attached = iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [wide["Arn"]]  # ours untouched
    # the same drift in our own account is reverted, so the refusal above is the account's
    (done,), _ = reverter.apply([ours])
    assert any(r.done for r in done.reverts)
    assert iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"] == []
