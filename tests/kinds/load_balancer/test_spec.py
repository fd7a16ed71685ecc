"""Load balancer specs: what parses, and errors that name file, line and field."""

from __future__ import annotations

import pytest

from chalicelib.errors import SpecSetError
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.model import FORWARD, REDIRECT
from chalicelib.specs.loading import load_documents
from chalicelib.specs.parse import parse_file

GOOD = """\
kind: load_balancer
name: web-public
region: eu-west-1
type: application
scheme: internet-facing
security_groups: [web-lb, sg-0123456789abcdef0]
listeners:
  - port: 80
    protocol: HTTP
    default_action:
      redirect: {protocol: HTTPS, port: 443, status_code: HTTP_301}
  - port: 443
    protocol: HTTPS
    ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06
    certificates: [arn:aws:acm:eu-west-1:123456789012:certificate/abc]
    default_action:
      forward: web-targets
attributes:
  deletion_protection.enabled: true
tags: {team: web}
"""


def _errors(text: str) -> list[str]:
    parsed = parse_file("lb.yaml", text)
    assert not parsed.specs
    return [str(error) for error in parsed.errors]


def test_a_full_spec_parses_to_canonical_listeners() -> None:
    parsed = parse_file("lb.yaml", GOOD)
    assert parsed.errors == ()
    (item,) = parsed.specs
    spec = item.spec
    assert item.kind == LOAD_BALANCER
    assert spec.security_groups == ("web-lb", "sg-0123456789abcdef0")
    http, https = spec.listeners
    assert http.default_action.type == REDIRECT
    assert (http.default_action.port, http.default_action.host) == ("443", "#{host}")
    assert https.default_action.type == FORWARD
    assert https.default_action.target_groups == ("web-targets",)
    assert spec.attributes == {"deletion_protection.enabled": True}


def test_schema_errors_name_line_and_field() -> None:
    text = GOOD.replace("scheme: internet-facing", "scheme: public").replace(
        "port: 443\n    protocol: HTTPS", "port: 443\n    protocol: HTTPX"
    )
    errors = _errors(text)
    assert any(e.startswith("lb.yaml:5: scheme:") for e in errors), errors
    assert any(e.startswith("lb.yaml:13: listeners[1].protocol:") for e in errors), errors


def test_a_region_is_required() -> None:
    errors = _errors(GOOD.replace("region: eu-west-1\n", ""))
    assert len(errors) == 1 and "region" in errors[0] and errors[0].startswith("lb.yaml:1:")


def test_two_listeners_on_one_port() -> None:
    errors = _errors(GOOD.replace("port: 80\n", "port: 443\n"))
    assert errors == ["lb.yaml:12: listeners[1].port: port 443 is also listeners[0]"]


def test_a_tls_policy_on_a_plaintext_listener() -> None:
    text = GOOD.replace(
        "protocol: HTTP\n", "protocol: HTTP\n    ssl_policy: ELBSecurityPolicy-2016-08\n"
    )
    assert _errors(text) == [
        "lb.yaml:10: listeners[0].ssl_policy: ssl_policy only applies to HTTPS and TLS, not HTTP"
    ]


def test_an_http_attribute_on_a_network_load_balancer() -> None:
    text = GOOD.replace("type: application", "type: network").replace(
        "deletion_protection.enabled: true",
        "routing.http.drop_invalid_header_fields.enabled: true",
    )
    assert _errors(text) == [
        "lb.yaml:19: attributes.routing.http.drop_invalid_header_fields.enabled: "
        "network load balancers have no HTTP routing"
    ]


def test_an_action_needs_exactly_one_kind() -> None:
    text = GOOD.replace(
        "forward: web-targets", "forward: web-targets\n      fixed_response: {status_code: 404}"
    )
    assert (
        "lb.yaml:16: listeners[1].default_action: a default action is exactly one of "
        "forward, redirect or fixed_response" in _errors(text)
    )


def test_two_specs_for_one_load_balancer_conflict() -> None:
    with pytest.raises(SpecSetError) as caught:
        load_documents([("a.yaml", GOOD), ("b.yaml", GOOD)])
    (error,) = caught.value.errors
    assert str(error) == (
        "b.yaml:1: name: load balancer 'web-public' in eu-west-1 is also specified in a.yaml:1"
    )


def test_the_same_name_in_two_regions_is_two_load_balancers() -> None:
    other = GOOD.replace("region: eu-west-1", "region: us-east-1")
    catalog = load_documents([("a.yaml", GOOD), ("b.yaml", other)])
    assert len(catalog.specs_of(LOAD_BALANCER)) == 2


def test_a_schema_error_in_a_listener_does_not_hide_its_other_mistakes() -> None:
    """A TLS policy on a plaintext listener and a misspelt field: one run names both."""
    text = GOOD.replace(
        "  - port: 80\n    protocol: HTTP\n",
        "  - port: 80\n    protocol: HTTP\n    ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06\n"
        "    sslpolicy: x\n",
    )
    parsed = parse_file("lb.yaml", text)
    fields = [(e.line, e.field) for e in parsed.errors]
    assert fields == [(10, "listeners[0].ssl_policy"), (11, "listeners[0].sslpolicy")]
    assert "only applies to HTTPS and TLS" in parsed.errors[0].message


def test_a_rejected_port_is_not_read_and_the_protocol_still_checked() -> None:
    text = GOOD.replace("  - port: 80\n", "  - port: eighty\n").replace(
        "    protocol: HTTP\n", "    protocol: HTTP\n    certificates: [arn:aws:acm:x]\n", 1
    )
    parsed = parse_file("lb.yaml", text)
    fields = [e.field for e in parsed.errors]
    assert fields == ["listeners[0].port", "listeners[0].certificates"]
