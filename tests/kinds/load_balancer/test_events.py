"""Every load balancer record routes to the load balancer a user would expect, or a skip."""

from __future__ import annotations

import pytest

from chalicelib.events.route import Routed, Skipped, SkipReason, route_payload
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.events import ELB_SOURCE, ROWS, load_balancer_arn
from chalicelib.kinds.load_balancer.family import FAMILY
from chalicelib.model import ResourceRef
from tests.events.helpers import SAMPLES, load_sample

ACCOUNT = "123456789012"
PREFIX = f"arn:aws:elasticloadbalancing:us-west-2:{ACCOUNT}:loadbalancer"
WEB = ResourceRef(
    LOAD_BALANCER,
    ACCOUNT,
    "us-west-2",
    id=f"{PREFIX}/app/example-web/50dc6c495c0c9188",
    name="example-web",
)
TLS = ResourceRef(
    LOAD_BALANCER,
    ACCOUNT,
    "us-west-2",
    id=f"{PREFIX}/net/example-tls/a1b2c3d4e5f60718",
    name="example-tls",
)

EXPECTED: dict[str, tuple[ResourceRef, ...] | SkipReason] = {
    "CreateLoadBalancer__setpoint1": (WEB,),
    "DeleteLoadBalancer__setpoint1": (WEB,),
    "CreateListener__setpoint1": (WEB,),
    "CreateListener__setpoint2": (TLS,),
    "ModifyListener__setpoint1": (WEB,),
    "ModifyListener__setpoint2": SkipReason.FAILED_CALL,
    "DeleteListener__setpoint1": (WEB,),
    "SetSecurityGroups__setpoint1": (WEB,),
    "ModifyLoadBalancerAttributes__setpoint1": (WEB,),
    "AddListenerCertificates__setpoint1": (WEB,),
    "RemoveListenerCertificates__setpoint1": (TLS,),
    "AddTags__setpoint1": (WEB,),  # the target group beside it is not a load balancer
    "RemoveTags__setpoint1": SkipReason.NO_RESOURCE,  # only a target group
    "CreateRule__setpoint1": (WEB,),
    "ModifyRule__setpoint1": (WEB,),
    "DeleteRule__setpoint1": (WEB,),
    "DescribeLoadBalancers__setpoint1": SkipReason.READ_ONLY,
}


def test_every_load_balancer_sample_has_an_expectation() -> None:
    on_disk = {path.stem for path in (SAMPLES / "elasticloadbalancing").glob("*.json")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_balancer_sample_routes_as_expected(name: str) -> None:
    (result,) = route_payload(load_sample("elasticloadbalancing", name))
    expected = EXPECTED[name]
    if isinstance(expected, SkipReason):
        assert isinstance(result, Skipped), result
        assert result.reason is expected, result.detail
    else:
        assert isinstance(result, Routed), result
        assert result.refs == expected


def test_a_record_naming_only_target_groups_says_where_it_looked() -> None:
    (result,) = route_payload(load_sample("elasticloadbalancing", "RemoveTags__setpoint1"))
    assert isinstance(result, Skipped)
    assert result.detail == (
        "RemoveTags: no load balancer, listener or rule ARN in requestParameters.resourceArns"
    )


def test_region_comes_from_the_record() -> None:
    record = load_sample("elasticloadbalancing", "DeleteListener__setpoint1")
    record["awsRegion"] = "eu-central-1"
    (result,) = route_payload(record)
    assert isinstance(result, Routed)
    assert result.refs[0].region == "eu-central-1"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
            "listener/app/web/0123456789abcdef/fedcba9876543210",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef",
        ),
        (
            "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:"
            "listener-rule/net/edge/0123456789abcdef/fedcba9876543210/0000111122223333",
            "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:loadbalancer/net/edge/0123456789abcdef",
        ),
    ],
)
def test_listener_and_rule_arns_lead_to_their_load_balancer(arn: str, expected: str) -> None:
    found = load_balancer_arn(arn)
    assert found is not None and found[0] == expected


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/0123456789abcdef",
        # a listener ARN cut short is not a load balancer's
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef",
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/gwy/g/0123456789abcdef",
        "...",
        None,
    ],
)
def test_other_values_name_no_load_balancer(value: object) -> None:
    assert load_balancer_arn(value) is None


def test_rows_and_family_agree_on_source_and_lifecycle() -> None:
    assert {row.event_source for row in ROWS} == {ELB_SOURCE} == {FAMILY.event_source}
    assert FAMILY.eventbridge_source == "aws.elasticloadbalancing"
    names = {row.event_name for row in ROWS}
    assert set(FAMILY.creates) | set(FAMILY.deletes) <= names
