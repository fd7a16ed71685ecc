"""Who may assume the member accounts' read-only role: the Lambda roles, and one more
principal when `TrustedPrincipalArn` names it (the CI role that runs `setpoint check`).

The trust policy is resolved as CloudFormation would for given parameters (Ref, Sub, If,
Equals, Not), so the tests read the policy IAM would get, not the template's shape.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.deploy.test_policy import member_template

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CENTRAL = "111122223333"
MEMBER = "444455556666"
CI_ROLE = "arn:aws:iam::777788889999:role/ci-setpoint-watchdog"
NO_VALUE = object()


class Stack:
    """The member template's parameters and conditions for one stack instance."""

    def __init__(self, template: dict[str, Any], **given: str) -> None:
        self.template = template
        self.values = {
            "AWS::Partition": "aws",
            "AWS::AccountId": MEMBER,
            "AWS::Region": "us-east-1",
        }
        for name, parameter in template["Parameters"].items():
            self.values[name] = given.get(name, parameter.get("Default", ""))
        self.conditions = {
            name: bool(self.resolve(rule)) for name, rule in template["Conditions"].items()
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return NO_VALUE if value["Ref"] == "AWS::NoValue" else self.values[value["Ref"]]
        if set(value) == {"Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self.values[m.group(1)], value["Sub"])
        if set(value) == {"If"}:
            condition, then, otherwise = value["If"]
            return self.resolve(then if self.conditions[condition] else otherwise)
        if set(value) == {"Equals"}:
            left, right = (self.resolve(v) for v in value["Equals"])
            return left == right
        if set(value) == {"Not"}:
            (inner,) = value["Not"]
            return not self.resolve(inner)
        return {k: r for k, v in value.items() if (r := self.resolve(v)) is not NO_VALUE}


def trust(**given: str) -> list[dict[str, Any]]:
    stack = Stack(member_template(), CentralAccountId=CENTRAL, ExternalId="ext-0123456789", **given)
    role = stack.template["Resources"]["ReadOnlyRole"]["Properties"]
    document = stack.resolve(role["AssumeRolePolicyDocument"])
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def principals(statements: list[dict[str, Any]]) -> list[str]:
    return [s["Principal"]["AWS"] for s in statements]


def test_by_default_only_the_central_accounts_setpoint_roles_are_trusted() -> None:
    (statement,) = trust()
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{CENTRAL}:root"}
    assert statement["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": f"arn:aws:iam::{CENTRAL}:role/setpoint-*"
    }
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "ext-0123456789"}


def test_a_trusted_principal_may_assume_the_role_with_the_external_id() -> None:
    """The CI job's `setpoint check --accounts MEMBER --external-id ...` is let in."""
    statements = trust(TrustedPrincipalArn=CI_ROLE)
    assert principals(statements) == [f"arn:aws:iam::{CENTRAL}:root", CI_ROLE]
    ci = statements[1]
    assert ci["Action"] == "sts:AssumeRole" and ci["Effect"] == "Allow"
    # the confused-deputy guard holds for it too
    assert ci["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-0123456789"}}


def test_the_trusted_principal_must_be_a_role_or_user_arn() -> None:
    pattern = re.compile(member_template()["Parameters"]["TrustedPrincipalArn"]["AllowedPattern"])
    assert pattern.match(CI_ROLE) and pattern.match("")
    assert pattern.match("arn:aws:iam::777788889999:user/alice")
    for wrong in ("*", "777788889999", "arn:aws:iam::777788889999:root", "ci-setpoint-watchdog"):
        assert not pattern.match(wrong), wrong


def test_the_member_template_is_cfn_lint_clean() -> None:
    done = subprocess.run(
        [str(BIN / "cfn-lint"), str(ROOT / "infra" / "member-account.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
