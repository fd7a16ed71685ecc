"""Who may write specs: the spec bucket's policy lets only the publisher role write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.deploy.test_policy import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]


def _statements() -> dict[str, Any]:
    text = (ROOT / "infra" / "setpoint.yaml").read_text(encoding="utf-8")
    template = yaml.load(text, Loader=_CfnLoader)
    policy = template["Resources"]["SpecBucketPolicy"]["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_only_the_publisher_role_may_write_delete_or_share_specs() -> None:
    deny = _statements()["OnlyThePublisherWritesSpecs"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", "*")
    assert sorted(deny["Action"]) == ["s3:DeleteObject", "s3:PutObject", "s3:PutObjectAcl"]
    assert deny["Resource"] == {"Sub": "${SpecBucket.Arn}/policies/*"}
    publisher, nobody = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["If"][1:]
    assert publisher == {"Ref": "SpecPublisherRoleArn"}
    # no publisher configured: a role name that is never created, so everyone is denied
    assert nobody == {
        "Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/no-spec-publisher-set"
    }


def test_specs_are_read_and_written_over_tls_only() -> None:
    tls = _statements()["TlsOnly"]
    assert (tls["Effect"], tls["Action"]) == ("Deny", "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
