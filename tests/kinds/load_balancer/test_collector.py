"""The collector's reads: moto for what it models, botocore's Stubber where it cannot
answer as AWS does (AccessDenied on one call, DescribeTags' limit of 20 ARNs)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.errors import ReadError
from chalicelib.kinds.load_balancer.collector import (
    TAG_BATCH,
    LoadBalancerCollector,
    parse_action,
    parse_listener,
)
from chalicelib.kinds.load_balancer.family import FAMILY
from chalicelib.kinds.load_balancer.model import FIXED_RESPONSE, FORWARD, LoadBalancerSpec
from chalicelib.kinds.load_balancer.pipeline import LoadBalancerPipeline
from chalicelib.model import SourceLocation, Status
from chalicelib.specs.catalog import SpecCatalog

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def arn(name: str, n: int = 0) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{name}/{n:016x}"


def raw_lb(name: str, n: int = 0, groups: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "LoadBalancerArn": arn(name, n),
        "LoadBalancerName": name,
        "Type": "application",
        "Scheme": "internal",
        "SecurityGroups": list(groups),
    }


def _clients() -> tuple[Any, Any]:
    make = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client
    return make("elbv2", region_name=REGION), make("ec2", region_name=REGION)


def test_a_denied_attribute_read_is_recorded_and_the_rest_still_read() -> None:
    elbv2, ec2 = _clients()
    with Stubber(elbv2) as elb_stub, Stubber(ec2) as ec2_stub:
        elb_stub.add_response(
            "describe_load_balancers", {"LoadBalancers": [raw_lb("web", 1, ("sg-0aaa",))]}
        )
        elb_stub.add_response(
            "describe_tags",
            {
                "TagDescriptions": [
                    {"ResourceArn": arn("web", 1), "Tags": [{"Key": "team", "Value": "web"}]}
                ]
            },
        )
        ec2_stub.add_response(
            "describe_security_groups",
            {"SecurityGroups": [{"GroupId": "sg-0aaa", "GroupName": "web-lb"}]},
        )
        elb_stub.add_response("describe_listeners", {"Listeners": []})
        elb_stub.add_client_error(
            "describe_load_balancer_attributes", service_error_code="AccessDenied"
        )
        collector = LoadBalancerCollector(lambda _: elbv2, lambda _: ec2)
        (state,) = collector.list_region(REGION)
    assert state.group_names == {"sg-0aaa": "web-lb"}
    assert state.unreadable == {"attributes": "DescribeLoadBalancerAttributes: AccessDenied"}


def test_tags_are_read_twenty_arns_at_a_time() -> None:
    elbv2, ec2 = _clients()
    raws = [raw_lb(f"lb{n}", n) for n in range(TAG_BATCH + 1)]
    with Stubber(elbv2) as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": raws})
        for batch in (raws[:TAG_BATCH], raws[TAG_BATCH:]):
            stub.add_response(
                "describe_tags",
                {
                    "TagDescriptions": [
                        {
                            "ResourceArn": r["LoadBalancerArn"],
                            "Tags": [{"Key": "team", "Value": "web"}],
                        }
                        for r in batch
                    ]
                },
                {"ResourceArns": [r["LoadBalancerArn"] for r in batch]},
            )
        for _ in raws:
            stub.add_response("describe_listeners", {"Listeners": []})
            stub.add_response("describe_load_balancer_attributes", {"Attributes": []})
        states = LoadBalancerCollector(lambda _: elbv2, lambda _: ec2).list_region(REGION)
        stub.assert_no_pending_responses()
    assert len(states) == TAG_BATCH + 1


def test_a_denied_listing_makes_the_sweep_unknown_never_missing() -> None:
    elbv2, ec2 = _clients()
    with Stubber(elbv2) as stub:
        stub.add_client_error("describe_load_balancers", service_error_code="AccessDenied")
        collector = LoadBalancerCollector(lambda _: elbv2, lambda _: ec2)
        with pytest.raises(
            ReadError, match="DescribeLoadBalancers in eu-west-1 failed: AccessDenied"
        ):
            collector.list_region(REGION)
    spec = LoadBalancerSpec(SourceLocation("lb.yaml", 1), "web", REGION)
    catalog = SpecCatalog(by_kind={"load_balancer": (spec,)})
    with Stubber(elbv2) as stub:
        stub.add_client_error("describe_load_balancers", service_error_code="AccessDenied")
        result = LoadBalancerPipeline(collector).sweep(catalog, ACCOUNT, [REGION])
    assert [f.status for f in result.findings] == [Status.UNKNOWN, Status.UNKNOWN]
    assert result.findings[1].spec == "lb.yaml:1"


def test_a_load_balancer_gone_by_arn_reads_as_none() -> None:
    elbv2, ec2 = _clients()
    with Stubber(elbv2) as stub:
        stub.add_client_error("describe_load_balancers", service_error_code="LoadBalancerNotFound")
        collector = LoadBalancerCollector(lambda _: elbv2, lambda _: ec2)
        assert collector.read(REGION, arn=arn("web")) is None


def test_actions_reduce_to_what_a_reviewer_reads() -> None:
    tg = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web-targets/0123456789abcdef"
    forward = parse_action(
        [
            {
                "Type": "forward",
                "Order": 2,
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": tg}]},
            },
            {"Type": "authenticate-oidc", "Order": 1},
        ]
    )
    assert (forward.type, forward.target_groups) == (FORWARD, ("web-targets",))
    fixed = parse_action([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}])
    assert (fixed.type, fixed.status_code) == (FIXED_RESPONSE, "404")
    plain = parse_listener(
        {
            "Port": 80,
            "Protocol": "HTTP",
            "SslPolicy": "",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}],
        }
    )
    assert plain.ssl_policy is None and plain.certificates == ()


def test_the_read_table_is_what_the_policy_grants() -> None:
    permissions = {read.permission for read in FAMILY.reads()}
    assert permissions == {
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerCertificates",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeTags",
        "ec2:DescribeSecurityGroups",
    }
    assert {read.service for read in FAMILY.reads()} == {"elbv2", "ec2"}


def test_a_listener_keeps_its_arn_for_next_steps_but_never_compares_it() -> None:
    listener_arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/web/01/02"
    raw = {"Port": 80, "Protocol": "HTTP", "ListenerArn": listener_arn, "DefaultActions": []}
    live = parse_listener(raw)
    assert live.arn == listener_arn
    assert live == parse_listener({**raw, "ListenerArn": listener_arn + "3"})
