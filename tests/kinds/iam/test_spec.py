"""IAM specs: what a user may write, the errors they get, and what `import` writes back."""

from __future__ import annotations

import pytest

from chalicelib.compare.policy_document import parse_policy
from chalicelib.errors import SpecSetError
from chalicelib.kinds.iam import IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.kinds.iam.compare import evaluate_iam
from chalicelib.kinds.iam.model import (
    IamIdentitySpec,
    IamIdentityState,
    IamPolicySpec,
    IamPolicyState,
)
from chalicelib.kinds.iam.writer import render_iam_spec
from chalicelib.model import Status
from chalicelib.specs.loading import load_directory, load_documents
from chalicelib.specs.parse import parse_file

ACCOUNT = "123456789012"

ROLE = """\
kind: iam_role
name: app
account: "123456789012"
trust_policy:
  Version: 2012-10-17
  Statement:
    - Effect: Allow
      Principal: {Service: ec2.amazonaws.com}
      Action: sts:AssumeRole
inline_policies:
  logs:
    Version: "2012-10-17"
    Statement:
      Effect: Allow
      Action: [logs:GetLogEvents]
      Resource: "*"
      Condition:
        Bool: {aws:SecureTransport: true}
managed_policies:
  - arn:aws:iam::aws:policy/ReadOnlyAccess
  - deploy
permissions_boundary: deploy
"""


def errors_of(text: str) -> list[str]:
    parsed = parse_file("spec.yaml", text)
    return [str(e) for e in parsed.errors]


def test_role_spec_builds_with_unquoted_version_and_yaml_booleans() -> None:
    (spec,) = load_documents([("r.yaml", ROLE)]).specs_of("iam_role")
    assert isinstance(spec, IamIdentitySpec)
    assert spec.trust_policy is not None and spec.trust_policy.version == "2012-10-17"
    assert spec.managed_policies == {"arn:aws:iam::aws:policy/ReadOnlyAccess", "deploy"}
    assert spec.permissions_boundary == "deploy"
    assert spec.tags is None  # omitted: not compared
    logs = spec.inline_policies["logs"]
    assert logs == parse_policy(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        '"logs:getlogevents", "Resource": "*", "Condition": {"Bool": '
        '{"aws:SecureTransport": "true"}}}]}'
    )


def test_role_without_trust_policy_is_an_error_naming_the_field() -> None:
    text = "kind: iam_role\nname: app\n"
    assert errors_of(text) == ["spec.yaml:1: trust_policy: missing required field 'trust_policy'"]


def test_bad_policy_document_points_at_its_line() -> None:
    text = ROLE.replace("Effect: Allow\n      Action: [logs", "Effect: Maybe\n      Action: [logs")
    (error,) = errors_of(text)
    assert error.startswith("spec.yaml:11: inline_policies.logs: not a valid policy document")
    assert "Statement 1: Effect must be Allow or Deny, not 'Maybe'" in error


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("arn:aws:iam::123456789012:role/x", "write a policy ARN"),
        ("team/deploy", "write a policy ARN"),
    ],
)
def test_managed_policy_entries_are_checked(entry: str, message: str) -> None:
    text = ROLE.replace("  - deploy\n", f"  - {entry}\n")
    (error,) = errors_of(text)
    assert "managed_policies[1]" in error and message in error


def test_listing_a_policy_twice_is_an_error() -> None:
    text = ROLE.replace("  - deploy\n", "  - deploy\n  - deploy\n")
    (error,) = errors_of(text)
    assert "managed_policies[2]" in error and "listed twice (also on line 21)" in error


def test_unknown_field_and_groups_have_no_boundary() -> None:
    text = "kind: iam_group\nname: devs\npermissions_boundary: deploy\n"
    (error,) = errors_of(text)
    assert "unknown field 'permissions_boundary'" in error


def test_two_specs_for_one_role_conflict(tmp_path: object) -> None:
    other = ROLE.replace('account: "123456789012"\n', "")
    with pytest.raises(SpecSetError) as caught:
        load_documents([("a.yaml", ROLE), ("b.yaml", other)])
    assert "'app' is also specified in a.yaml:1" in str(caught.value)


def test_policy_spec_needs_a_document() -> None:
    (error,) = errors_of("kind: iam_policy\nname: deploy\n")
    assert "missing required field 'document'" in error


def _round_trip(state: IamPolicyState | IamIdentityState, tmp_path: object) -> Status:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "spec.yaml").write_text(render_iam_spec(state), encoding="utf-8")
    catalog = load_directory(folder)
    kind = IAM_POLICY if isinstance(state, IamPolicyState) else state.kind
    (spec,) = catalog.specs_of(kind.value)
    return evaluate_iam(spec, state).status


def test_written_role_spec_parses_back_in_sync(tmp_path: object) -> None:
    (spec,) = load_documents([("r.yaml", ROLE)]).specs_of("iam_role")
    deploy = f"arn:aws:iam::{ACCOUNT}:policy/team/deploy"
    state = IamIdentityState(
        kind=IAM_ROLE,
        arn=f"arn:aws:iam::{ACCOUNT}:role/app",
        name="app",
        path="/",
        account=ACCOUNT,
        inline_policies=dict(spec.inline_policies),
        managed_policies=frozenset({"arn:aws:iam::aws:policy/ReadOnlyAccess", deploy}),
        permissions_boundary=deploy,
        trust_policy=spec.trust_policy,
        tags={"team": "web", "aws:cloudformation:stack-name": "x"},
    )
    text = render_iam_spec(state)
    assert "  - deploy\n" in text and "permissions_boundary: deploy" in text
    assert "Statement:" in text and "{" not in text.split("trust_policy:")[1]  # YAML mapping
    assert "aws:cloudformation" not in text
    assert _round_trip(state, tmp_path) is Status.IN_SYNC


def test_written_policy_spec_parses_back_in_sync(tmp_path: object) -> None:
    document = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
                {
                    "Effect": "Deny",
                    "NotAction": "s3:*",
                    "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                    "Condition": {"NumericLessThan": {"s3:max-keys": 10}},
                },
            ],
        }
    )
    state = IamPolicyState(
        arn=f"arn:aws:iam::{ACCOUNT}:policy/p",
        name="p",
        path="/",
        account=ACCOUNT,
        document=document,
        description="reads",
    )
    assert _round_trip(state, tmp_path) is Status.IN_SYNC
    assert isinstance(
        load_documents([("p.yaml", render_iam_spec(state))]).specs_of("iam_policy")[0],
        IamPolicySpec,
    )


def test_import_pins_tags_even_when_there_are_none() -> None:
    user = IamIdentityState(
        kind=IAM_USER,
        arn=f"arn:aws:iam::{ACCOUNT}:user/ci",
        name="ci",
        path="/",
        account=ACCOUNT,
    )
    (spec,) = load_documents([("u.yaml", render_iam_spec(user))]).specs_of("iam_user")
    assert spec.tags == {}
    tagged = IamIdentityState(**{**user.__dict__, "tags": {"owner": "mallory"}})
    (change,) = evaluate_iam(spec, tagged).changes
    assert change.path == "tags.owner" and change.op == "add"


def test_user_groups_build_and_a_group_listed_twice_is_an_error() -> None:
    text = "kind: iam_user\nname: ci\ngroups: [devs, Admins]\n"
    (spec,) = load_documents([("u.yaml", text)]).specs_of("iam_user")
    assert isinstance(spec, IamIdentitySpec) and spec.groups == {"devs", "Admins"}
    (error,) = errors_of("kind: iam_user\nname: ci\ngroups:\n  - devs\n  - devs\n")
    assert "groups[1]" in error and "listed twice (also on line 4)" in error
    (error,) = errors_of("kind: iam_user\nname: ci\ngroups: [team/devs]\n")
    assert "groups[0]" in error


def test_only_users_have_groups() -> None:
    (error,) = errors_of("kind: iam_group\nname: devs\ngroups: [x]\n")
    assert "unknown field 'groups'" in error
    omitted = load_documents([("u.yaml", "kind: iam_user\nname: ci\n")]).specs_of("iam_user")
    assert omitted[0].groups == frozenset()  # omitted: member of no group


def test_written_user_spec_pins_groups(tmp_path: object) -> None:
    user = IamIdentityState(
        kind=IAM_USER,
        arn=f"arn:aws:iam::{ACCOUNT}:user/ci",
        name="ci",
        path="/",
        account=ACCOUNT,
        groups=frozenset({"devs", "Admins"}),
    )
    assert "groups:\n  - Admins\n  - devs\n" in render_iam_spec(user)
    assert _round_trip(user, tmp_path) is Status.IN_SYNC
    alone = IamIdentityState(**{**user.__dict__, "groups": frozenset()})
    assert "groups: []" in render_iam_spec(alone)
