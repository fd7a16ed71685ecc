"""Parsing: the three wrappings are accepted, typed accessors hold, bad input says what is wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chalice import Chalice
from chalice.test import Client

from chalicelib.errors import EventError
from chalicelib.events.record import CloudTrailRecord, parse_payload
from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from tests.events.helpers import load_fixture, load_sample


def minimal(**fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventName": "AuthorizeSecurityGroupIngress",
        "eventSource": "ec2.amazonaws.com",
        "awsRegion": "eu-west-1",
        "eventID": "e-1",
        "recipientAccountId": "111122223333",
        "requestParameters": {"groupId": "sg-0a1b2c3d4e5f60718"},
    }
    record.update(fields)
    return {key: value for key, value in record.items() if value is not ...}


def test_typed_accessors_on_a_real_record() -> None:
    [record] = parse_payload(load_sample("ec2", "AuthorizeSecurityGroupEgress__setpoint1"))

    assert record.event_name == "AuthorizeSecurityGroupEgress"
    assert record.event_source == "ec2.amazonaws.com"
    assert record.event_id == "9b3d5f71-6c2a-4e8b-8d1f-3a4b5c6d7e82"
    assert record.event_time == "2026-11-30T03:15:09Z"
    assert record.aws_region == "us-east-1"
    assert record.account == "123456789012"
    assert record.error_code is None
    assert record.read_only is False
    assert record.request_parameters["groupId"] == "sg-0b2c3d4e5f6071829"
    assert record.response_elements["_return"] is True
    assert record.user_identity["type"] == "AssumedRole"
    assert record.user_agent is not None and record.user_agent.startswith("aws-cli/2.22.4")
    assert record.source_ip == "192.0.2.44"


def test_record_is_a_snapshot_the_caller_cannot_change() -> None:
    raw = minimal()
    [record] = parse_payload(raw)

    raw["eventName"] = "DeleteSecurityGroup"
    assert record.event_name == "AuthorizeSecurityGroupIngress"
    with pytest.raises(TypeError):
        record.raw["eventName"] = "x"  # type: ignore[index]


def test_missing_parts_read_as_empty_not_as_errors() -> None:
    [record] = parse_payload({"eventName": "CreateTags", "responseElements": None})

    assert record.request_parameters == {}
    assert record.response_elements == {}
    assert record.user_identity == {}
    assert record.event_source is None
    assert record.aws_region is None
    assert record.account is None


@pytest.mark.parametrize(
    ("fields", "account"),
    [
        ({}, "111122223333"),
        (
            {"recipientAccountId": ..., "userIdentity": {"accountId": "444455556666"}},
            "444455556666",
        ),
        # Panther lower-cases userIdentity keys
        (
            {"recipientAccountId": ..., "userIdentity": {"accountid": "444455556666"}},
            "444455556666",
        ),
        ({"recipientAccountId": ..., "userIdentity": {}}, None),
        # exporters that write the id as a number drop its leading zeros: put them back
        ({"recipientAccountId": 12345678901}, "012345678901"),
        # an anonymous caller's accountId is not an account to address
        ({"recipientAccountId": ..., "userIdentity": {"accountId": "anonymous"}}, None),
    ],
)
def test_account_prefers_recipient_then_caller(fields: dict[str, Any], account: str | None) -> None:
    [record] = parse_payload(minimal(**fields))

    assert record.account == account


def test_account_falls_back_to_the_envelope() -> None:
    envelope = {"account": "777788889999", "region": "ap-south-1", "detail": minimal()}
    del envelope["detail"]["recipientAccountId"]  # type: ignore[attr-defined]
    del envelope["detail"]["awsRegion"]  # type: ignore[attr-defined]

    [record] = parse_payload(envelope)

    assert record.account == "777788889999"
    assert record.aws_region == "ap-south-1"


@pytest.mark.parametrize(("code", "expected"), [("", None), (None, None), ("Client.X", "Client.X")])
def test_empty_error_code_is_no_error(code: str | None, expected: str | None) -> None:
    [record] = parse_payload(minimal(errorCode=code))

    assert record.error_code == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(..., False), (True, True), (False, False), ("true", True), ("false", False), ("TRUE", True)],
)
def test_read_only_accepts_bools_and_strings(value: Any, expected: bool) -> None:
    [record] = parse_payload(minimal(readOnly=value))

    assert record.read_only is expected


def test_chalice_eventbridge_envelope_with_integer_version() -> None:
    """What `chalice.test.Client` hands a handler: "version": 0 as an int."""
    with Client(Chalice(app_name="events-test")) as client:
        envelope = client.events.generate_cw_event(
            source="aws.ec2",
            detail_type="AWS API Call via CloudTrail",
            detail=minimal(),
            resources=[],
            region="eu-west-1",
        )
    assert envelope["version"] == 0

    [result] = route_payload(envelope)

    assert isinstance(result, Routed)
    assert [ref.id for ref in result.refs] == ["sg-0a1b2c3d4e5f60718"]


def test_eventbridge_envelope_fixture_unwraps_detail() -> None:
    [record] = parse_payload(load_fixture("EventBridge__AuthorizeSecurityGroupIngress"))

    assert record.event_id == "0b1e9c2a-0012-4a5b-8c7d-000000000012"
    assert record.aws_region == "us-east-1"


def test_log_file_yields_every_record_in_order() -> None:
    log = {
        "Records": [
            load_fixture("RevokeSecurityGroupIngress__ip_permissions"),
            load_fixture("DescribeSecurityGroups__read_only"),
        ]
    }

    results = route_payload(log)

    assert [type(result) for result in results] == [Routed, Skipped]
    assert isinstance(results[1], Skipped) and results[1].reason is SkipReason.READ_ONLY
    assert route_payload({"Records": []}) == []


def test_record_can_be_built_directly_and_is_checked() -> None:
    assert CloudTrailRecord(minimal()).event_name == "AuthorizeSecurityGroupIngress"
    with pytest.raises(EventError, match="requestParameters"):
        CloudTrailRecord(minimal(requestParameters="sg-0a1b2c3d4e5f60718"))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "got a null"),
        ([minimal()], "got an array"),
        ("AuthorizeSecurityGroupIngress", "got a string"),
        ({"detail": "junk"}, "detail must be an object"),
        ({"eventName": 5}, "eventName must be a non-empty string, got a number"),
        ({"eventName": ""}, "eventName must be a non-empty string"),
        (minimal(requestParameters=[]), "requestParameters must be an object or null"),
        (minimal(responseElements="ok"), "responseElements must be an object or null"),
        (minimal(userIdentity="root"), "userIdentity must be an object"),
        (minimal(awsRegion=5), "awsRegion must be a string"),
        (minimal(errorCode=403), "errorCode must be a string"),
        (minimal(recipientAccountId=True), "recipientAccountId must be a string"),
        (
            minimal(recipientAccountId="not-an-account"),
            "recipientAccountId must be a 12-digit account id, got 'not-an-account'",
        ),
        (minimal(recipientAccountId="1111222233334"), "must be a 12-digit account id"),
        (
            {"detail": minimal(), "account": "acct-1"},
            "account must be a 12-digit account id, got 'acct-1'",
        ),
        (minimal(readOnly="maybe"), "event e-1: readOnly must be"),
        ({"foo": 1}, "expected eventName (a record), detail"),
        (
            {"detail": {"state": "running"}, "detail-type": "EC2 Instance State-change"},
            "detail.eventName",
        ),
        ({"detail": minimal(), "account": ["1"]}, "account must be a string"),
        ({"Records": "x"}, "Records must be an array"),
        ({"Records": [minimal(), 3]}, "Records[1]: a CloudTrail record must be a JSON object"),
        ({"Records": [minimal(), {"eventName": None}]}, "Records[1]: eventName"),
    ],
)
def test_malformed_payload_raises_event_error_naming_the_problem(
    payload: Any, message: str
) -> None:
    with pytest.raises(EventError, match=re.escape(message)):
        route_payload(payload)
