"""Who counts as a configured IaC principal, for an event's actor and for a remembered ARN."""

from __future__ import annotations

from chalicelib.iac_principals import IacPrincipals, session_role
from chalicelib.model import Actor

TERRAFORM = IacPrincipals(("arn:aws:iam::*:role/terraform-*",))
SESSION = "arn:aws:sts::123456789012:assumed-role/terraform-ci/apply-42"


def test_an_events_actor_is_a_deployer_by_its_session_issuer() -> None:
    actor = Actor(
        SESSION, "E", None, None, session_issuer="arn:aws:iam::123456789012:role/terraform-ci"
    )
    assert TERRAFORM.deployed_by(actor)
    assert not TERRAFORM.deployed_by(Actor(SESSION, "E", None, None))  # a session name alone
    assert not TERRAFORM.deployed_by(None)


def test_a_remembered_session_arn_counts_by_the_role_it_is_a_session_of() -> None:
    assert TERRAFORM.deployed_by_arn(SESSION)
    assert TERRAFORM.deployed_by_arn("arn:aws:iam::123456789012:role/terraform-ci")
    assert not TERRAFORM.deployed_by_arn("arn:aws:iam::123456789012:user/terraform-ci")
    assert not TERRAFORM.deployed_by_arn("arn:aws:sts::123456789012:assumed-role/ops/terraform-x")


def test_session_role_reads_only_assumed_role_arns() -> None:
    assert session_role(SESSION) == "arn:aws:iam::123456789012:role/terraform-ci"
    gov = "arn:aws-us-gov:sts::123456789012:assumed-role/deploy/s"
    assert session_role(gov) == "arn:aws-us-gov:iam::123456789012:role/deploy"
    assert session_role("arn:aws:iam::123456789012:user/alice") is None
    assert session_role("arn:aws:sts::123456789012:federated-user/bob") is None
    assert session_role("arn:aws:sts::123456789012:assumed-role/") is None
    assert session_role("not an arn") is None
