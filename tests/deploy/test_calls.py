"""Every AWS operation the collectors send is in the call table, and the policy grants it.

The collectors run against moto on a session that records each operation botocore is
about to send (`before-call`), so a new read added to a collector without a table row
(hence without a permission in the Lambda's policy) fails here, not in production with
AccessDenied.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.deploy.calls import all_calls, collector_calls
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.registry import FAMILIES
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.events import account_block_ref
from chalicelib.kinds.s3_bucket.model import ALL_PROPERTIES
from chalicelib.kinds.s3_bucket.pipeline import S3BucketPipeline, bucket_collector
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import GUARD, ResourceRef
from chalicelib.pipeline import Pipeline
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.s3_source import S3SpecSource
from chalicelib.sweep.accounts import enabled_regions, organization_accounts
from chalicelib.sweep.lookup import CloudTrailLookup
from chalicelib.sweep.report_store import ReportStore
from tests.conftest import REGION, make_vpc_with_web
from tests.kinds.load_balancer.test_pipeline import build_estate as build_lb_estate

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def recorded(aws: None) -> Iterator[tuple[ClientCache, set[tuple[str, str]]]]:
    seen: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        seen.add((model.service_model.service_name, model.name))

    session = boto3.session.Session(region_name=REGION)
    session.events.register("before-call", record)
    yield ClientCache(session), seen


def build_estate() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    ids = make_vpc_with_web(ec2)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="estate", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="estate", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="estate", Key="policies/a.yaml", Body=b"kind: security_group\nname: web\n")
    iam = boto3.client("iam", region_name=REGION)
    policy = iam.create_policy(PolicyName="deploy", PolicyDocument=json.dumps(DOC))["Policy"]
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="app", PolicyArn=policy["Arn"])
    iam.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=json.dumps(DOC))
    iam.create_user(UserName="ci")
    iam.put_user_policy(UserName="ci", PolicyName="inline", PolicyDocument=json.dumps(DOC))
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="ci")
    iam.put_group_policy(GroupName="devs", PolicyName="inline", PolicyDocument=json.dumps(DOC))
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [ids["web"]]}]
    )["SecurityGroupRules"]
    lb_ids = build_lb_estate(
        ec2, boto3.client("elbv2", region_name=REGION), boto3.client("acm", region_name=REGION)
    )
    # the guard's reads: a logging trail, and one of Setpoint's own rules with its target
    s3.create_bucket(Bucket="trail-logs", CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    trail = cloudtrail.create_trail(
        Name="org-trail", S3BucketName="trail-logs", IsMultiRegionTrail=True
    )["TrailARN"]
    cloudtrail.start_logging(Name=trail)
    events = boto3.client("events", region_name=REGION)
    setpoint_rule = events.put_rule(
        Name="setpoint-prod-OnEc2ChangeEvent-1", EventPattern='{"source": ["aws.ec2"]}'
    )["RuleArn"]
    events.put_targets(
        Rule="setpoint-prod-OnEc2ChangeEvent-1",
        Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:123456789012:function:f"}],
    )
    # Setpoint's own function and role (the guard reads them in events and sweeps)
    own_role = iam.create_role(
        RoleName="setpoint-prod-DefaultRole-1", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    function = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="setpoint-prod-OnEc2Change-1",
        Runtime="python3.12",
        Role=own_role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    return {
        **ids,
        "function": function,
        "policy": policy["Arn"],
        "rule": rules[0]["SecurityGroupRuleId"],
        "lb": lb_ids["lb"],
        "trail": trail,
        "setpoint_rule": setpoint_rule,
    }


def run_everything(clients: ClientCache, ids: dict[str, str]) -> None:
    """Sweeps and event reads of every kind, as the Lambda makes them."""
    collector = bucket_collector(clients)
    # every registered family's own pipeline, S3 with the account-wide block swept too
    pipeline = Pipeline(
        S3BucketPipeline(collector, sweep_account_block=True)
        if S3_BUCKET in family.kinds
        else family.pipeline(clients)
        for family in FAMILIES
    )
    catalog = SpecCatalog()
    account = clients.account_id()
    result = pipeline.sweep(catalog, account, [REGION])
    assert result.checked > 0
    refs = [
        ResourceRef(SECURITY_GROUP, account, REGION, id=ids["web"]),
        ResourceRef(SECURITY_GROUP, account, REGION, name="web", vpc_id=ids["vpc"]),
        ResourceRef(SECURITY_GROUP, account, REGION, name="default"),  # default VPC
        ResourceRef(SECURITY_GROUP, account, REGION, rule_ids=(ids["rule"],)),
        ResourceRef(S3_BUCKET, account, REGION, id="estate", name="estate"),
        account_block_ref(account, REGION),
        ResourceRef(IAM_POLICY, account, "global", id=ids["policy"]),
        ResourceRef(IAM_ROLE, account, "global", name="app"),
        ResourceRef(IAM_USER, account, "global", name="ci"),
        ResourceRef(IAM_GROUP, account, "global", name="devs"),
        ResourceRef(LOAD_BALANCER, account, REGION, id=ids["lb"], name="web-public"),
        ResourceRef(GUARD, account, REGION, id=ids["trail"], name="org-trail"),
        ResourceRef(GUARD, account, REGION, id=ids["function"], name="setpoint-prod-OnEc2Change-1"),
        ResourceRef(
            GUARD, account, REGION, id=ids["setpoint_rule"], name="setpoint-prod-OnEc2ChangeEvent-1"
        ),
    ]
    findings = pipeline.evaluate(refs, catalog)
    assert findings and all(f.status.value != "unknown" for f in findings), findings
    assert collector.read("estate", account=account, properties=ALL_PROPERTIES) is not None
    enabled_regions(clients.client("ec2"))
    organization_accounts(clients.client("organizations", "us-east-1"))
    S3SpecSource(clients.client("s3"), "s3://estate/policies").load()
    # who probably made sweep-only drift: the call goes out (recorded above); moto does
    # not implement LookupEvents, which the lookup reports (tests/sweep/test_lookup.py
    # answers it with botocore's Stubber instead)
    cloudtrail = clients.client("cloudtrail", REGION)
    lookup = CloudTrailLookup(lambda account, region: cloudtrail, sleep=lambda _: None)
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert lookup.find(findings[0], since, until).error == "LookupEvents is not implemented here"
    # the sweep's report and the fan-out's parts
    reports = ReportStore(clients.client("s3"), "estate")
    reports.put_part("run-1", 0, findings)
    assert reports.parts("run-1", 1)[1] == []
    reports.publish(findings, len(findings), "run-1", "2026-12-01T09:00:00+00:00")


def test_every_operation_the_lambda_sends_is_in_the_call_table(recorded: Any) -> None:
    clients, seen = recorded
    ids = build_estate()
    run_everything(clients, ids)
    table = all_calls()
    missing = sorted(op for op in seen if op not in table)
    assert not missing, f"operations sent with no row in chalicelib/deploy/calls.py: {missing}"
    # and the table is not padded: each collector row was exercised
    unused = sorted(
        (c.service, c.operation) for c in collector_calls() if (c.service, c.operation) not in seen
    )
    assert not unused, f"collector rows never called (stale table?): {unused}"


def test_the_committed_policy_grants_every_operation_recorded(recorded: Any) -> None:
    clients, seen = recorded
    run_everything(clients, build_estate())
    table = all_calls()
    policy = json.loads((ROOT / ".chalice" / "policy-prod.json").read_text())
    granted = {a for s in policy["Statement"] for a in s["Action"]}
    ungranted = sorted({table[op] for op in seen if op in table} - granted)
    assert not ungranted, f"policy-prod.json lacks {ungranted}"
