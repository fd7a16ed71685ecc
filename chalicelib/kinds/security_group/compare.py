"""Spec × live → Finding for security groups. Pure: no I/O, no clock.

Both sides arrive as sets of canonical one-peer `Rule`s, so "a permission with several
peers", "22-22 versus 22" and rule order have already disappeared; what is left is a set
difference keyed on (direction, proto, ports, peer), plus descriptions where the spec
pins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.canonical import ALL, format_ports, is_world, rule_to_spec
from chalicelib.kinds.security_group.model import (
    Rule,
    SecurityGroupSpec,
    SecurityGroupState,
    ids_by_name,
)
from chalicelib.kinds.security_group.next_steps import drift_next_steps, unmanaged_next_steps
from chalicelib.model import (
    Change,
    Finding,
    ResourceRef,
    Status,
    at_spec_fields,
    tag_pairs,
    with_next_steps,
)

AWS_DEFAULT_EGRESS = frozenset(
    {
        Rule(
            direction="egress",
            proto=ALL,
            from_port=None,
            to_port=None,
            peer_type="cidr",
            peer="0.0.0.0/0",
        )
    }
)
# In a VPC with an IPv6 block, AWS also adds all traffic to ::/0 to a new group's egress.
AWS_DEFAULT_EGRESS_IPV6 = Rule("egress", ALL, None, None, "cidr6", "::/0")
_OP_ORDER = {"add": 0, "remove": 1, "modify": 2}


def describe_peer(rule: Rule, peer_names: Mapping[str, str]) -> str:
    """The peer as a reviewer reads it: a CIDR, `group web (sg-…)`, `prefix list pl-…`."""
    if rule.peer_type == "group":
        name = peer_names.get(rule.peer)
        if name:
            return f"group {name} ({rule.peer})"
        return f"group {rule.peer}"
    if rule.peer_type == "prefix_list":
        return f"prefix list {rule.peer}"
    return rule.peer


def describe_rule(rule: Rule, peer_names: Mapping[str, str]) -> str:
    """`ingress tcp/22 from 0.0.0.0/0`, `egress all traffic to group db (sg-…)`."""
    preposition = "from" if rule.direction == "ingress" else "to"
    ports = format_ports(rule.proto, rule.from_port, rule.to_port)
    return f"{rule.direction} {ports} {preposition} {describe_peer(rule, peer_names)}"


def _resolve_spec_peers(rules: Iterable[Rule], live: SecurityGroupState) -> frozenset[Rule]:
    """Turn group names in a spec into ids, using the live group's VPC-local names.

    A name that no live group carries stays a name: it can only ever show up as
    "in spec, missing", which is exactly right.
    """
    by_name = ids_by_name(live.peer_names)
    resolved = set()
    for rule in rules:
        if rule.peer_type == "group" and not rule.peer.startswith("sg-") and "/" not in rule.peer:
            ids = by_name.get(rule.peer, [])
            if len(ids) == 1:
                rule = Rule(
                    direction=rule.direction,
                    proto=rule.proto,
                    from_port=rule.from_port,
                    to_port=rule.to_port,
                    peer_type="group",
                    peer=ids[0],
                    description=rule.description,
                )
        resolved.add(rule)
    return frozenset(resolved)


def _world_open(rule: Rule) -> bool:
    """Inbound from anywhere. Outbound to anywhere is the AWS default, not an alarm."""
    return rule.direction == "ingress" and is_world(rule.peer_type, rule.peer)


# ports an attacker tries first when they are open to the internet: remote shells and
# desktops, databases, caches, search and container daemons
ADMIN_PORTS = frozenset(
    {21, 22, 23, 445, 1433, 1521, 2375, 2376, 3306, 3389, 5432, 5900, 6379, 9200, 11211, 27017}
)


def _opens_admin_port(rule: Rule) -> bool:
    if not _world_open(rule):
        return False
    if rule.proto == "-1":
        return True
    if rule.proto not in ("tcp", "udp"):
        return False
    if rule.from_port is None or rule.to_port is None:
        return True
    return any(rule.from_port <= port <= rule.to_port for port in ADMIN_PORTS)


def _rule_change(op: str, rule: Rule, peer_names: Mapping[str, str], why: str) -> Change:
    value = rule_to_spec(rule, peer_names)
    return Change(
        op="add" if op == "add" else "remove",
        path=rule.direction,
        expected=None if op == "add" else value,
        actual=value if op == "add" else None,
        summary=f"{describe_rule(rule, peer_names)} — {why}",
        world_open=_world_open(rule),
        flags=("admin",) if op == "add" and _opens_admin_port(rule) else (),
    )


def _sorted(changes: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: (c.path, _OP_ORDER[c.op], c.summary)))


def rule_changes(
    expected: frozenset[Rule], actual: frozenset[Rule], peer_names: Mapping[str, str]
) -> list[Change]:
    """Rules present on one side only, and pinned descriptions that differ."""
    expected_by_key = {rule.key: rule for rule in expected}
    actual_by_key = {rule.key: rule for rule in actual}
    changes: list[Change] = []
    for key, rule in actual_by_key.items():
        if key not in expected_by_key:
            changes.append(_rule_change("add", rule, peer_names, "not in spec"))
    for key, rule in expected_by_key.items():
        live_rule = actual_by_key.get(key)
        if live_rule is None:
            changes.append(_rule_change("remove", rule, peer_names, "in spec, missing"))
        elif rule.description is not None and rule.description != (live_rule.description or ""):
            changes.append(
                Change(
                    op="modify",
                    path=rule.direction,
                    expected=rule_to_spec(rule, peer_names),
                    actual=rule_to_spec(live_rule, peer_names),
                    summary=(
                        f"{describe_rule(rule, peer_names)}: description is "
                        f"{live_rule.description or ''!r}, spec says {rule.description!r}"
                    ),
                    # the rule was approved open; a new description does not widen it, and
                    # calling it "open to the world" again would be a false alarm
                    world_open=False,
                )
            )
    return changes


def _visible_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags a user manages: `aws:*` tags are set by AWS services and cannot be changed."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:")}


def tag_changes(expected: Mapping[str, str], actual: Mapping[str, str]) -> list[Change]:
    want, have = _visible_tags(expected), _visible_tags(actual)
    changes: list[Change] = []
    for key in sorted(set(want) | set(have)):
        if key not in want:
            changes.append(
                Change(
                    "add", f"tags.{key}", None, have[key], f"tag {key}={have[key]!r} — not in spec"
                )
            )
        elif key not in have:
            changes.append(
                Change(
                    "remove",
                    f"tags.{key}",
                    want[key],
                    None,
                    f"tag {key}={want[key]!r} — in spec, missing",
                )
            )
        elif want[key] != have[key]:
            changes.append(
                Change(
                    "modify",
                    f"tags.{key}",
                    want[key],
                    have[key],
                    f"tag {key} is {have[key]!r}, spec says {want[key]!r}",
                )
            )
    return changes


def expected_rules(spec: SecurityGroupSpec, live: SecurityGroupState) -> frozenset[Rule]:
    """The rules `spec` asks of `live`: peers resolved to ids, egress defaulted as AWS does."""
    egress = spec.egress
    if egress is None:
        egress = AWS_DEFAULT_EGRESS | (
            {AWS_DEFAULT_EGRESS_IPV6} if AWS_DEFAULT_EGRESS_IPV6 in live.rules else set()
        )
    return _resolve_spec_peers(spec.ingress, live) | _resolve_spec_peers(egress, live)


def compare_security_group(spec: SecurityGroupSpec, live: SecurityGroupState) -> tuple[Change, ...]:
    """Every way `live` departs from `spec`, sorted for stable output."""
    changes = rule_changes(expected_rules(spec, live), live.rules, live.peer_names)
    if spec.description is not None and spec.description != live.description:
        changes.append(
            Change(
                "modify",
                "description",
                spec.description,
                live.description,
                f"description is {live.description!r}, spec says {spec.description!r}",
            )
        )
    if spec.tags is not None:
        changes.extend(tag_changes(spec.tags, live.tags))
    return _sorted(changes)


def evaluate_security_group(
    spec: SecurityGroupSpec | None,
    live: SecurityGroupState | None,
    *,
    ref: ResourceRef | None = None,
) -> Finding:
    """The finding for one group: drifted, in sync, unmanaged (no spec) or missing (no group)."""
    if live is not None:
        if spec is None:
            changes = [
                _rule_change("add", rule, live.peer_names, "no spec for this group")
                for rule in live.rules
            ]
            advised = with_next_steps(_sorted(changes), unmanaged_next_steps(live))
            return _live_finding(live, Status.UNMANAGED, advised, None, "no spec names this group")
        found = at_spec_fields(compare_security_group(spec, live), spec.source)
        found = with_next_steps(found, drift_next_steps(expected_rules(spec, live), live))
        status = Status.DRIFTED if found else Status.IN_SYNC
        return _live_finding(live, status, found, str(spec.source), None)
    if spec is None:
        raise ValueError("evaluate_security_group needs a spec, a live group, or both")
    region = spec.region or (ref.region if ref else None) or "?"
    return Finding(
        kind=SECURITY_GROUP,
        id=spec.group_id or (ref.id if ref else None),
        name=spec.name,
        account=spec.account or (ref.account if ref else None),
        region=region,
        vpc_id=spec.vpc_id,
        status=Status.MISSING,
        spec=str(spec.source),
        reason="the spec names a group that does not exist",
    )


def _live_finding(
    live: SecurityGroupState,
    status: Status,
    changes: tuple[Change, ...],
    spec: str | None,
    reason: str | None,
) -> Finding:
    return Finding(
        kind=SECURITY_GROUP,
        id=live.group_id,
        name=live.name,
        account=live.account,
        region=live.region,
        vpc_id=live.vpc_id,
        status=status,
        changes=changes,
        spec=spec,
        reason=reason,
        tags=tag_pairs(live.tags),
    )
