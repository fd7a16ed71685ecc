"""Deployed: the event function hands the revert to on_revert, which reverts and alerts."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

import app as lambda_app
from chalicelib.deploy.policy import stage_environment
from chalicelib.revert.hand_off import LambdaHandOff
from tests.conftest import REGION, authorize_record
from tests.test_app import _envelope, deployed, sleeps  # noqa: F401 (fixtures)

FUNCTION = "setpoint-dev-on_revert"


def _opt_in() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    body = s3.get_object(Bucket="setpoint-specs-dev", Key="policies/web.yaml")["Body"].read()
    s3.put_object(
        Bucket="setpoint-specs-dev", Key="policies/web.yaml", Body=body + b"on_drift: revert\n"
    )


def _ports(group_id: str) -> set[int]:
    ec2 = boto3.client("ec2", region_name=REGION)
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return {perm["FromPort"] for perm in group["IpPermissions"]}


def test_the_event_function_hands_off_and_on_revert_reverts_and_alerts(
    deployed: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, ids, received = deployed
    _opt_in()
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=ids["web"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    for name, value in stage_environment("dev").items():  # as the Lambda's environment
        monkeypatch.setenv(name, value)
    runtime = lambda_app.get_runtime()
    assert runtime.reverter is not None and runtime.reverter.executor is not None
    lam = boto3.client("lambda", region_name=REGION)
    sent: list[dict[str, Any]] = []
    with Stubber(lam) as stub:
        expected = {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": ANY}
        stub.add_response("invoke", {"StatusCode": 202}, expected)
        original = lam.invoke

        def keep(**kwargs: Any) -> Any:
            sent.append(json.loads(kwargs["Payload"]))
            return original(**kwargs)

        monkeypatch.setattr(lam, "invoke", keep)
        runtime.reverter.hand_off = LambdaHandOff(lam, FUNCTION)
        event = _envelope(client, authorize_record(ids["web"]))
        result = client.lambda_.invoke("on_ec2_change", event)
    # the event function alerts on nothing it handed off, and reverts nothing itself
    assert result.payload["handed_off"] == 1 and received == []
    assert 22 in _ports(ids["web"])
    (request,) = sent
    result = client.lambda_.invoke("on_revert", request)
    assert _ports(ids["web"]) == {443}
    drift, back = (json.dumps(body) for body in received)
    assert "Reverted: revoke ingress tcp/22 from 0.0.0.0/0" in drift
    assert "arn:aws:iam::123456789012:user/alice" in drift
    assert "Back to normal" in back


def test_the_revert_function_refuses_a_payload_that_is_not_a_revert_request(
    deployed: Any,  # noqa: F811
) -> None:
    client, _, received = deployed
    result = client.lambda_.invoke("on_revert", {"refs": []})
    assert result.payload["errors"] == [
        "malformed_event: not a revert request (setpoint_revert: 1 is missing)"
    ]
    assert received == []
