"""IAM comparison: what a reviewer reads when a role, user, group or policy drifts."""

from __future__ import annotations

from typing import Any

from chalicelib.compare.policy_document import parse_policy
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.compare import change_flags, evaluate_iam, group_changes
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamIdentityState,
    IamPolicySpec,
    IamPolicyState,
)
from chalicelib.model import ResourceRef, SourceLocation, Status

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DEPLOY = f"arn:aws:iam::{ACCOUNT}:policy/team/deploy"
SRC = SourceLocation("policies/iam/iam_role/app.yaml", 1)


def trust(*principals: dict[str, Any], condition: dict[str, Any] | None = None) -> Any:
    statements = [
        {"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"} for p in principals
    ]
    if condition:
        for s in statements:
            s["Condition"] = condition
    return parse_policy({"Version": "2012-10-17", "Statement": statements})


EC2_TRUST = trust({"Service": "ec2.amazonaws.com"})
READ_LOGS = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"}],
    }
)


def role(**changes: Any) -> IamIdentityState:
    base: dict[str, Any] = {
        "kind": IAM_ROLE,
        "arn": f"arn:aws:iam::{ACCOUNT}:role/app",
        "name": "app",
        "path": "/",
        "account": ACCOUNT,
        "trust_policy": EC2_TRUST,
        "inline_policies": {"logs": READ_LOGS},
        "managed_policies": frozenset({READ_ONLY, DEPLOY}),
        "permissions_boundary": DEPLOY,
        "tags": {"team": "web"},
    }
    base.update(changes)
    return IamIdentityState(**base)


def role_spec(**changes: Any) -> IamIdentitySpec:
    base: dict[str, Any] = {
        "kind": IAM_ROLE,
        "source": SRC,
        "name": "app",
        "account": None,
        "trust_policy": EC2_TRUST,
        "inline_policies": {"logs": READ_LOGS},
        "managed_policies": frozenset({READ_ONLY, "deploy"}),
        "permissions_boundary": "deploy",
    }
    base.update(changes)
    return IamIdentitySpec(**base)


def lines(finding: Any) -> list[str]:
    return [f"{c.op} {c.path}: {c.summary}" for c in finding.changes]


def test_role_matching_its_spec_is_in_sync_with_customer_policies_named_by_name() -> None:
    finding = evaluate_iam(role_spec(), role())
    assert finding.status is Status.IN_SYNC, lines(finding)
    assert finding.region == "global" and finding.id == f"arn:aws:iam::{ACCOUNT}:role/app"


def test_reshuffled_trust_policy_is_not_drift() -> None:
    respelled = parse_policy(
        '{"Statement": {"Action": ["STS:AssumeRole", "sts:assumerole"], "Effect": "Allow",'
        ' "Principal": {"Service": ["ec2.amazonaws.com"]}}, "Version": "2012-10-17"}'
    )
    assert evaluate_iam(role_spec(), role(trust_policy=respelled)).status is Status.IN_SYNC


def test_trusting_another_account_is_drift_flagged_cross_account() -> None:
    live = trust({"Service": "ec2.amazonaws.com"}, {"AWS": "210987654321"})
    finding = evaluate_iam(role_spec(), role(trust_policy=live))
    assert finding.status is Status.DRIFTED
    (change,) = finding.changes
    assert change.op == "add" and change.path == "trust_policy"
    assert "role trusts account 210987654321" in change.summary
    assert "cross-account" in change.summary
    assert not change.world_open


def test_trusting_everyone_is_world_open() -> None:
    live = trust({"Service": "ec2.amazonaws.com"}, {"AWS": "*"})
    (change,) = evaluate_iam(role_spec(), role(trust_policy=live)).changes
    assert change.world_open and "everyone" in change.summary


def test_attaching_administrator_access_says_so_and_flags_admin() -> None:
    live = role(managed_policies=frozenset({READ_ONLY, DEPLOY, ADMIN}))
    (change,) = evaluate_iam(role_spec(), live).changes
    assert change.op == "add" and change.actual == ADMIN
    assert change.summary.startswith("attaches AdministratorAccess")
    assert "admin" in change.summary and "not in spec" in change.summary


def test_detached_policy_and_bare_name_meant_as_aws_managed_get_a_hint() -> None:
    spec = role_spec(managed_policies=frozenset({"ReadOnlyAccess", "deploy"}))
    finding = evaluate_iam(spec, role())
    summaries = lines(finding)
    assert any(
        s.startswith("remove managed_policies") and "written as ARNs" in s and READ_ONLY in s
        for s in summaries
    ), summaries


def test_omitted_inline_policies_mean_none_so_a_new_one_is_drift() -> None:
    finding = evaluate_iam(role_spec(inline_policies={}), role())
    (change,) = finding.changes
    assert change.path == "inline_policies.logs" and change.op == "add"
    assert "inline policy logs (not in spec): Allow logs:GetLogEvents on *" in change.summary


def test_inline_policy_gaining_an_admin_statement_names_the_statement() -> None:
    wider = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
            ],
        }
    )
    (change,) = evaluate_iam(role_spec(), role(inline_policies={"logs": wider})).changes
    assert change.summary == "inline policy logs: Allow * on * (admin) — not in spec"


def test_removed_boundary_is_reported_as_uncapped() -> None:
    (change,) = evaluate_iam(role_spec(), role(permissions_boundary=None)).changes
    assert change.op == "remove" and change.path == "permissions_boundary"
    assert "no longer capped" in change.summary


def test_tags_compared_only_when_pinned() -> None:
    assert evaluate_iam(role_spec(tags=None), role(tags={"x": "y"})).status is Status.IN_SYNC
    finding = evaluate_iam(role_spec(tags={"team": "web"}), role(tags={"team": "ops"}))
    assert [c.path for c in finding.changes] == ["tags.team"]


def test_unmanaged_role_lists_what_it_grants() -> None:
    finding = evaluate_iam(None, role(managed_policies=frozenset({ADMIN})))
    assert finding.status is Status.UNMANAGED
    paths = {c.path for c in finding.changes}
    assert {"trust_policy", "inline_policies.logs", "managed_policies"} <= paths


def test_missing_role_names_its_spec() -> None:
    ref = ResourceRef(IAM_ROLE, ACCOUNT, "global", id="arn:aws:iam::1:role/app", name="app")
    finding = evaluate_iam(role_spec(), None, ref=ref)
    assert finding.status is Status.MISSING and finding.spec == str(SRC)
    assert finding.region == "global"


def test_group_has_no_boundary_or_trust_to_compare() -> None:
    group = IamIdentityState(
        kind=IAM_GROUP,
        arn=f"arn:aws:iam::{ACCOUNT}:group/devs",
        name="devs",
        path="/",
        account=ACCOUNT,
        managed_policies=frozenset({READ_ONLY}),
    )
    spec = IamIdentitySpec(
        kind=IAM_GROUP,
        source=SRC,
        name="devs",
        account=ACCOUNT,
        managed_policies=frozenset({READ_ONLY}),
    )
    assert evaluate_iam(spec, group).status is Status.IN_SYNC


def test_policy_document_change_is_per_statement_and_public_is_flagged() -> None:
    doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    )
    live_doc = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                },
            ],
        }
    )
    live = IamPolicyState(
        arn=f"arn:aws:iam::{ACCOUNT}:policy/p",
        name="p",
        path="/",
        account=ACCOUNT,
        document=live_doc,
        description="old",
    )
    spec = IamPolicySpec(source=SRC, name="p", account=None, document=doc, description="new")
    finding = evaluate_iam(spec, live)
    assert finding.kind is IAM_POLICY and finding.status is Status.DRIFTED
    by_path = {c.path: c for c in finding.changes}
    assert by_path["document"].summary.startswith(
        "Allow s3:GetObject on arn:aws:s3:::b/* to everyone (public)"
    )
    assert by_path["document"].world_open
    assert by_path["description"].op == "modify"


def user(**changes: Any) -> IamIdentityState:
    base: dict[str, Any] = {
        "kind": IAM_USER,
        "arn": f"arn:aws:iam::{ACCOUNT}:user/u1",
        "name": "u1",
        "path": "/",
        "account": ACCOUNT,
    }
    base.update(changes)
    return IamIdentityState(**base)


def user_spec(**changes: Any) -> IamIdentitySpec:
    base: dict[str, Any] = {"kind": IAM_USER, "source": SRC, "name": "u1", "account": None}
    base.update(changes)
    return IamIdentitySpec(**base)


def test_omitted_groups_mean_none_so_a_join_is_drift_and_says_admin() -> None:
    live = user(groups=frozenset({"Admins", "devs"}), admin_groups=frozenset({"Admins"}))
    finding = evaluate_iam(user_spec(), live)
    assert finding.status is Status.DRIFTED
    assert [c.summary for c in finding.changes] == [
        "joins group Admins (attaches AdministratorAccess: admin) — not in spec",
        "joins group devs — not in spec",
    ]
    assert evaluate_iam(user_spec(groups=frozenset({"Admins", "devs"})), live).changes == ()


def test_a_group_left_is_drift() -> None:
    (change,) = group_changes(frozenset({"devs"}), frozenset())
    assert change.op == "remove" and change.expected == "devs" and change.actual is None
    assert change.summary == "member of group devs — in spec, missing"


def test_roles_and_groups_have_no_memberships_to_compare() -> None:
    assert evaluate_iam(role_spec(), role()).status is Status.IN_SYNC


def test_missing_finding_id_comes_from_the_spec_path_and_the_ref_partition() -> None:
    spec = role_spec(path="/service-role/")
    ref = ResourceRef(
        IAM_ROLE, ACCOUNT, "global", id=f"arn:aws-cn:iam::{ACCOUNT}:role/app", name="app"
    )
    finding = evaluate_iam(spec, None, ref=ref)
    assert finding.status is Status.MISSING
    assert finding.id == f"arn:aws-cn:iam::{ACCOUNT}:role/service-role/app"


def test_change_flags_give_renderers_admin_as_data() -> None:
    live = role(managed_policies=frozenset({READ_ONLY, DEPLOY, ADMIN}))
    (attach,) = evaluate_iam(role_spec(), live).changes
    assert change_flags(attach) == {"admin"} and not attach.world_open
    (detach,) = evaluate_iam(
        role_spec(managed_policies=frozenset({READ_ONLY, DEPLOY})),
        role(managed_policies=frozenset({READ_ONLY})),
    ).changes
    assert change_flags(detach) == frozenset()
    other = trust({"Service": "ec2.amazonaws.com"}, {"AWS": "210987654321"})
    (trusts,) = evaluate_iam(role_spec(), role(trust_policy=other)).changes
    assert change_flags(trusts, ACCOUNT) == {"cross_account"}


def test_findings_carry_the_identity_tags_for_routing() -> None:
    drifted = evaluate_iam(role_spec(managed_policies=frozenset({READ_ONLY})), role())
    assert drifted.status is Status.DRIFTED and drifted.tags == (("team", "web"),)
    assert evaluate_iam(None, role(tags={})).tags == ()
