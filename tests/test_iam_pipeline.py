"""The IAM pipeline on moto: event path and sweep, with the skips and statuses users see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.collectors.iam import IamCollector
from chalicelib.kinds_iam import IamPipeline, import_iam
from chalicelib.model import Kind, ResourceRef, Status
from chalicelib.specs.catalog import SpecCatalog, load_directory, load_documents

ACCOUNT = "123456789012"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ROLE_SPEC = """\
kind: iam_role
name: app
trust_policy:
  Version: "2012-10-17"
  Statement:
    Effect: Allow
    Principal: {Service: lambda.amazonaws.com}
    Action: sts:AssumeRole
"""


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def role_ref(name: str = "app") -> ResourceRef:
    return ResourceRef(
        Kind.IAM_ROLE, ACCOUNT, "global", id=f"arn:aws:iam::{ACCOUNT}:role/{name}", name=name
    )


def test_event_on_a_specced_role_reports_the_new_cross_account_trust(iam: Any) -> None:
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    catalog = load_documents([("app.yaml", ROLE_SPEC)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    assert pipeline.evaluate_ref(role_ref(), catalog)[0].status is Status.IN_SYNC

    backdoor = json.loads(TRUST)
    backdoor["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "210987654321"}, "Action": "sts:AssumeRole"}
    )
    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(backdoor))
    (finding,) = pipeline.evaluate_ref(role_ref(), catalog)
    assert finding.status is Status.DRIFTED and finding.region == "global"
    (change,) = finding.changes
    assert "role trusts account 210987654321" in change.summary
    assert "cross-account" in change.summary


def test_deleted_role_with_a_spec_is_missing_and_without_one_says_nothing(iam: Any) -> None:
    catalog = load_documents([("app.yaml", ROLE_SPEC)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    (finding,) = pipeline.evaluate_ref(role_ref(), catalog)
    assert finding.status is Status.MISSING and finding.spec == "app.yaml:1"
    assert pipeline.evaluate_ref(role_ref("other"), catalog) == []


def test_access_denied_on_the_event_path_is_unknown_never_in_sync(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_role", service_error_code="AccessDenied")
    catalog = load_documents([("app.yaml", ROLE_SPEC)])
    with stubber:
        (finding,) = IamPipeline(IamCollector(lambda: iam)).evaluate_ref(role_ref(), catalog)
    assert finding.status is Status.UNKNOWN and "AccessDenied" in (finding.reason or "")
    assert finding.spec == "app.yaml:1"


def test_sweep_skips_aws_owned_and_reports_the_rest(iam: Any) -> None:
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="stray", AssumeRolePolicyDocument=TRUST)
    iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    iam.create_user(UserName="bob")
    missing = ROLE_SPEC.replace("name: app", "name: gone")
    catalog = load_documents([("app.yaml", ROLE_SPEC), ("gone.yaml", missing)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    result = pipeline.sweep(catalog, ACCOUNT, ["eu-west-1"], frozenset(pipeline.kinds))
    statuses = {(f.kind, f.name): f.status for f in result.findings}
    assert statuses == {
        (Kind.IAM_ROLE, "app"): Status.IN_SYNC,
        (Kind.IAM_ROLE, "stray"): Status.UNMANAGED,
        (Kind.IAM_ROLE, "gone"): Status.MISSING,
        (Kind.IAM_USER, "bob"): Status.UNMANAGED,
    }
    assert {f.region for f in result.findings} == {"global"}


def test_sweep_only_reads_the_kinds_asked_for(iam: Any) -> None:
    iam.create_user(UserName="bob")
    pipeline = IamPipeline(IamCollector(lambda: iam))
    result = pipeline.sweep(SpecCatalog(), ACCOUNT, [], frozenset({Kind.IAM_ROLE}))
    assert result.findings == []


def test_sweep_that_cannot_read_makes_every_spec_unknown(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_account_authorization_details", service_error_code="AccessDenied")
    catalog = load_documents([("app.yaml", ROLE_SPEC)])
    with stubber:
        result = IamPipeline(IamCollector(lambda: iam)).sweep(
            catalog, ACCOUNT, [], frozenset({Kind.IAM_ROLE})
        )
    assert [f.status for f in result.findings] == [Status.UNKNOWN, Status.UNKNOWN]
    assert result.findings[1].spec == "app.yaml:1"


def test_import_skips_service_linked_roles(iam: Any, tmp_path: Path) -> None:
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    written = import_iam(IamCollector(lambda: iam), tmp_path, [Kind.IAM_ROLE], quiet=True)
    assert written == 1
    assert (tmp_path / "iam" / "iam_role" / "app.yaml").is_file()
    (spec,) = load_directory(tmp_path).specs_of("iam_role")
    assert spec.name == "app"
