"""The IAM pipeline on moto: event path and sweep, with the skips and statuses users see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.kinds.iam import IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.collector import IamCollector
from chalicelib.kinds.iam.pipeline import IamPipeline, import_iam
from chalicelib.model import ResourceRef, Status
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import load_directory, load_documents
from chalicelib.specs.sink import SpecSink

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
        IAM_ROLE, ACCOUNT, "global", id=f"arn:aws:iam::{ACCOUNT}:role/{name}", name=name
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
        (IAM_ROLE, "app"): Status.IN_SYNC,
        (IAM_ROLE, "stray"): Status.UNMANAGED,
        (IAM_ROLE, "gone"): Status.MISSING,
        (IAM_USER, "bob"): Status.UNMANAGED,
    }
    assert {f.region for f in result.findings} == {"global"}


def test_sweep_only_reads_the_kinds_asked_for(iam: Any) -> None:
    iam.create_user(UserName="bob")
    pipeline = IamPipeline(IamCollector(lambda: iam))
    result = pipeline.sweep(SpecCatalog(), ACCOUNT, [], frozenset({IAM_ROLE}))
    assert result.findings == []


def test_sweep_that_cannot_read_makes_every_spec_unknown(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_account_authorization_details", service_error_code="AccessDenied")
    catalog = load_documents([("app.yaml", ROLE_SPEC)])
    with stubber:
        result = IamPipeline(IamCollector(lambda: iam)).sweep(
            catalog, ACCOUNT, [], frozenset({IAM_ROLE})
        )
    assert [f.status for f in result.findings] == [Status.UNKNOWN, Status.UNKNOWN]
    assert result.findings[1].spec == "app.yaml:1"


def test_import_skips_service_linked_roles(iam: Any, tmp_path: Path) -> None:
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    written = import_iam(IamCollector(lambda: iam), SpecSink(tmp_path), [IAM_ROLE], quiet=True)
    assert written == 1
    assert (tmp_path / "iam" / "iam_role" / "app.yaml").is_file()
    (spec,) = load_directory(tmp_path).specs_of("iam_role")
    assert spec.name == "app"


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
USER_SPEC = "kind: iam_user\nname: u1\n"  # groups omitted: member of none


def test_a_user_joining_an_admin_group_is_drift_on_the_event_path_and_in_the_sweep(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    iam.create_user(UserName="u1")
    iam.create_group(GroupName="Admins")
    iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    catalog = load_documents([("u1.yaml", USER_SPEC)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    ref = ResourceRef(IAM_USER, ACCOUNT, "global", name="u1")
    assert pipeline.evaluate_ref(ref, catalog)[0].status is Status.IN_SYNC

    iam.add_user_to_group(UserName="u1", GroupName="Admins")
    (event,) = pipeline.evaluate_ref(ref, catalog)
    swept = pipeline.sweep(catalog, ACCOUNT, [], frozenset({IAM_USER})).findings
    assert [f.status for f in swept] == [Status.DRIFTED]
    assert event.changes == swept[0].changes
    (change,) = event.changes
    assert change.op == "add" and change.path == "groups" and change.actual == "Admins"
    assert change.summary.startswith("joins group Admins")
    assert "admin" in change.summary and change.summary.endswith("not in spec")

    listed = load_documents([("u1.yaml", USER_SPEC + "groups: [Admins]\n")])
    assert pipeline.evaluate_ref(ref, listed)[0].status is Status.IN_SYNC
    iam.remove_user_from_group(UserName="u1", GroupName="Admins")
    (left,) = pipeline.evaluate_ref(ref, listed)[0].changes
    assert left.op == "remove" and left.expected == "Admins"


def test_a_deleted_role_with_a_path_has_one_id_from_events_and_sweeps(iam: Any) -> None:
    spec = ROLE_SPEC + "path: /service-role/\n"
    catalog = load_documents([("app.yaml", spec)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    # DeleteRole names the role only: the event ref guesses path "/"
    (event,) = pipeline.evaluate_ref(role_ref(), catalog)
    (swept,) = pipeline.sweep(catalog, ACCOUNT, [], frozenset({IAM_ROLE})).findings
    assert event.status is swept.status is Status.MISSING
    assert event.id == swept.id == f"arn:aws:iam::{ACCOUNT}:role/service-role/app"


def test_a_missing_finding_keeps_the_partition_of_its_event(iam: Any) -> None:
    catalog = load_documents([("app.yaml", ROLE_SPEC + "path: /ops/\n")])
    ref = ResourceRef(
        IAM_ROLE, ACCOUNT, "global", id=f"arn:aws-us-gov:iam::{ACCOUNT}:role/app", name="app"
    )
    (finding,) = IamPipeline(IamCollector(lambda: iam)).evaluate_ref(ref, catalog)
    assert finding.id == f"arn:aws-us-gov:iam::{ACCOUNT}:role/ops/app"


def test_an_unreadable_resource_is_unknown_on_the_event_path_with_the_spec_id(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_role", service_error_code="AccessDenied")
    catalog = load_documents([("app.yaml", ROLE_SPEC + "path: /ops/\n")])
    with stubber:
        (finding,) = IamPipeline(IamCollector(lambda: iam)).evaluate_ref(role_ref(), catalog)
    assert finding.status is Status.UNKNOWN
    assert finding.id == f"arn:aws:iam::{ACCOUNT}:role/ops/app"


def test_one_unreadable_document_is_unknown_and_the_rest_is_still_compared(iam: Any) -> None:
    def role(name: str, trust: str) -> dict[str, Any]:
        return {
            "RoleName": name,
            "Path": "/",
            "RoleId": "AROAEXAMPLE000000001",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": trust,
            "RolePolicyList": [],
            "AttachedManagedPolicies": [],
        }

    stubber = Stubber(iam)
    stubber.add_response(
        "get_account_authorization_details",
        {
            "RoleDetailList": [role("app", TRUST), role("broken", "%7Bnot json")],
            "UserDetailList": [
                {"UserName": "bob", "Path": "/", "Arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}
            ],
            "IsTruncated": False,
        },
    )
    broken = ROLE_SPEC.replace("name: app", "name: broken")
    catalog = load_documents([("app.yaml", ROLE_SPEC), ("broken.yaml", broken)])
    pipeline = IamPipeline(IamCollector(lambda: iam))
    with stubber:
        result = pipeline.sweep(catalog, ACCOUNT, [], frozenset({IAM_ROLE, IAM_USER}))
    by_name = {f.name: f for f in result.findings}
    assert set(by_name) == {"app", "broken", "bob"}
    assert by_name["app"].status is Status.IN_SYNC
    assert by_name["bob"].status is Status.UNMANAGED
    unread = by_name["broken"]
    assert unread.status is Status.UNKNOWN and unread.spec == "broken.yaml:1"
    assert unread.id == f"arn:aws:iam::{ACCOUNT}:role/broken"
    assert "trust policy" in (unread.reason or "")
