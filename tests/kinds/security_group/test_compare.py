"""Canonical comparison of security groups: what counts as drift and what does not."""

from __future__ import annotations

from chalicelib.kinds.security_group.compare import compare_security_group, evaluate_security_group
from chalicelib.kinds.security_group.model import Rule, SecurityGroupSpec, SecurityGroupState
from chalicelib.model import SourceLocation, Status

ALL_EGRESS = Rule("egress", "-1", None, None, "cidr", "0.0.0.0/0")


def state(*rules: Rule, peer_names=None, tags=None, description="web tier") -> SecurityGroupState:
    return SecurityGroupState(
        group_id="sg-0123456789abcdef0",
        name="web",
        vpc_id="vpc-0abc",
        description=description,
        account="123456789012",
        region="eu-west-1",
        rules=frozenset(rules),
        tags=tags or {},
        peer_names=peer_names or {"sg-0123456789abcdef0": "web"},
    )


def spec(*ingress: Rule, egress=None, tags=None, description=None) -> SecurityGroupSpec:
    return SecurityGroupSpec(
        source=SourceLocation("policies/security_groups/web.yaml", 1),
        group_id=None,
        name="web",
        vpc_id="vpc-0abc",
        region="eu-west-1",
        account=None,
        description=description,
        ingress=frozenset(ingress),
        egress=None if egress is None else frozenset(egress),
        tags=tags,
    )


HTTPS = Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8")


def test_identical_rule_sets_are_in_sync_whatever_the_order_or_description():
    live = state(Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "office"), ALL_EGRESS)
    finding = evaluate_security_group(spec(HTTPS), live)
    assert finding.status is Status.IN_SYNC
    assert finding.changes == ()


def test_port_22_open_to_the_world_is_an_add_marked_world_open():
    ssh = Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0")
    finding = evaluate_security_group(spec(HTTPS), state(HTTPS, ssh, ALL_EGRESS))
    assert finding.status is Status.DRIFTED
    (change,) = finding.changes
    assert change.op == "add"
    assert change.path == "ingress"
    assert change.summary == "ingress tcp/22 from 0.0.0.0/0 — not in spec"
    assert change.world_open
    assert change.actual == {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"}
    assert change.expected is None
    assert finding.spec == "policies/security_groups/web.yaml:1"


def test_a_rule_in_spec_but_not_live_is_a_remove():
    finding = evaluate_security_group(spec(HTTPS), state(ALL_EGRESS))
    (change,) = finding.changes
    assert change.op == "remove"
    assert change.summary == "ingress tcp/443 from 10.0.0.0/8 — in spec, missing"
    assert not change.world_open


def test_omitted_egress_means_the_aws_default_and_explicit_empty_egress_means_none():
    assert evaluate_security_group(spec(HTTPS), state(HTTPS, ALL_EGRESS)).status is Status.IN_SYNC
    strict = evaluate_security_group(spec(HTTPS, egress=[]), state(HTTPS, ALL_EGRESS))
    assert [c.summary for c in strict.changes] == ["egress all traffic to 0.0.0.0/0 — not in spec"]


def test_pinned_description_is_compared_only_when_written():
    pinned = Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "HTTPS from office")
    live = state(Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "temp"), ALL_EGRESS)
    (change,) = compare_security_group(spec(pinned), live)
    assert change.op == "modify"
    assert "description is 'temp', spec says 'HTTPS from office'" in change.summary


def test_group_peers_named_in_the_spec_resolve_to_live_ids():
    by_name = Rule("ingress", "tcp", 22, 22, "group", "bastion")
    by_id = Rule("ingress", "tcp", 22, 22, "group", "sg-0bbbbbbbbbbbbbbbb")
    live = state(by_id, ALL_EGRESS, peer_names={"sg-0bbbbbbbbbbbbbbbb": "bastion"})
    assert compare_security_group(spec(by_name), live) == ()
    (change,) = compare_security_group(spec(), live)
    assert (
        change.summary == "ingress tcp/22 from group bastion (sg-0bbbbbbbbbbbbbbbb) — not in spec"
    )
    assert change.actual["group"] == "bastion"


def test_unknown_group_name_in_spec_is_reported_missing_not_crashing():
    (change,) = compare_security_group(
        spec(Rule("ingress", "tcp", 22, 22, "group", "ghost")), state(ALL_EGRESS)
    )
    assert change.op == "remove"
    assert "group ghost" in change.summary


def test_tags_compare_only_when_pinned_and_ignore_aws_tags():
    live = state(HTTPS, ALL_EGRESS, tags={"team": "web", "aws:cloudformation:stack-name": "x"})
    assert compare_security_group(spec(HTTPS), live) == ()
    assert compare_security_group(spec(HTTPS, tags={"team": "web"}), live) == ()
    changes = compare_security_group(spec(HTTPS, tags={"team": "platform", "env": "prod"}), live)
    assert [(c.op, c.path) for c in changes] == [("remove", "tags.env"), ("modify", "tags.team")]


def test_group_description_compared_when_pinned():
    changes = compare_security_group(
        spec(HTTPS, description="Public web"), state(HTTPS, ALL_EGRESS)
    )
    assert [c.path for c in changes] == ["description"]


def test_unmanaged_group_lists_its_rules_so_chat_can_ask_why():
    ssh = Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0")
    finding = evaluate_security_group(None, state(ssh, ALL_EGRESS))
    assert finding.status is Status.UNMANAGED
    assert finding.spec is None
    assert [c.summary for c in finding.changes] == [
        "egress all traffic to 0.0.0.0/0 — no spec for this group",
        "ingress tcp/22 from 0.0.0.0/0 — no spec for this group",
    ]
    assert [c.world_open for c in finding.changes] == [False, True]  # egress to all is the default


def test_missing_group_names_the_spec():
    finding = evaluate_security_group(spec(HTTPS), None)
    assert finding.status is Status.MISSING
    assert finding.name == "web"
    assert finding.region == "eu-west-1"
    assert finding.spec == "policies/security_groups/web.yaml:1"


def test_changes_are_sorted_stably():
    rules = [Rule("ingress", "tcp", p, p, "cidr", "0.0.0.0/0") for p in (8080, 22, 443)]
    first = evaluate_security_group(spec(), state(*rules, ALL_EGRESS)).changes
    second = evaluate_security_group(spec(), state(*reversed(rules), ALL_EGRESS)).changes
    assert first == second
    assert [c.summary.split()[1] for c in first] == ["tcp/22", "tcp/443", "tcp/8080"]


def test_omitted_egress_accepts_the_ipv6_default_of_dual_stack_vpcs():
    ipv6_all = Rule("egress", "-1", None, None, "cidr6", "::/0")
    assert compare_security_group(spec(HTTPS), state(HTTPS, ALL_EGRESS, ipv6_all)) == ()
    pinned = compare_security_group(
        spec(HTTPS, egress=[ALL_EGRESS]), state(HTTPS, ALL_EGRESS, ipv6_all)
    )
    assert [c.summary for c in pinned] == ["egress all traffic to ::/0 — not in spec"]


def test_findings_carry_the_live_tags_for_routing_even_when_not_pinned():
    live = state(HTTPS, ALL_EGRESS, tags={"team": "payments", "env": "prod"})
    drifted = evaluate_security_group(spec(), live)
    assert drifted.status is Status.DRIFTED
    assert drifted.tags == (("env", "prod"), ("team", "payments"))
    assert evaluate_security_group(None, live).tag_map == {"team": "payments", "env": "prod"}
    assert evaluate_security_group(spec(HTTPS), live).tag_map["team"] == "payments"
    assert evaluate_security_group(spec(HTTPS), None).tags == ()  # missing: nothing read


def test_a_new_description_on_an_approved_world_open_rule_is_not_new_exposure():
    # the spec approved 443 from anywhere; someone renamed the rule in the console
    public = Rule("ingress", "tcp", 443, 443, "cidr", "0.0.0.0/0", "public HTTPS")
    renamed = Rule("ingress", "tcp", 443, 443, "cidr", "0.0.0.0/0", "temp")
    finding = evaluate_security_group(spec(public), state(renamed, ALL_EGRESS))
    (change,) = finding.changes
    assert change.op == "modify"
    assert not change.world_open  # chat must not say "open to the world" for a rename
