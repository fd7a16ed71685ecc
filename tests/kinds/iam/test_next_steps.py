"""IAM changes each say the `aws iam` command that reverts them and the spec edit that
accepts them. IAM is global: no --region."""

from __future__ import annotations

import json
import shlex
from typing import Any

from chalicelib.compare.policy_document import parse_policy
from chalicelib.kinds.iam import IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.compare import evaluate_iam
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamIdentityState,
    IamPolicySpec,
    IamPolicyState,
)
from chalicelib.model import Change, SourceLocation

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SRC = SourceLocation("policies/iam/app.yaml", 1)
EC2_TRUST = parse_policy(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
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
        "managed_policies": frozenset({READ_ONLY}),
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
        "managed_policies": frozenset({READ_ONLY}),
    }
    base.update(changes)
    return IamIdentitySpec(**base)


def only(spec: Any, live: Any) -> Change:
    (change,) = evaluate_iam(spec, live).changes
    return change


def test_administrator_access_attached_by_hand_is_detached():
    change = only(role_spec(), role(managed_policies=frozenset({READ_ONLY, ADMIN})))
    assert change.revert == (
        "aws iam detach-role-policy --role-name app "
        "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert change.accept == "add to managed_policies: arn:aws:iam::aws:policy/AdministratorAccess"


def test_a_detached_policy_is_attached_again_on_a_user():
    spec = role_spec(kind=IAM_USER, trust_policy=None)
    live = role(
        kind=IAM_USER,
        arn=f"arn:aws:iam::{ACCOUNT}:user/app",
        trust_policy=None,
        managed_policies=frozenset(),
    )
    change = only(spec, live)
    assert change.revert == (
        "aws iam attach-user-policy --user-name app "
        "--policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess"
    )
    assert change.accept == "remove from managed_policies: arn:aws:iam::aws:policy/ReadOnlyAccess"


def test_an_inline_statement_added_puts_the_specs_whole_document_back():
    wider = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "logs:GetLogEvents", "Resource": "*"},
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            ],
        }
    )
    change = only(role_spec(), role(inline_policies={"logs": wider}))
    words = shlex.split(change.revert or "")
    assert words[:7] == [
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        "app",
        "--policy-name",
        "logs",
    ]
    assert words[7] == "--policy-document"
    assert parse_policy(words[8]) == READ_LOGS
    assert change.accept == (
        "add to inline_policies.logs.Statement: {Effect: Allow, Action: 's3:*', Resource: '*'}"
    )


def test_an_inline_policy_the_spec_does_not_have_is_deleted():
    change = only(role_spec(inline_policies={}), role())
    assert change.revert == "aws iam delete-role-policy --role-name app --policy-name logs"


def test_a_trust_policy_widened_by_hand_is_updated_back():
    other = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "210987654321"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    finding = evaluate_iam(role_spec(), role(trust_policy=other))
    change = next(c for c in finding.changes if c.op == "add")
    words = shlex.split(change.revert or "")
    assert words[:5] == ["aws", "iam", "update-assume-role-policy", "--role-name", "app"]
    assert json.loads(words[-1]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_a_managed_policy_document_gets_a_new_default_version():
    arn = f"arn:aws:iam::{ACCOUNT}:policy/deploy"
    live = IamPolicyState(
        arn=arn,
        name="deploy",
        path="/",
        account=ACCOUNT,
        document=parse_policy(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    spec = IamPolicySpec(source=SRC, name="deploy", account=None, document=READ_LOGS)
    finding = evaluate_iam(spec, live)
    assert finding.kind is IAM_POLICY
    change = next(c for c in finding.changes if c.op == "add")
    words = shlex.split(change.revert or "")
    assert words[:5] == ["aws", "iam", "create-policy-version", "--policy-arn", arn]
    assert words[-1] == "--set-as-default"
    assert parse_policy(words[6]) == READ_LOGS


def test_an_unmanaged_admin_role_is_told_to_detach_and_to_write_a_spec():
    finding = evaluate_iam(None, role(managed_policies=frozenset({ADMIN}), inline_policies={}))
    admin = next(c for c in finding.changes if c.path == "managed_policies")
    assert admin.revert == (
        "aws iam detach-role-policy --role-name app "
        "--policy-arn arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert admin.accept == f"write a spec: setpoint import --only arn:aws:iam::{ACCOUNT}:role/app"
    trust = next(c for c in finding.changes if c.path == "trust_policy")
    assert (trust.revert, trust.accept) == (None, None)
