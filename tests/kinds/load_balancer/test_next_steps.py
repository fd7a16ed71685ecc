"""A load balancer's changes each say the `aws elbv2` command that reverts them and the
spec edit that accepts them."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.kinds.load_balancer.compare import evaluate_load_balancer
from chalicelib.kinds.load_balancer.model import (
    FORWARD,
    Action,
    Listener,
    LoadBalancerSpec,
    LoadBalancerState,
    redirect,
)
from chalicelib.model import Change, SourceLocation

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/web/0123456789abcdef"
LISTENER = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef/aa11"
)
PLAIN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/0123456789abcdef/bb22"
CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
FWD = Action(FORWARD, target_groups=("web-targets",))
MODERN = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HTTPS = Listener(443, "HTTPS", FWD, MODERN, (CERT,))
HTTP = Listener(80, "HTTP", redirect({"protocol": "HTTPS", "port": "443"}, "HTTP_301"))

LIVE = LoadBalancerState(
    arn=ARN,
    name="web",
    region="eu-west-1",
    account="123456789012",
    type="application",
    scheme="internet-facing",
    security_groups=frozenset({"sg-0123456789abcdef0"}),
    group_names={"sg-0123456789abcdef0": "web-lb", "sg-0fedcba9876543210": "debug"},
    listeners=(replace(HTTP, arn=PLAIN), replace(HTTPS, arn=LISTENER)),
    attributes={"deletion_protection.enabled": True},
)
SPEC = LoadBalancerSpec(
    source=SourceLocation("lb.yaml", 1),
    name="web",
    region="eu-west-1",
    security_groups=("web-lb",),
    listeners=(HTTP, HTTPS),
    attributes={"deletion_protection.enabled": True},
)


def only(spec: LoadBalancerSpec | None, live: LoadBalancerState) -> Change:
    (change,) = evaluate_load_balancer(spec, live).changes
    return change


def test_a_weaker_tls_policy_is_put_back_on_the_listener():
    weak = replace(HTTPS, ssl_policy="ELBSecurityPolicy-2016-08", arn=LISTENER)
    change = only(SPEC, replace(LIVE, listeners=(replace(HTTP, arn=PLAIN), weak)))
    assert change.revert == (
        f"aws elbv2 modify-listener --region eu-west-1 --listener-arn {LISTENER} "
        f"--ssl-policy {MODERN}"
    )
    assert change.accept == (
        "in listeners, the one on port 443: set ssl_policy: ELBSecurityPolicy-2016-08"
    )


def test_a_security_group_attached_by_hand_sets_the_specs_groups_again():
    live = replace(
        LIVE, security_groups=frozenset({"sg-0123456789abcdef0", "sg-0fedcba9876543210"})
    )
    change = only(SPEC, live)
    assert change.revert == (
        f"aws elbv2 set-security-groups --region eu-west-1 --load-balancer-arn {ARN} "
        "--security-groups sg-0123456789abcdef0"
    )
    assert change.accept == "add to security_groups: debug"


def test_deletion_protection_turned_off_is_turned_on_again():
    change = only(SPEC, replace(LIVE, attributes={"deletion_protection.enabled": False}))
    assert change.revert == (
        f"aws elbv2 modify-load-balancer-attributes --region eu-west-1 --load-balancer-arn {ARN} "
        """--attributes '[{"Key":"deletion_protection.enabled","Value":"true"}]'"""
    )
    assert change.accept == "set in attributes: {deletion_protection.enabled: false}"


def test_a_listener_added_by_hand_is_deleted():
    extra = Listener(8080, "HTTPS", FWD, MODERN, (CERT,), arn=LISTENER + "cc")
    change = only(SPEC, replace(LIVE, listeners=(*LIVE.listeners, extra)))
    assert change.revert == (
        f"aws elbv2 delete-listener --region eu-west-1 --listener-arn {LISTENER}cc"
    )
    assert change.accept is not None
    assert change.accept.startswith("add to listeners: {port: 8080, protocol: HTTPS")


def test_an_unmanaged_plaintext_forward_is_redirected_to_https():
    plain = Listener(80, "HTTP", FWD, arn=PLAIN)
    change = only(None, replace(LIVE, listeners=(plain,)))
    assert change.revert == (
        f"aws elbv2 modify-listener --region eu-west-1 --listener-arn {PLAIN} --default-actions "
        """'[{"Type":"redirect","RedirectConfig":{"Protocol":"HTTPS","Port":"443","""
        """"StatusCode":"HTTP_301"}}]'"""
    )
    assert change.accept == f"write a spec: setpoint import --only {ARN}"
