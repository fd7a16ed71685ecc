"""What Setpoint may undo on a security group: revoke a rule the spec does not have.

Only `add` changes of `ingress` and `egress` are undone, by revoking exactly that rule
(protocol, ports and peer, as EC2 matches it). A rule the spec lists is never revoked,
a missing rule is not put back (authorizing is a decision for a person), and a rule
whose peer group is known only by name has no id to revoke by: it is reported, not
guessed. Pure: the change and the spec in, the call's parameters out.
"""

from __future__ import annotations

from typing import Any

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.canonical import (
    ALL,
    ICMP,
    canonical_cidr,
    canonical_ports,
    canonical_proto,
    parse_ports,
)
from chalicelib.kinds.security_group.compare import describe_rule
from chalicelib.kinds.security_group.model import Rule
from chalicelib.kinds.security_group.next_steps import ip_permission
from chalicelib.model import Change, Finding
from chalicelib.revert.table import Plan, Undo

# any region: the revert function in the home region reverts drift in every watched one
_GROUP_ARN = "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:security-group/*"
_PEERS = ("cidr", "cidr6", "prefix_list", "group")


def rule_of(direction: str, value: Any) -> Rule | str:
    """A change's rule (spec vocabulary) as a canonical rule, or why it cannot be."""
    if not isinstance(value, dict):
        return "the change holds no rule"
    try:
        proto = canonical_proto(value.get("proto", "all"))
        if "ports" in value:
            low, high = parse_ports(value["ports"])
            ports: tuple[int | None, int | None] = (low, high)
        elif proto in ICMP:
            ports = (value.get("from_port"), value.get("to_port"))
        else:
            ports = (None, None)
        from_port, to_port = canonical_ports(proto, *ports) if proto != ALL else (None, None)
    except ValueError as exc:
        return str(exc)
    peer_type = next((p for p in _PEERS if p in value), None)
    if peer_type is None:
        return "the rule names no peer"
    peer = str(value[peer_type])
    if peer_type in ("cidr", "cidr6"):
        peer = canonical_cidr(peer)
    if peer_type == "group" and not peer.rsplit("/", 1)[-1].startswith("sg-"):
        return f"the peer group {peer!r} is known by name only, so there is no id to revoke by"
    return Rule(direction, proto, from_port, to_port, peer_type, peer)  # type: ignore[arg-type]


def _in_spec(rule: Rule, spec: Any) -> bool:
    if spec is None:
        return False
    rules = set(spec.ingress) | set(spec.egress or ())
    return any(r.key == rule.key for r in rules)


def _revoke(change: Change, finding: Finding, spec: Any) -> Plan:
    rule = rule_of(change.path, change.actual)
    if isinstance(rule, str):
        return rule
    if _in_spec(rule, spec):
        return "the spec lists this rule: it is never revoked"
    if not finding.id:
        return "the group's id is not known"
    params = {"GroupId": finding.id, "IpPermissions": [ip_permission(rule, description=False)]}
    return f"revoke {describe_rule(rule, {})}", params


def _scope(spec: Any) -> tuple[str, ...]:
    if spec.group_id is None:
        return ()  # named by name only: no ARN says which group that is
    region = spec.region or "*"
    return (
        f"arn:${{AWS::Partition}}:ec2:{region}:${{AWS::AccountId}}:security-group/{spec.group_id}",
    )


REVERTS: tuple[Undo, ...] = (
    Undo(
        (SECURITY_GROUP,),
        "add",
        "ingress",
        "ec2",
        "RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
        _GROUP_ARN,
        _revoke,
        scope=_scope,
    ),
    Undo(
        (SECURITY_GROUP,),
        "add",
        "egress",
        "ec2",
        "RevokeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupEgress",
        _GROUP_ARN,
        _revoke,
        scope=_scope,
    ),
)
