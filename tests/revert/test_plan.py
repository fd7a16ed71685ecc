"""Planning is pure (finding and spec in, calls out); the executor classifies what AWS says."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.model import Rule, SecurityGroupSpec
from chalicelib.kinds.security_group.revert import REVERTS
from chalicelib.model import Change, Finding, SourceLocation, Status
from chalicelib.revert.executor import RevertExecutor
from chalicelib.revert.table import plan_steps

SSH = {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}


def _finding(*changes: Change) -> Finding:
    return Finding(
        SECURITY_GROUP, "sg-0abc", "web", "123456789012", "eu-west-1", Status.DRIFTED, changes
    )


def _spec(*ingress: Rule) -> SecurityGroupSpec:
    return SecurityGroupSpec(
        SourceLocation("web.yaml", 1), None, "web", None, None, None, None, frozenset(ingress), None
    )


def test_an_added_rule_is_one_revoke_of_exactly_that_rule() -> None:
    (step,) = plan_steps(_finding(Change("add", "ingress", None, SSH, "ssh")), _spec(), REVERTS)
    assert step.undo.operation == "RevokeSecurityGroupIngress"
    assert step.params == {
        "GroupId": "sg-0abc",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    }


def test_a_rule_the_spec_lists_is_never_revoked() -> None:
    listed = Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0")
    change = Change("add", "ingress", None, SSH, "ssh")
    (step,) = plan_steps(_finding(change), _spec(listed), REVERTS)
    assert step.params is None
    assert step.error == "not_revertible: the spec lists this rule: it is never revoked"


def test_a_missing_rule_and_a_tag_are_left_to_a_person() -> None:
    changes = (
        Change("remove", "ingress", SSH, None, "in spec, missing"),
        Change("add", "tags.team", None, "x", "tag"),
    )
    assert plan_steps(_finding(*changes), _spec(), REVERTS) == []


def test_a_peer_group_known_by_name_only_is_not_guessed() -> None:
    change = Change("add", "ingress", None, {"proto": "tcp", "ports": "5432", "group": "db"}, "db")
    (step,) = plan_steps(_finding(change), _spec(), REVERTS)
    assert step.params is None and "known by name only" in (step.error or "")


class _Clients:
    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str, region: str | None = None) -> Any:
        return self._client


def test_the_executor_says_denied_when_the_role_may_not() -> None:
    ec2 = boto3.client(
        "ec2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    (step,) = plan_steps(_finding(Change("add", "ingress", None, SSH, "ssh")), _spec(), REVERTS)
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "revoke_security_group_ingress", "UnauthorizedOperation", "You are not authorized"
        )
        error = RevertExecutor(_Clients(ec2)).run(step, "eu-west-1")
    assert error is not None and error.startswith("denied: ")
