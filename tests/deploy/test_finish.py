"""The packaged roles pinned to the stack: `${AWS::...}` as Fn::Sub, kms:Verify behind Fn::If.

Without packaging (tests/deploy/test_package.py runs `chalice package` itself): a role as
Chalice writes it, with the committed policy, inside the merge template's parameters and
conditions.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.deploy.finish import finish, pin_role_policies
from chalicelib.deploy.policy import render
from tests.deploy.test_policy import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]


def packaged_like(policy: dict[str, Any]) -> dict[str, Any]:
    merge = yaml.load((ROOT / "infra" / "setpoint.yaml").read_text(), Loader=_CfnLoader)
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
            "Policies": [{"PolicyName": "DefaultRolePolicy", "PolicyDocument": policy}],
        },
    }
    return {
        "Parameters": merge["Parameters"],
        "Conditions": merge["Conditions"],
        "Resources": {"DefaultRole": role},
    }


def plain_strings(value: Any) -> list[str]:
    """Strings outside any Fn::Sub."""
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "Fn::Sub" for s in plain_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in plain_strings(v)]
    return [value] if isinstance(value, str) else []


def statements_of(template: dict[str, Any]) -> list[Any]:
    role = template["Resources"]["DefaultRole"]["Properties"]
    statements: list[Any] = role["Policies"][0]["PolicyDocument"]["Statement"]
    return statements


def test_every_pinned_string_becomes_fn_sub_and_the_verify_grant_needs_a_key() -> None:
    policy = json.loads(render("prod"))
    template = packaged_like(copy.deepcopy(policy))

    assert pin_role_policies(template) == ["DefaultRole"]

    statements = statements_of(template)
    assert not [s for s in plain_strings(statements) if "${" in s]  # IAM would read it literally
    guarded = {s["Fn::If"][0]: s["Fn::If"] for s in statements if "Fn::If" in s}
    assert set(guarded) == {
        "HasVerifyKey",
        "HasAccountIds",
        "NoAccountIds",
        "HasNotifierTopics",
        "HasTerraformStateBucket",
        "HasActorLakeEventDataStore",
    }
    _, verify, otherwise = guarded["HasVerifyKey"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert verify["Action"] == ["kms:DescribeKey", "kms:Verify"]
    assert verify["Resource"] == {"Fn::Sub": "${SpecVerifyKey}"}
    by_sid = {s["Sid"]: s for s in statements if "Sid" in s}
    assert by_sid["AlertState"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}"
        ":table/setpoint-state-prod"
    }
    assert by_sid["ReadSpecObjects"]["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}
    }
    # reads on "*" and everything without a substitution are left as they were
    assert by_sid["ReadEc2"] == {s["Sid"]: s for s in policy["Statement"]}["ReadEc2"]
    assert len(statements) == len(policy["Statement"])


def test_the_member_role_follows_the_role_name_and_accounts_parameters() -> None:
    template = packaged_like(json.loads(render("prod")))
    pin_role_policies(template)
    guarded = {s["Fn::If"][0]: s["Fn::If"] for s in statements_of(template) if "Fn::If" in s}
    role = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${RoleName}"}
    _, listed, _ = guarded["HasAccountIds"]
    assert listed["Resource"] == role
    # the comma-separated parameter as the list IAM compares with
    assert listed["Condition"] == {
        "StringEquals": {"aws:ResourceAccount": {"Fn::Split": [",", {"Ref": "Accounts"}]}}
    }
    _, organization, _ = guarded["NoAccountIds"]
    assert organization["Resource"] == role
    assert organization["Condition"] == {
        "StringEquals": {"aws:ResourceOrgID": {"Fn::Sub": "${OrganizationId}"}}
    }


def test_sns_topics_given_on_deploy_are_the_only_ones_published_to() -> None:
    template = packaged_like(json.loads(render("prod")))
    pin_role_policies(template)
    guarded = {s["Fn::If"][0]: s["Fn::If"] for s in statements_of(template) if "Fn::If" in s}
    _, publish, otherwise = guarded["HasNotifierTopics"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert publish["Action"] == ["sns:Publish"]
    assert publish["Resource"] == {"Fn::Split": [",", {"Ref": "NotifierTopicArns"}]}


def test_pinning_twice_changes_nothing_more() -> None:
    template = packaged_like(json.loads(render("prod")))
    pin_role_policies(template)
    once = copy.deepcopy(template)
    assert pin_role_policies(template) == []
    assert template == once


def test_a_template_without_the_verify_key_condition_grants_no_kms_verify() -> None:
    template = packaged_like(json.loads(render("prod")))
    del template["Conditions"]["HasVerifyKey"]
    pin_role_policies(template)
    assert "kms:Verify" not in json.dumps(statements_of(template))


def test_a_substitution_that_names_nothing_in_the_template_is_an_error() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Typo",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],
                "Resource": "arn:aws:sqs:${AWS::Regoin}:${AWS::AccountId}:setpoint-sweep",
            }
        ],
    }
    with pytest.raises(ValueError, match=r"DefaultRole.*Typo.*AWS::Regoin"):
        pin_role_policies(packaged_like(policy))


def test_finish_writes_the_pinned_roles(tmp_path: Path) -> None:
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(packaged_like(json.loads(render("dev")))))
    finish(path)
    assert not [s for s in plain_strings(statements_of(json.loads(path.read_text()))) if "${" in s]


def test_the_lake_store_is_queried_only_when_named_and_only_that_store() -> None:
    template = packaged_like(json.loads(render("prod")))
    pin_role_policies(template)
    guarded = {s["Fn::If"][0]: s["Fn::If"] for s in statements_of(template) if "Fn::If" in s}
    _, query, otherwise = guarded["HasActorLakeEventDataStore"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert query["Action"] == ["cloudtrail:GetQueryResults", "cloudtrail:StartQuery"]
    assert query["Resource"] == {"Fn::Sub": "${ActorLakeEventDataStore}"}


def test_the_terraform_state_bucket_is_read_only_and_only_when_named() -> None:
    template = packaged_like(json.loads(render("prod")))
    pin_role_policies(template)
    guarded = {s["Fn::If"][0]: s["Fn::If"] for s in statements_of(template) if "Fn::If" in s}
    _, read, otherwise = guarded["HasTerraformStateBucket"]
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert read["Action"] == [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    ]
    assert read["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TerraformStateBucket}"},
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TerraformStateBucket}/*"},
    ]
