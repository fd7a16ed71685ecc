"""Routing decisions: what gets compared, and the reason a user sees for what does not."""

from __future__ import annotations

from typing import Any

from chalicelib.events.record import CloudTrailRecord, parse_payload
from chalicelib.events.route import Routed, Skipped, SkipReason, route
from tests.events.helpers import load_fixture


def record(**fields: Any) -> CloudTrailRecord:
    raw: dict[str, Any] = {
        "eventName": "AuthorizeSecurityGroupIngress",
        "eventSource": "ec2.amazonaws.com",
        "awsRegion": "eu-west-1",
        "eventID": "e-1",
        "recipientAccountId": "111122223333",
        "requestParameters": {"groupId": "sg-0a1b2c3d4e5f60718"},
    }
    raw.update(fields)
    [parsed] = parse_payload(raw)
    return parsed


def test_change_is_routed_with_its_actor() -> None:
    result = route(record(userIdentity={"arn": "arn:aws:iam::111122223333:user/bob"}))

    assert isinstance(result, Routed)
    assert [ref.id for ref in result.refs] == ["sg-0a1b2c3d4e5f60718"]
    assert result.actor.arn == "arn:aws:iam::111122223333:user/bob"
    assert result.actor.event_id == "e-1"


def test_empty_error_code_is_a_successful_call() -> None:
    assert isinstance(route(record(errorCode="")), Routed)


def test_failed_call_is_skipped_with_its_code() -> None:
    result = route(record(errorCode="InvalidPermission.Duplicate"))

    assert isinstance(result, Skipped) and result.reason is SkipReason.FAILED_CALL
    assert "InvalidPermission.Duplicate" in result.detail
    assert result.record is not None and result.record.event_id == "e-1"


def test_read_only_call_is_skipped() -> None:
    result = route(record(eventName="DescribeSecurityGroups", readOnly="true"))

    assert isinstance(result, Skipped) and result.reason is SkipReason.READ_ONLY


def test_call_missing_from_the_table_is_not_watched() -> None:
    result = route(record(eventName="RunInstances"))

    assert isinstance(result, Skipped) and result.reason is SkipReason.NOT_WATCHED
    assert "RunInstances" in result.detail


def test_same_name_from_another_service_is_not_watched() -> None:
    result = route(record(eventName="CreateTags", eventSource="elasticfilesystem.amazonaws.com"))

    assert isinstance(result, Skipped) and result.reason is SkipReason.NOT_WATCHED
    assert "elasticfilesystem.amazonaws.com" in result.detail


def test_record_without_region_cannot_be_addressed() -> None:
    result = route(record(awsRegion=None))

    assert isinstance(result, Skipped) and result.reason is SkipReason.NO_RESOURCE
    assert "awsRegion" in result.detail


def test_no_usable_id_names_the_fields_looked_at() -> None:
    result = route(record(requestParameters={"groupId": "..."}))

    assert isinstance(result, Skipped) and result.reason is SkipReason.NO_RESOURCE
    assert "requestParameters.groupId" in result.detail


def test_skip_reasons_are_the_documented_strings() -> None:
    assert [reason.value for reason in SkipReason] == [
        "failed_call",
        "read_only",
        "not_watched",
        "no_resource",
    ]


def test_rule_ids_only_revoke_is_routed() -> None:
    [parsed] = parse_payload(load_fixture("RevokeSecurityGroupIngress__rule_ids_only"))
    result = route(parsed)

    assert isinstance(result, Routed)
    [ref] = result.refs
    assert ref.id is None
    assert ref.label() == "sgr-0123456789abcdef0"


def test_a_name_two_services_share_routes_by_its_source() -> None:
    arn = (
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:"
        "listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
    )
    elb = route(
        record(
            eventName="DeleteRule",
            eventSource="elasticloadbalancing.amazonaws.com",
            requestParameters={"ruleArn": arn},
        )
    )
    ec2 = route(record(eventName="DeleteRule"))

    assert isinstance(elb, Routed) and elb.refs[0].kind.value == "load_balancer"
    assert isinstance(ec2, Skipped) and ec2.reason is SkipReason.NOT_WATCHED
    assert "watched from elasticloadbalancing.amazonaws.com" in ec2.detail
    assert "this record comes from ec2.amazonaws.com" in ec2.detail
