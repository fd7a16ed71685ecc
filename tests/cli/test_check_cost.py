"""What one `setpoint check` costs: AWS requests by operation, clients made, specs parsed.

Counted with botocore's own hooks (a `before-call` handler every session copies, and
`Session.create_client`), so a re-created client, a resource read twice or a spec file
parsed again shows up as a different number here, not as a slower benchmark.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import handlers

from chalicelib.cli.main import main
from chalicelib.specs import loading
from tests.conftest import REGION

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
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def build_estate() -> None:
    """Two groups (one naming the other as a peer), two buckets, a policy and a role."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    lb = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=vpc)["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=app,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": lb}],
            }
        ],
    )
    s3 = boto3.client("s3", region_name=REGION)
    for name in ("cost-logs", "cost-assets"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    iam = boto3.client("iam", region_name="us-east-1")
    policy = iam.create_policy(PolicyName="read", PolicyDocument=json.dumps(READ))["Policy"]
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="worker", PolicyArn=policy["Arn"])


class Cost:
    """What the code under test asked botocore for, from the moment it was made."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.clients: Counter[tuple[str, str | None]] = Counter()
        self.parsed: Counter[str] = Counter()

    def reset(self) -> None:
        self.requests.clear()
        self.clients.clear()
        self.parsed.clear()

    def count_request(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            self.requests[f"{model.service_model.service_name}:{model.name}"] += 1


@pytest.fixture
def cost(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cost]:
    found = Cost()
    # every session made from here on copies botocore's built-in handlers, this one too
    monkeypatch.setattr(
        handlers,
        "BUILTIN_HANDLERS",
        [*handlers.BUILTIN_HANDLERS, ("before-call", found.count_request)],
    )
    create_client = botocore.session.Session.create_client

    def counted_client(
        self: Any, service_name: str, region_name: str | None = None, **kw: Any
    ) -> Any:
        found.clients[(service_name, region_name)] += 1
        return create_client(self, service_name, region_name, **kw)

    monkeypatch.setattr(botocore.session.Session, "create_client", counted_client)
    parse_file = loading.parse_file

    def counted_parse(name: str, text: str) -> Any:
        found.parsed[name] += 1
        return parse_file(name, text)

    monkeypatch.setattr(loading, "parse_file", counted_parse)
    yield found


@pytest.fixture
def imported(cost: Cost, tmp_path: Path) -> Path:
    build_estate()
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION]) == 0
    cost.reset()
    return specs


def check(specs: Path, out: Path) -> int:
    return main(
        [
            "check",
            "--specs",
            str(specs),
            "--region",
            REGION,
            "--format",
            "json",
            "--output",
            str(out),
            "--no-progress",
        ]
    )


def test_a_check_makes_each_request_once(cost: Cost, imported: Path, tmp_path: Path) -> None:
    """One listing per family and region, each bucket property read once, nothing twice:
    the bound the sweep benchmark measures against, on an estate small enough to list."""
    code = check(imported, tmp_path / "report.json")
    assert code in (0, 1)  # the account has no trail: the guard kind reports that
    bucket_reads = {
        # the security properties every bucket is read for, and what `import` pins
        op: 2
        for op in (
            "s3:GetBucketPolicy",
            "s3:GetPublicAccessBlock",
            "s3:GetBucketEncryption",
            "s3:GetBucketVersioning",
            "s3:GetBucketAcl",
            "s3:GetBucketLogging",
            "s3:GetBucketTagging",
            "s3:GetBucketLocation",  # moto's ListBuckets gives no BucketRegion
        )
    }
    assert dict(cost.requests) == {
        "sts:GetCallerIdentity": 1,
        "ec2:DescribeSecurityGroups": 1,
        "iam:GetAccountAuthorizationDetails": 1,
        "s3:ListBuckets": 1,
        **bucket_reads,
        "elbv2:DescribeLoadBalancers": 1,
        "cloudtrail:DescribeTrails": 1,
        "events:ListRules": 1,
        # the guard kind's look at Setpoint's own parts: its functions and the default bus
        # in the region, its roles once for the account (no spec bucket is configured here)
        "lambda:ListFunctions": 1,
        "events:DescribeEventBus": 1,
        "iam:ListRoles": 1,
    }


def test_a_check_makes_one_client_per_service_and_region(
    cost: Cost, imported: Path, tmp_path: Path
) -> None:
    check(imported, tmp_path / "report.json")
    assert cost.clients, "the check made no client through botocore"
    assert {key: n for key, n in cost.clients.items() if n > 1} == {}


def test_a_check_parses_each_spec_file_once(cost: Cost, imported: Path, tmp_path: Path) -> None:
    check(imported, tmp_path / "report.json")
    files = sorted(str(p) for p in imported.rglob("*.yaml"))
    assert len(files) == 8  # four groups (two VPC defaults), two buckets, a policy, a role
    assert sorted(cost.parsed) == files
    assert set(cost.parsed.values()) == {1}


LOGS = ("acme-logs-a", "acme-logs-b", "acme-logs-keep")


@pytest.fixture
def bucket_calls(cost: Cost, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """s3:Get* requests per bucket, from the parameters each call was made with.

    GetBucketLocation is left out: it is part of the listing here (moto's ListBuckets gives
    no `BucketRegion`, which AWS's does), needed to tell whether a bucket is in the regions
    checked at all; every other Get* is one of the bucket's own property reads.
    """
    found: Counter[str] = Counter()

    def count(params: Any = None, model: Any = None, **_: Any) -> None:
        if model is None or not params or not model.name.startswith("Get"):
            return
        if model.name != "GetBucketLocation":
            found[str(params.get("Bucket"))] += 1

    monkeypatch.setattr(
        handlers,
        "BUILTIN_HANDLERS",
        [*handlers.BUILTIN_HANDLERS, ("before-parameter-build.s3", count)],
    )
    return found


def s3_check(specs: Path, out: Path) -> dict[str, Any]:
    argv = ["check", "--specs", str(specs), "--region", REGION, "--kinds", "s3_bucket"]
    assert main([*argv, "--format", "json", "--output", str(out), "--no-progress"]) in (0, 1)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


@pytest.fixture
def logs_estate(cost: Cost, tmp_path: Path) -> Path:
    """Three log buckets and one more, imported; one log bucket made after the import."""
    s3 = boto3.client("s3", region_name=REGION)
    where = {"LocationConstraint": REGION}
    for name in ("acme-logs-a", "acme-logs-keep", "acme-assets"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=where)
    specs = tmp_path / "policies"
    assert main(["import", "--out", str(specs), "--region", REGION, "--kinds", "s3_bucket"]) == 0
    s3.create_bucket(Bucket="acme-logs-b", CreateBucketConfiguration=where)  # no spec
    s3.put_bucket_versioning(Bucket="acme-logs-keep", VersioningConfiguration={"Status": "Enabled"})
    return specs


def test_check_reads_nothing_of_the_buckets_a_rule_ignores(
    logs_estate: Path, bucket_calls: Counter[str], tmp_path: Path
) -> None:
    """No Get* for an ignored bucket (spec'd or not), each counted once in summary.ignored,
    none reported missing or unmanaged; the `!` one is read and compared."""
    (logs_estate / ".setpointignore").write_text(
        "s3_bucket:acme-logs-*\n!s3_bucket:acme-logs-keep\n"
    )
    bucket_calls.clear()
    report = s3_check(logs_estate, tmp_path / "report.json")
    assert bucket_calls["acme-logs-a"] == 0 and bucket_calls["acme-logs-b"] == 0
    assert bucket_calls["acme-logs-keep"] >= 4  # its security properties at least
    assert report["summary"]["ignored"] == 2
    # acme-assets in sync (counted, not listed); nothing missing, nothing unmanaged
    assert {f["name"]: f["status"] for f in report["findings"]} == {"acme-logs-keep": "drifted"}
    assert report["summary"]["checked"] == 2
    assert not any("matched nothing" in s for s in report["scope"]["skipped"])


def test_check_with_a_tag_rule_reads_only_the_tags_of_what_it_ignores(
    logs_estate: Path, bucket_calls: Counter[str], tmp_path: Path
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    for name in ("acme-logs-a", "acme-logs-b"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "logs"}]})
    (logs_estate / ".setpointignore").write_text("tag:team=logs\n")
    bucket_calls.clear()
    report = s3_check(logs_estate, tmp_path / "report.json")
    assert bucket_calls["acme-logs-a"] == 1 and bucket_calls["acme-logs-b"] == 1  # tags only
    assert report["summary"]["ignored"] == 2
    assert {f["name"] for f in report["findings"]} == {"acme-logs-keep"}  # its versioning
    assert report["summary"]["checked"] == 2


def test_check_without_rules_reads_every_bucket(
    logs_estate: Path, bucket_calls: Counter[str], tmp_path: Path
) -> None:
    """The counter itself sees the reads the tests above expect to be absent."""
    bucket_calls.clear()
    report = s3_check(logs_estate, tmp_path / "report.json")
    assert min(bucket_calls[name] for name in LOGS) >= 4
    assert report["summary"]["ignored"] == 0
