"""IAM reads: one GetAccountAuthorizationDetails sweep, targeted reads per event, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.compare.policy_document import parse_policy
from chalicelib.errors import ReadError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.collector import READS, IamCollector, parse_identity_detail
from chalicelib.kinds.iam.model import IamIdentityState
from chalicelib.model import ResourceRef

ACCOUNT = "123456789012"
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
DOC: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam", region_name="us-east-1")


def estate(iam: Any) -> dict[str, str]:
    policy = iam.create_policy(PolicyName="deploy", Path="/team/", PolicyDocument=json.dumps(DOC))
    arn = policy["Policy"]["Arn"]
    wider = {**DOC, "Statement": [{**DOC["Statement"][0], "Action": "s3:*"}]}
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wider), SetAsDefault=True)
    iam.create_role(
        RoleName="app",
        Path="/svc/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        PermissionsBoundary=arn,
        Tags=[{"Key": "team", "Value": "web"}],
    )
    iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(DOC))
    iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    iam.create_user(UserName="ci")
    iam.attach_user_policy(UserName="ci", PolicyArn=arn)
    iam.create_group(GroupName="devs")
    iam.put_group_policy(GroupName="devs", PolicyName="read", PolicyDocument=json.dumps(DOC))
    iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    return {"policy": arn}


def test_sweep_reads_every_kind_in_one_listing(iam: Any) -> None:
    ids = estate(iam)
    listing = IamCollector(lambda: iam).list_account([IAM_POLICY, IAM_ROLE, IAM_USER, IAM_GROUP])
    (policy,) = listing.policies
    assert policy.arn == ids["policy"] and policy.path == "/team/"
    assert policy.default_version == "v2"  # the default version, not the first
    assert any("s3:*" in s.actions for s in policy.document.statements)
    roles = {r.name: r for r in listing.identities[IAM_ROLE]}
    app = roles["app"]
    assert app.arn == f"arn:aws:iam::{ACCOUNT}:role/svc/app"
    assert app.trust_policy == parse_policy(TRUST)
    assert app.inline_policies == {"read": parse_policy(DOC)}
    assert app.managed_policies == {ids["policy"]}
    assert app.permissions_boundary == ids["policy"]
    assert app.tags == {"team": "web"}
    assert roles["AWSServiceRoleForAutoScaling"].service_linked
    (user,) = listing.identities[IAM_USER]
    assert user.managed_policies == {ids["policy"]}
    (group,) = listing.identities[IAM_GROUP]
    assert group.inline_policies == {"read": parse_policy(DOC)}


def test_event_reads_give_the_same_state_as_the_sweep(iam: Any) -> None:
    ids = estate(iam)
    collector = IamCollector(lambda: iam)
    listing = collector.list_account([IAM_POLICY, IAM_ROLE, IAM_GROUP])
    # records name roles by name; the ARN built from it has no path
    role = collector.read(
        ResourceRef(IAM_ROLE, ACCOUNT, "global", f"arn:aws:iam::{ACCOUNT}:role/app", "app")
    )
    swept = next(r for r in listing.identities[IAM_ROLE] if r.name == "app")
    assert role == swept
    policy = collector.read(ResourceRef(IAM_POLICY, ACCOUNT, "global", ids["policy"]))
    assert policy == listing.policies[0]
    group = collector.read(ResourceRef(IAM_GROUP, ACCOUNT, "global", name="devs"))
    assert group == listing.identities[IAM_GROUP][0]


def test_deleted_resources_read_as_absent(iam: Any) -> None:
    collector = IamCollector(lambda: iam)
    for kind in (IAM_ROLE, IAM_USER, IAM_GROUP):
        assert collector.read(ResourceRef(kind, ACCOUNT, "global", name="gone")) is None
    gone = f"arn:aws:iam::{ACCOUNT}:policy/gone"
    assert collector.read(ResourceRef(IAM_POLICY, ACCOUNT, "global", gone)) is None


def test_access_denied_is_a_read_error_not_absence(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_role", service_error_code="AccessDenied", http_status_code=403)
    with stubber, pytest.raises(ReadError) as caught:
        IamCollector(lambda: iam).read(ResourceRef(IAM_ROLE, ACCOUNT, "global", name="x"))
    assert caught.value.code == "AccessDenied"
    assert "GetRole" in str(caught.value)


def test_sweep_follows_every_page(iam: Any) -> None:
    # moto's get_account_authorization_details ignores page sizes and returns one page,
    # so the Marker handling is checked against stubbed AWS responses.
    def role_detail(name: str) -> dict[str, Any]:
        return {
            "RoleName": name,
            "Path": "/",
            "RoleId": "AROAEXAMPLE000000001",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": quote(json.dumps(TRUST)),
            "RolePolicyList": [],
            "AttachedManagedPolicies": [],
        }

    stubber = Stubber(iam)
    wanted = {"Filter": ["Role"], "MaxItems": 1000}
    stubber.add_response(
        "get_account_authorization_details",
        {"RoleDetailList": [role_detail("a")], "IsTruncated": True, "Marker": "m1"},
        wanted,
    )
    stubber.add_response(
        "get_account_authorization_details",
        {"RoleDetailList": [role_detail("b")], "IsTruncated": False},
        {**wanted, "Marker": "m1"},
    )
    with stubber:
        listing = IamCollector(lambda: iam).list_account([IAM_ROLE])
    stubber.assert_no_pending_responses()
    names = [r.name for r in listing.identities[IAM_ROLE]]
    assert names == ["a", "b"]
    # the URL-encoded trust policy AWS sends is read by meaning
    assert listing.identities[IAM_ROLE][0].trust_policy == parse_policy(TRUST)


def test_sweep_access_denied_is_a_read_error(iam: Any) -> None:
    stubber = Stubber(iam)
    stubber.add_client_error("get_account_authorization_details", service_error_code="AccessDenied")
    with stubber, pytest.raises(ReadError):
        IamCollector(lambda: iam).list_account([IAM_USER])


def test_user_boundary_is_read() -> None:
    # moto does not implement user permission boundaries: a canned detail stands in.
    raw = {
        "UserName": "ci",
        "Path": "/",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": quote(json.dumps(DOC))}],
        "AttachedManagedPolicies": [],
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess",
        },
    }
    user = parse_identity_detail(IAM_USER, raw)
    assert user.permissions_boundary == "arn:aws:iam::aws:policy/PowerUserAccess"
    assert user.inline_policies == {"p": parse_policy(DOC)}
    assert user.trust_policy is None


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_lambda_policy_grants_every_iam_read(stage: str) -> None:
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    granted = {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    missing = sorted(permission for _, permission in READS if permission not in granted)
    assert not missing, f"policy-{stage}.json lacks {missing}"


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def test_user_groups_are_read_the_same_way_by_sweep_and_event(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AdministratorAccess
    iam.create_user(UserName="u1")
    iam.create_user(UserName="u2")
    for group in ("Admins", "devs"):
        iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName="Admins", PolicyArn=ADMIN)
    iam.add_user_to_group(UserName="u1", GroupName="Admins")
    iam.add_user_to_group(UserName="u1", GroupName="devs")
    collector = IamCollector(lambda: iam)
    # users only: groups are read in the same call, to know which grant admin
    listing = collector.list_account([IAM_USER])
    users = {u.name: u for u in listing.identities[IAM_USER]}
    assert users["u1"].groups == {"Admins", "devs"}
    assert users["u1"].admin_groups == {"Admins"}
    assert users["u2"].groups == frozenset()
    read = collector.read(ResourceRef(IAM_USER, ACCOUNT, "global", name="u1"))
    assert read == users["u1"]
    assert not listing.unreadable


def test_user_groups_come_from_the_group_list() -> None:
    raw = {
        "UserName": "ci",
        "Path": "/",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
        "GroupList": ["Admins", "devs"],
    }
    user = parse_identity_detail(IAM_USER, raw, admin_groups=["Admins", "other"])
    assert user.groups == {"Admins", "devs"} and user.admin_groups == {"Admins"}


def test_one_unreadable_document_leaves_the_rest_of_the_sweep(iam: Any) -> None:
    def role(name: str, trust: str) -> dict[str, Any]:
        return {
            "RoleName": name,
            "Path": "/ops/",
            "RoleId": "AROAEXAMPLE000000001",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/ops/{name}",
            "CreateDate": "2024-01-01T00:00:00Z",
            "AssumeRolePolicyDocument": trust,
            "RolePolicyList": [],
            "AttachedManagedPolicies": [],
        }

    bad_policy = {
        "PolicyName": "odd",
        "Arn": f"arn:aws:iam::{ACCOUNT}:policy/odd",
        "Path": "/",
        "DefaultVersionId": "v1",
        "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": True, "Document": quote('{"Statement": 5}')}
        ],
    }
    stubber = Stubber(iam)
    stubber.add_response(
        "get_account_authorization_details",
        {
            "RoleDetailList": [role("good", quote(json.dumps(TRUST))), role("bad", "not json")],
            "Policies": [bad_policy],
            "IsTruncated": False,
        },
    )
    with stubber:
        listing = IamCollector(lambda: iam).list_account([IAM_ROLE, IAM_POLICY])
    assert [r.name for r in listing.identities[IAM_ROLE]] == ["good"]
    assert listing.policies == []
    (bad,) = listing.unreadable_of(IAM_ROLE)
    assert bad.name == "bad" and bad.path == "/ops/" and bad.arn.endswith(":role/ops/bad")
    assert "trust policy" in bad.reason and "cannot read" in bad.reason
    (odd,) = listing.unreadable_of(IAM_POLICY)
    assert odd.name == "odd" and "Statement" in odd.reason


def test_the_event_path_follows_every_page_of_each_list_call() -> None:
    """A user whose inline policies, attached policies, groups and a group's policies
    each span two pages: what sits on the second page (AdministratorAccess, the Admins
    group) is still seen. moto ignores page sizes and always answers in one page, so the
    IsTruncated/Marker handling is checked against stubbed AWS responses."""
    iam = boto3.client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    created = "2024-01-01T00:00:00Z"
    stubber = Stubber(iam)

    def answer(method: str, response: dict[str, Any], **params: str) -> None:
        stubber.add_response(method, response, params)

    def pages(method: str, key: str, first: list[Any], second: list[Any], **params: str) -> None:
        answer(method, {key: first, "IsTruncated": True, "Marker": "m1"}, **params)
        answer(method, {key: second, "IsTruncated": False}, **params, Marker="m1")

    def group(name: str) -> dict[str, Any]:
        arn = f"arn:aws:iam::{ACCOUNT}:group/{name}"
        return {"Path": "/", "GroupName": name, "GroupId": "AGPAEXAMPLE000000001", "Arn": arn,
                "CreateDate": created}  # fmt: skip

    def attached(arn: str) -> list[dict[str, str]]:
        return [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn}]

    arn = f"arn:aws:iam::{ACCOUNT}:user/ci"
    user = {"Path": "/", "UserName": "ci", "UserId": "AIDAEXAMPLE000000001", "Arn": arn,
            "CreateDate": created}  # fmt: skip
    answer("get_user", {"User": user}, UserName="ci")
    pages("list_user_policies", "PolicyNames", ["read"], ["deploy"], UserName="ci")
    for name in ("read", "deploy"):
        inline = {"UserName": "ci", "PolicyName": name, "PolicyDocument": quote(json.dumps(DOC))}
        answer("get_user_policy", inline, UserName="ci", PolicyName=name)
    pages(
        "list_attached_user_policies",
        "AttachedPolicies",
        attached(read_only),
        attached(ADMIN),
        UserName="ci",
    )
    pages("list_groups_for_user", "Groups", [group("devs")], [group("Admins")], UserName="ci")
    answer(
        "list_attached_group_policies",
        {"AttachedPolicies": [], "IsTruncated": False},
        GroupName="devs",
    )
    pages(
        "list_attached_group_policies",
        "AttachedPolicies",
        attached(read_only),
        attached(ADMIN),
        GroupName="Admins",
    )
    with stubber:
        state = IamCollector(lambda: iam).read(ResourceRef(IAM_USER, ACCOUNT, "global", name="ci"))
    stubber.assert_no_pending_responses()
    assert isinstance(state, IamIdentityState) and state.kind is IAM_USER
    assert set(state.inline_policies) == {"read", "deploy"}
    assert state.managed_policies == {read_only, ADMIN}
    assert state.groups == {"devs", "Admins"}
    assert state.admin_groups == {"Admins"}  # its admin policy was on the second page
