"""A security group's changes each say how to revert them and how to accept them."""

from __future__ import annotations

import json
import shlex

from chalicelib.kinds.security_group.compare import evaluate_security_group
from chalicelib.kinds.security_group.model import Rule, SecurityGroupSpec, SecurityGroupState
from chalicelib.model import SourceLocation

GROUP = "sg-0123456789abcdef0"
ALL_EGRESS = Rule("egress", "-1", None, None, "cidr", "0.0.0.0/0")
HTTPS = Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "office")


def state(*rules: Rule, tags: dict[str, str] | None = None) -> SecurityGroupState:
    return SecurityGroupState(
        group_id=GROUP,
        name="web",
        vpc_id="vpc-0abc",
        description="web tier",
        account="123456789012",
        region="eu-west-1",
        rules=frozenset(rules),
        tags=tags or {},
        peer_names={GROUP: "web", "sg-0fedcba9876543210": "app"},
    )


def spec(*ingress: Rule, tags: dict[str, str] | None = None) -> SecurityGroupSpec:
    return SecurityGroupSpec(
        source=SourceLocation("policies/security_groups/web.yaml", 1),
        group_id=None,
        name="web",
        vpc_id="vpc-0abc",
        region="eu-west-1",
        account=None,
        description=None,
        ingress=frozenset(ingress),
        egress=None,
        tags=tags,
    )


def test_port_22_opened_by_hand_reverts_with_the_exact_revoke_command():
    ssh = Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0", "temp debugging")
    (change,) = evaluate_security_group(spec(HTTPS), state(HTTPS, ssh, ALL_EGRESS)).changes
    assert change.revert == (
        "aws ec2 revoke-security-group-ingress --region eu-west-1 --group-id "
        "sg-0123456789abcdef0 --ip-permissions "
        """'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'"""
    )
    assert change.accept == (
        "add to ingress: {proto: tcp, ports: '22', cidr: 0.0.0.0/0, description: temp debugging}"
    )


def test_a_rule_missing_live_is_authorized_again_with_its_description():
    (change,) = evaluate_security_group(spec(HTTPS), state(ALL_EGRESS)).changes
    words = shlex.split(change.revert or "")
    assert words[:7] == [
        "aws",
        "ec2",
        "authorize-security-group-ingress",
        "--region",
        "eu-west-1",
        "--group-id",
        GROUP,
    ]
    assert json.loads(words[8]) == [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "office"}],
        }
    ]
    assert change.accept == (
        "remove from ingress: {proto: tcp, ports: '443', cidr: 10.0.0.0/8, description: office}"
    )


def test_a_group_peer_is_named_by_id_in_the_command_and_by_name_in_the_spec_edit():
    app = Rule("ingress", "tcp", 5432, 5432, "group", "sg-0fedcba9876543210")
    (change,) = evaluate_security_group(spec(HTTPS), state(HTTPS, app, ALL_EGRESS)).changes
    permissions = json.loads(shlex.split(change.revert or "")[-1])
    assert permissions[0]["UserIdGroupPairs"] == [{"GroupId": "sg-0fedcba9876543210"}]
    assert change.accept == "add to ingress: {proto: tcp, ports: '5432', group: app}"


def test_a_changed_description_is_put_back_with_update_descriptions():
    live = Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "whoever")
    (change,) = evaluate_security_group(spec(HTTPS), state(live, ALL_EGRESS)).changes
    words = shlex.split(change.revert or "")
    assert words[2] == "update-security-group-rule-descriptions-ingress"
    assert json.loads(words[-1])[0]["IpRanges"] == [
        {"CidrIp": "10.0.0.0/8", "Description": "office"}
    ]
    assert change.accept == (
        "in ingress, change that rule to: "
        "{proto: tcp, ports: '443', cidr: 10.0.0.0/8, description: whoever}"
    )


def test_tags_revert_with_create_and_delete_tags():
    finding = evaluate_security_group(
        spec(HTTPS, tags={"team": "web", "env": "prod"}),
        state(HTTPS, ALL_EGRESS, tags={"team": "data", "owner": "bob"}),
    )
    by_path = {c.path: c for c in finding.changes}
    assert by_path["tags.owner"].revert == (
        "aws ec2 delete-tags --region eu-west-1 --resources sg-0123456789abcdef0 "
        """--tags '[{"Key":"owner"}]'"""
    )
    assert by_path["tags.owner"].accept == "add to tags: {owner: bob}"
    assert by_path["tags.team"].revert == (
        "aws ec2 create-tags --region eu-west-1 --resources sg-0123456789abcdef0 "
        """--tags '[{"Key":"team","Value":"web"}]'"""
    )
    assert by_path["tags.team"].accept == "set in tags: {team: data}"
    assert by_path["tags.env"].accept == "remove the tag env from tags"


def test_a_quote_in_a_description_cannot_break_out_of_the_command():
    sneaky = Rule("ingress", "tcp", 443, 443, "cidr", "10.0.0.0/8", "it's; rm -rf /")
    (change,) = evaluate_security_group(spec(sneaky), state(ALL_EGRESS)).changes
    words = shlex.split(change.revert or "")
    assert len(words) == 9
    assert json.loads(words[-1])[0]["IpRanges"][0]["Description"] == "it's; rm -rf /"


def test_an_unmanaged_group_gets_a_revoke_for_world_open_rules_only_and_an_import_hint():
    ssh = Rule("ingress", "tcp", 22, 22, "cidr", "0.0.0.0/0")
    finding = evaluate_security_group(None, state(HTTPS, ssh, ALL_EGRESS))
    by_summary = {c.summary.split(" — ")[0]: c for c in finding.changes}
    opened = by_summary["ingress tcp/22 from 0.0.0.0/0"]
    assert opened.revert is not None
    assert opened.revert.startswith("aws ec2 revoke-security-group-ingress --region eu-west-1")
    assert opened.accept == "write a spec: setpoint import --only sg-0123456789abcdef0"
    private = by_summary["ingress tcp/443 from 10.0.0.0/8"]
    assert (private.revert, private.accept) == (None, None)
