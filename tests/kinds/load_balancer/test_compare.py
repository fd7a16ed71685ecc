"""What the comparison tells a reviewer, on plain data (no AWS)."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.kinds.load_balancer.compare import (
    TLS_VERSIONS,
    compare_load_balancer,
    evaluate_load_balancer,
    tls_versions,
    weaker_policy,
)
from chalicelib.kinds.load_balancer.model import (
    FORWARD,
    Action,
    Listener,
    LoadBalancerSpec,
    LoadBalancerState,
    redirect,
)
from chalicelib.model import SourceLocation, Status

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
TO_HTTPS = redirect({"protocol": "HTTPS", "port": "443"}, "HTTP_301")
FWD = Action(FORWARD, target_groups=("web-targets",))
HTTPS = Listener(443, "HTTPS", FWD, "ELBSecurityPolicy-TLS13-1-2-2021-06", (CERT,))
HTTP = Listener(80, "HTTP", TO_HTTPS)

LIVE = LoadBalancerState(
    arn=ARN,
    name="web",
    region="eu-west-1",
    account="123456789012",
    type="application",
    scheme="internet-facing",
    security_groups=frozenset({"sg-0123456789abcdef0"}),
    group_names={"sg-0123456789abcdef0": "web-lb"},
    listeners=(HTTP, HTTPS),
    attributes={"deletion_protection.enabled": True},
    tags={"team": "web", "aws:cloudformation:stack-name": "web"},
)
SPEC = LoadBalancerSpec(
    source=SourceLocation("lb.yaml", 1),
    name="web",
    region="eu-west-1",
    type="application",
    scheme="internet-facing",
    security_groups=("web-lb",),
    listeners=(HTTP, HTTPS),
    attributes={"deletion_protection.enabled": True},
    tags={"team": "web"},
)


def test_matching_state_is_in_sync_and_groups_match_by_name_or_id() -> None:
    assert evaluate_load_balancer(SPEC, LIVE).status is Status.IN_SYNC
    by_id = dataclasses.replace(SPEC, security_groups=("sg-0123456789abcdef0",))
    assert compare_load_balancer(by_id, LIVE) == ()


def test_a_changed_scheme_is_named() -> None:
    live = dataclasses.replace(LIVE, scheme="internal")
    (change,) = compare_load_balancer(SPEC, live)
    assert change.summary == "scheme is internal (in spec: internet-facing)"


def test_a_removed_group_is_named_as_the_spec_wrote_it() -> None:
    live = dataclasses.replace(LIVE, security_groups=frozenset(), group_names={})
    (change,) = compare_load_balancer(SPEC, live)
    assert (change.op, change.summary) == (
        "remove",
        "security group web-lb (in spec) is not attached",
    )


def test_a_tls_policy_that_allows_older_versions_says_which() -> None:
    weak = dataclasses.replace(HTTPS, ssl_policy="ELBSecurityPolicy-TLS-1-1-2017-01")
    (change,) = compare_load_balancer(SPEC, dataclasses.replace(LIVE, listeners=(HTTP, weak)))
    assert change.summary == (
        "listener HTTPS:443: TLS policy ELBSecurityPolicy-TLS-1-1-2017-01 allows TLS 1.1-1.2 "
        "(in spec: ELBSecurityPolicy-TLS13-1-2-2021-06, TLS 1.2-1.3) — older TLS versions "
        "than the spec allows"
    )


def test_a_stronger_policy_is_a_change_but_not_called_older() -> None:
    strong = dataclasses.replace(HTTPS, ssl_policy="ELBSecurityPolicy-TLS13-1-3-2021-06")
    (change,) = compare_load_balancer(SPEC, dataclasses.replace(LIVE, listeners=(HTTP, strong)))
    assert "older" not in change.summary and "allows TLS 1.3 " in change.summary


@pytest.mark.parametrize(
    ("expected", "actual", "weaker"),
    [
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-2016-08", True),
        ("ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS13-1-2-2021-06", False),
        ("ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-FS-1-2-2019-08", True),
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", "MyCustomPolicy", False),  # unknown: not claimed
    ],
)
def test_weaker_policy(expected: str, actual: str, weaker: bool) -> None:
    assert weaker_policy(expected, actual) is weaker


def test_every_policy_in_the_table_names_its_versions() -> None:
    assert all(tls_versions(name).startswith("TLS 1.") for name in TLS_VERSIONS)
    assert tls_versions("MyCustomPolicy") == "TLS versions not known to Setpoint"


def test_plaintext_forwarding_on_an_internet_facing_lb_is_flagged_as_opening_it() -> None:
    forwarding = dataclasses.replace(HTTP, default_action=FWD)
    (change,) = compare_load_balancer(
        SPEC, dataclasses.replace(LIVE, listeners=(forwarding, HTTPS))
    )
    assert change.world_open
    assert change.summary.endswith(
        "plaintext on an internet-facing load balancer, forwarding instead of redirecting"
    )


def test_plaintext_forwarding_on_an_internal_lb_is_a_change_but_not_opening() -> None:
    forwarding = dataclasses.replace(HTTP, default_action=FWD)
    spec = dataclasses.replace(SPEC, scheme="internal")
    live = dataclasses.replace(LIVE, scheme="internal", listeners=(forwarding, HTTPS))
    (change,) = compare_load_balancer(spec, live)
    assert not change.world_open and "plaintext" not in change.summary


def test_an_unmanaged_lb_that_forwards_plaintext_from_the_internet_says_so() -> None:
    forwarding = dataclasses.replace(HTTP, default_action=FWD)
    finding = evaluate_load_balancer(None, dataclasses.replace(LIVE, listeners=(forwarding,)))
    assert finding.status is Status.UNMANAGED
    (change,) = finding.changes
    assert change.world_open and change.path == "listeners.80"


def test_a_spec_without_listeners_still_flags_plaintext_forwarding() -> None:
    forwarding = dataclasses.replace(HTTP, default_action=FWD)
    spec = dataclasses.replace(SPEC, listeners=None)
    (change,) = compare_load_balancer(spec, dataclasses.replace(LIVE, listeners=(forwarding,)))
    assert change.world_open


def test_listeners_added_and_removed() -> None:
    extra = Listener(8443, "HTTPS", FWD, "ELBSecurityPolicy-TLS13-1-2-2021-06", (CERT,))
    changes = compare_load_balancer(SPEC, dataclasses.replace(LIVE, listeners=(HTTPS, extra)))
    assert [(c.op, c.path) for c in changes] == [
        ("remove", "listeners.80"),
        ("add", "listeners.8443"),
    ]
    assert changes[0].summary == "listener HTTP:80 (in spec) is gone"
    assert changes[1].summary == "listener HTTPS:8443 (forward to web-targets) — not in spec"


def test_a_certificate_swapped_is_named() -> None:
    other = dataclasses.replace(
        HTTPS, certificates=("arn:aws:acm:eu-west-1:123456789012:certificate/new",)
    )
    (change,) = compare_load_balancer(SPEC, dataclasses.replace(LIVE, listeners=(HTTP, other)))
    assert change.summary == (
        "listener HTTPS:443: certificates added "
        f"arn:aws:acm:eu-west-1:123456789012:certificate/new; removed {CERT}"
    )


def test_a_tls_listener_spec_without_policy_or_certificates_does_not_compare_them() -> None:
    loose = Listener(443, "HTTPS", FWD)
    spec = dataclasses.replace(SPEC, listeners=(HTTP, loose))
    assert compare_load_balancer(spec, LIVE) == ()


def test_attributes_and_pinned_tags() -> None:
    live = dataclasses.replace(
        LIVE, attributes={"deletion_protection.enabled": False}, tags={"team": "ops"}
    )
    summaries = [c.summary for c in compare_load_balancer(SPEC, live)]
    assert summaries == [
        "deletion_protection.enabled is off (in spec: on)",
        "tag team=ops (in spec: web)",
    ]
    assert compare_load_balancer(dataclasses.replace(SPEC, tags=None), live)[1:] == ()


def test_an_unreadable_part_is_unknown_not_in_sync() -> None:
    live = dataclasses.replace(
        LIVE,
        attributes={},
        unreadable={"attributes": "DescribeLoadBalancerAttributes: AccessDenied"},
    )
    finding = evaluate_load_balancer(SPEC, live)
    assert finding.status is Status.UNKNOWN
    assert finding.reason == (
        "could not read attributes (DescribeLoadBalancerAttributes: AccessDenied)"
    )
