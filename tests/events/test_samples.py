"""Every EC2 sample record maps to the ref (or skip) a user would expect."""

from __future__ import annotations

import pytest

from chalicelib.errors import EventError
from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import ResourceRef
from tests.events.helpers import SAMPLES, SHORTENED_ACCOUNT, load_routable_sample, load_sample, sg

Expected = tuple[ResourceRef, ...] | SkipReason

TERRAFORM_SG = "bluegreen_alb_sg-20230117040516059800000001"

EXPECTED: dict[str, Expected] = {
    "AuthorizeSecurityGroupEgress__setpoint1": (sg("sg-0b2c3d4e5f6071829", region="us-east-1"),),
    "AuthorizeSecurityGroupEgress__2": (sg("sg-03eee825d6bb78f54", region="us-east-1"),),
    # groupId in the request and again in responseElements.securityGroupRuleSet: one ref
    "AuthorizeSecurityGroupIngress__setpoint1": (sg("sg-0a1b2c3d4e5f60718", region="us-east-1"),),
    # CLI shorthand (cidrIp/fromPort at the top level); synthetic region kept as logged
    "AuthorizeSecurityGroupIngress__2": (sg("sg-003dc7f1f1c686164", region="us-northeast-1r"),),
    # Panther export: lower-cased userIdentity keys, odd eventTime, string ports
    "AuthorizeSecurityGroupIngress__4": (sg("sg-04f0b44316f7d2471", region="us-west-2"),),
    "AuthorizeSecurityGroupIngress__5": SkipReason.FAILED_CALL,  # UnauthorizedOperation
    "AuthorizeSecurityGroupIngress__6": (sg("sg-0d921df5d84f7270a", region="us-east-1"),),
    "AuthorizeSecurityGroupIngress__7": SkipReason.FAILED_CALL,  # RequestExpired
    # EventBridge envelope whose ids the publisher redacted to "...": nothing to re-read
    "AuthorizeSecurityGroupIngress__8": SkipReason.NO_RESOURCE,
    "CreateSecurityGroup__1": (
        sg(
            "sg-07111150655b49758",
            region="ap-northeast-1",
            name=TERRAFORM_SG,
            vpc_id="vpc-03b8c9737eeda7dc0",
        ),
    ),
    "CreateSecurityGroup__2": (
        sg(
            "sg-04d018d184a18f647",
            region="us-east-1",
            name="prod-webapp-webserver-security",
            vpc_id="vpc-a1a044c7",
        ),
    ),
    # deleted by name: no id anywhere in the record
    "DeleteSecurityGroup__1": (sg(None, region="ap-northeast-1", name=TERRAFORM_SG),),
}


def test_every_ec2_sample_has_an_expectation() -> None:
    on_disk = {path.stem for path in (SAMPLES / "ec2").glob("*.json")}
    assert on_disk, f"no samples found in {SAMPLES / 'ec2'}"
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ec2_sample_routes_as_expected(name: str) -> None:
    results = route_payload(load_routable_sample("ec2", name))

    assert len(results) == 1
    result, expected = results[0], EXPECTED[name]
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skipped), result
        assert result.reason is expected
    else:
        assert isinstance(result, Routed), result
        assert result.refs == expected


def test_failed_call_detail_names_the_error() -> None:
    [result] = route_payload(load_sample("ec2", "AuthorizeSecurityGroupIngress__5"))

    assert isinstance(result, Skipped)
    assert "UnauthorizedOperation" in result.detail


def test_redacted_ids_skip_with_the_fields_looked_at() -> None:
    [result] = route_payload(load_routable_sample("ec2", "AuthorizeSecurityGroupIngress__8"))

    assert isinstance(result, Skipped)
    assert "requestParameters.groupId" in result.detail
    assert "requestParameters.groupName" in result.detail


@pytest.mark.parametrize("folder", ["s3", "iam", "cloudtrail", "events"])
def test_other_services_samples_parse_and_never_name_a_security_group(folder: str) -> None:
    paths = sorted((SAMPLES / folder).glob("*.json"))
    assert paths

    for path in paths:
        for result in route_payload(load_routable_sample(folder, path.stem)):
            if isinstance(result, Routed):
                assert all(ref.kind is not SECURITY_GROUP for ref in result.refs), path


@pytest.mark.parametrize("sample", sorted(SHORTENED_ACCOUNT))
def test_a_record_whose_account_is_not_12_digits_is_rejected_naming_the_field(
    sample: str,
) -> None:
    # The account becomes ARNs and the role to assume: "12345" must not be guessed at.
    folder, name = sample.split("/")
    with pytest.raises(EventError, match="must be a 12-digit account id, got"):
        route_payload(load_sample(folder, name))
