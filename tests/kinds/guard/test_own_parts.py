"""Setpoint's own parts through the event path: real-shaped records in, what chat hears out.

moto holds Setpoint's function, role, spec bucket and bus; tests/chat_server.py is chat.
The settings are the deployed stack's (SETPOINT_SPECS, SETPOINT_SPEC_PUBLISHERS, ...).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from chalicelib.handlers import handle_cloudtrail_event, run_sweep
from chalicelib.runtime import Runtime
from tests.chat_server import ChatServer
from tests.events.helpers import load_sample
from tests.state.world import make_runtime, specs

REGION = "us-east-1"  # where the records below were made
FUNCTION = "setpoint-prod-OnEc2Change-7HJK2L9M4N1P"
ROLE = "setpoint-prod-DefaultRole-3XY5Z7A9B1C2"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"
BUCKET = "setpoint-specs-123456789012-prod"
PUBLISHER = "arn:aws:iam::123456789012:role/spec-publisher"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the deployed stack made: its role and one function, and the settings it gives."""
    monkeypatch.setenv("SETPOINT_SPECS", f"s3://{BUCKET}/policies/bundle.json")
    monkeypatch.setenv("SETPOINT_SPEC_PUBLISHERS", PUBLISHER)
    monkeypatch.setenv("SETPOINT_OWN_FUNCTIONS", "setpoint-prod-*")
    monkeypatch.setenv("SETPOINT_OWN_ROLES", "setpoint-prod-*")
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def on_ec2_change(event, context):\n    return {}\n")
    lambdas = boto3.client("lambda", region_name=REGION)
    lambdas.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="app.on_ec2_change",
        Code={"ZipFile": code.getvalue()},
    )
    return {"lambda": lambdas, "iam": iam, "role": role["Arn"]}


def _runtime(chat_server: ChatServer) -> Runtime:
    return make_runtime(chat_server.url, specs())


def _text(message: dict[str, Any]) -> str:
    return str(message.get("text", ""))


def test_putfunctionconcurrency_0_on_setpoints_function_is_a_critical_alert_naming_who(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = _runtime(chat_server)
    stack["lambda"].put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=0)
    record = load_sample("lambda", "PutFunctionConcurrency20171031__setpoint1")
    handle_cloudtrail_event(record, runtime)
    assert chat_server.alerts() == ["new:drifted"]
    (alert,) = chat_server.received
    assert alert["kind"] == "guard" and alert["id"] == FUNCTION_ARN
    assert _text(alert).startswith("Critical: ")
    assert "reserved concurrency 0" in _text(alert)
    assert "arn:aws:iam::123456789012:user/eve" in _text(alert)

    # someone does it again: told again, never deduplicated away
    again = {**record, "eventID": "again-1"}
    handle_cloudtrail_event(again, runtime)
    assert chat_server.alerts() == ["new:drifted", "new:drifted"]

    # the concurrency limit removed: back to normal
    stack["lambda"].delete_function_concurrency(FunctionName=FUNCTION)
    fixed = copy.deepcopy(record)
    fixed.update(eventName="DeleteFunctionConcurrency20171031", eventID="fixed-1")
    fixed["requestParameters"] = {"functionName": FUNCTION}
    handle_cloudtrail_event(fixed, runtime)
    assert chat_server.alerts()[-1] == "back_to_normal:in_sync"


def test_a_call_on_another_apps_function_says_nothing(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    record = load_sample("lambda", "PutFunctionConcurrency20171031__setpoint1")
    record["requestParameters"]["functionName"] = "billing-nightly"
    outcome = handle_cloudtrail_event(record, _runtime(chat_server))
    assert chat_server.received == [] and outcome.findings == []


def test_new_code_on_setpoints_function_outside_its_deploy_is_critical_until_a_deploy(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = _runtime(chat_server)
    record = load_sample("lambda", "UpdateFunctionCode20150331v2__setpoint1")
    handle_cloudtrail_event(record, runtime)
    (alert,) = chat_server.received
    assert _text(alert).startswith("Critical: ")
    assert f"{FUNCTION}: changes outside its deploy" in _text(alert)
    assert "assumed-role/ops/mallory" in _text(alert)
    assert "not by its stack's deploy" in _text(alert)

    # the stack's deploy (CloudFormation, as CloudTrail records it) writes the code again
    deploy = copy.deepcopy(record)
    deploy["eventID"] = "deploy-1"
    deploy["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"
    handle_cloudtrail_event(deploy, runtime)
    assert chat_server.alerts() == ["new:drifted", "back_to_normal:in_sync"]


def test_an_inline_policy_put_on_setpoints_role_is_critical_naming_who(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = _runtime(chat_server)
    stack["iam"].put_role_policy(
        RoleName=ROLE,
        PolicyName="deny-everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    handle_cloudtrail_event(load_sample("iam", "PutRolePolicy__setpoint1"), runtime)
    guard = [m for m in chat_server.received if m["kind"] == "guard"]
    assert len(guard) == 1
    assert _text(guard[0]).startswith("Critical: ")
    assert f"Setpoint's role {ROLE} was changed by arn:aws:iam::123456789012:user/eve" in _text(
        guard[0]
    )


def test_a_spec_put_by_a_non_publisher_is_a_critical_alert_naming_who(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = _runtime(chat_server)
    record = load_sample("s3", "PutObject__setpoint1")
    handle_cloudtrail_event(record, runtime)
    (alert,) = chat_server.received
    text = _text(alert)
    assert text.startswith("Critical: ")
    assert f"spec writes to s3://{BUCKET}/policies" in text
    assert "arn:aws:sts::123456789012:assumed-role/app-deployer/build-4412" in text
    assert "is not a spec publisher" in text
    assert "they are read like any others" in text
    assert f"s3://{BUCKET}/policies/bundle.json" in text

    # the publisher pushes again: back to normal
    publisher = copy.deepcopy(record)
    publisher["eventID"] = "push-2"
    publisher["userIdentity"]["arn"] = "arn:aws:sts::123456789012:assumed-role/spec-publisher/ci"
    publisher["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = PUBLISHER
    handle_cloudtrail_event(publisher, runtime)
    assert chat_server.alerts() == ["new:drifted", "back_to_normal:in_sync"]


def test_a_write_outside_the_spec_prefix_is_not_judged(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    record = load_sample("s3", "PutObject__setpoint1")
    record["requestParameters"]["key"] = "exports/report.csv"
    outcome = handle_cloudtrail_event(record, _runtime(chat_server))
    assert chat_server.received == [] and outcome.findings == []


def test_the_bus_opened_to_everyone_is_a_critical_alert(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    events = boto3.client("events", region_name=REGION)
    events.put_permission(Action="events:PutEvents", Principal="*", StatementId="anyone")
    handle_cloudtrail_event(
        load_sample("events", "PutPermission__setpoint1"), _runtime(chat_server)
    )
    (alert,) = chat_server.received
    assert alert["id"] == f"arn:aws:events:{REGION}:123456789012:event-bus/default"
    assert _text(alert).startswith("Critical: ")
    assert "lets anyone put events on Setpoint's bus" in _text(alert)
    assert "user/eve" in _text(alert)


def test_the_spec_bucket_policy_deleted_is_a_critical_alert(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    record = load_sample("lambda", "PutFunctionConcurrency20171031__setpoint1")
    record.update(eventSource="s3.amazonaws.com", eventName="DeleteBucketPolicy", eventID="d-1")
    record["requestParameters"] = {"bucketName": BUCKET}
    handle_cloudtrail_event(record, _runtime(chat_server))
    guard = [m for m in chat_server.received if m["kind"] == "guard"]
    (alert,) = guard
    assert alert["id"] == f"arn:aws:s3:::{BUCKET}"
    assert _text(alert).startswith("Critical: ")
    assert "the spec bucket has no policy" in _text(alert)
    assert "user/eve" in _text(alert)


def test_the_sweep_finds_setpoints_parts_off_without_any_event(
    stack: dict[str, Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.cli.main import main

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)  # never versioned, no policy, no public access block
    stack["lambda"].put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=0)
    boto3.client("events", region_name=REGION).put_permission(
        Action="events:PutEvents", Principal="210987654321", StatementId="stranger"
    )
    (tmp_path / "policies").mkdir()
    check = ["check", "--specs", str(tmp_path / "policies"), "--region", REGION, "--allow-no-specs"]
    assert main([*check, "--kinds", "guard", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    by_name = {f["name"]: f for f in report["findings"]}
    assert [c["path"] for c in by_name[FUNCTION]["changes"]] == ["reserved_concurrency"]
    # Setpoint's role, read too, is in sync (the report lists problems only)
    assert report["summary"]["in_sync"] == 1 and ROLE not in by_name
    assert [c["path"] for c in by_name[BUCKET]["changes"]] == [
        "policy",
        "versioning",
        "public_access_block",
    ]
    (stranger,) = by_name["default"]["changes"]
    assert stranger["actual"] == ["210987654321"]
    assert "not one of the watched accounts" in stranger["summary"]


def test_the_organizations_accounts_may_put_events_on_the_bus(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.kinds.guard.model import BusState
    from chalicelib.kinds.guard.own import own_from_env
    from chalicelib.kinds.guard.own_compare import evaluate_bus

    monkeypatch.setenv("SETPOINT_ORGANIZATION_ID", "o-abcdef1234")
    statement = {
        "Sid": "setpoint-prod-member-accounts",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:123456789012:event-bus/default",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}},
    }
    bus = BusState("arn:bus", "default", "123456789012", REGION, {"Statement": [statement]})
    assert evaluate_bus(bus, own_from_env()).changes == ()
    other = {**statement, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-zzzzzz9999"}}}
    changed = evaluate_bus(
        BusState("arn:bus", "default", "123456789012", REGION, {"Statement": [other]}),
        own_from_env(),
    )
    assert "lets organization o-zzzzzz9999 put events" in changed.changes[0].summary


def _make_function(stack: dict[str, Any]) -> None:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def on_ec2_change(event, context):\n    return {}\n")
    stack["lambda"].create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=stack["role"],
        Handler="app.on_ec2_change",
        Code={"ZipFile": code.getvalue()},
    )


def test_cloudformation_deleting_setpoints_function_is_a_deploy_not_an_alert(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    stack["lambda"].delete_function(FunctionName=FUNCTION)
    handle_cloudtrail_event(
        load_sample("lambda", "DeleteFunction20150331__setpoint1"), _runtime(chat_server)
    )
    assert chat_server.received == []


def test_a_function_deleted_by_hand_is_missing_until_the_sweep_sees_it_again(
    stack: dict[str, Any], chat_server: ChatServer
) -> None:
    runtime = _runtime(chat_server)
    stack["lambda"].delete_function(FunctionName=FUNCTION)
    record = load_sample("lambda", "DeleteFunction20150331__setpoint1")
    by_hand = load_sample("lambda", "PutFunctionConcurrency20171031__setpoint1")
    for key in ("userIdentity", "sourceIPAddress", "userAgent"):
        record[key] = by_hand[key]
    handle_cloudtrail_event(record, runtime)
    assert chat_server.alerts() == ["new:missing"]
    assert _text(chat_server.received[0]).startswith("Critical: ")
    assert "user/eve" in _text(chat_server.received[0])
    _make_function(stack)  # the stack is deployed again
    runtime.regions = [REGION]
    run_sweep(runtime)
    back = [m for m in chat_server.received[1:] if m["id"] == FUNCTION_ARN]
    assert [m["status"] for m in back] == ["in_sync"]
    assert "Back to normal" in _text(back[0])
