"""What to do about a security group's change: the `aws ec2` command that reverts it, and
the spec edit that accepts it. Pure: the commands are text, never run here.

A change carries a rule in spec vocabulary (group peers by name); the rule itself is found
again by that spelling among the rules both sides hold, so the command names the exact
protocol, ports and peer id that AWS matches on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chalicelib.kinds.security_group.canonical import ALL, is_world, rule_to_spec
from chalicelib.kinds.security_group.model import Rule, SecurityGroupState
from chalicelib.model import Change
from chalicelib.next_steps import IMPORT_HINT, aws_command, compact_json, yaml_flow

Advice = tuple[str | None, str | None]
_RULE_PATHS = ("ingress", "egress")


def ip_permission(rule: Rule, *, description: bool = True) -> dict[str, Any]:
    """One rule as the `IpPermissions` item EC2 matches it by (AWS's key order)."""
    perm: dict[str, Any] = {"IpProtocol": rule.proto}
    if rule.proto != ALL and rule.from_port is not None:
        perm["FromPort"] = rule.from_port
        perm["ToPort"] = rule.to_port
    extra = {"Description": rule.description} if description and rule.description else {}
    if rule.peer_type == "cidr":
        perm["IpRanges"] = [{"CidrIp": rule.peer, **extra}]
    elif rule.peer_type == "cidr6":
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule.peer, **extra}]
    elif rule.peer_type == "prefix_list":
        perm["PrefixListIds"] = [{"PrefixListId": rule.peer, **extra}]
    else:
        account, _, group = rule.peer.rpartition("/")
        pair = {"GroupId": group, **({"UserId": account} if account else {}), **extra}
        perm["UserIdGroupPairs"] = [pair]
    return perm


_OPERATIONS = {
    "revoke": "revoke-security-group-{}",
    "authorize": "authorize-security-group-{}",
    "describe": "update-security-group-rule-descriptions-{}",
}
_CONSOLE_VERBS = {"revoke": "delete", "authorize": "add", "describe": "edit the description of"}


def _rule_command(verb: str, rule: Rule, live: SecurityGroupState) -> str:
    """`aws ec2 revoke-security-group-ingress --region R --group-id sg-… --ip-permissions …`.

    A revoke matches without the description; authorize and describe write it.
    """
    if rule.peer_type == "group" and not rule.peer.rsplit("/", 1)[-1].startswith("sg-"):
        # a spec's group name no live group carries: there is no id to put in a command
        return (
            f"in the console, {_CONSOLE_VERBS[verb]} the {rule.direction} rule to group "
            f"{rule.peer!r} on {live.group_id} (no group of that name was found to name by id)"
        )
    return aws_command(
        "ec2",
        _OPERATIONS[verb].format(rule.direction),
        ("group-id", live.group_id),
        ("ip-permissions", [ip_permission(rule, description=verb != "revoke")]),
        region=live.region,
    )


def _rules_by_spelling(
    rules: Iterable[Rule], peer_names: Mapping[str, str]
) -> dict[tuple[str, str], Rule]:
    return {(r.direction, compact_json(rule_to_spec(r, peer_names))): r for r in rules}


def _find(index: Mapping[tuple[str, str], Rule], change: Change, value: Any) -> Rule | None:
    return index.get((change.path, compact_json(value)))


def _tag_advice(change: Change, live: SecurityGroupState) -> Advice:
    key = change.path.removeprefix("tags.")
    if change.op == "add":
        revert = aws_command(
            "ec2",
            "delete-tags",
            ("resources", [live.group_id]),
            ("tags", [{"Key": key}]),
            region=live.region,
        )
        return revert, f"add to tags: {yaml_flow({key: change.actual})}"
    revert = aws_command(
        "ec2",
        "create-tags",
        ("resources", [live.group_id]),
        ("tags", [{"Key": key, "Value": change.expected}]),
        region=live.region,
    )
    if change.op == "remove":
        return revert, f"remove the tag {key} from tags"
    return revert, f"set in tags: {yaml_flow({key: change.actual})}"


def _rule_advice(
    change: Change, index: Mapping[tuple[str, str], Rule], live: SecurityGroupState
) -> Advice:
    direction = change.path
    if change.op == "add":
        rule = _find(index, change, change.actual)
        revert = _rule_command("revoke", rule, live) if rule else None
        return revert, f"add to {direction}: {yaml_flow(change.actual)}"
    if change.op == "remove":
        rule = _find(index, change, change.expected)
        revert = _rule_command("authorize", rule, live) if rule else None
        return revert, f"remove from {direction}: {yaml_flow(change.expected)}"
    # a pinned description that differs: put the spec's back, or write the live one down
    rule = _find(index, change, change.expected)
    revert = _rule_command("describe", rule, live) if rule else None
    return revert, f"in {direction}, change that rule to: {yaml_flow(change.actual)}"


def drift_next_steps(
    expected: Iterable[Rule], live: SecurityGroupState
) -> Callable[[Change], Advice]:
    """(revert, accept) for each change of a group that has a spec."""
    index = _rules_by_spelling([*live.rules, *expected], live.peer_names)

    def advise(change: Change) -> Advice:
        if change.path in _RULE_PATHS:
            return _rule_advice(change, index, live)
        if change.path.startswith("tags."):
            return _tag_advice(change, live)
        if change.path == "description":
            return (
                "AWS cannot change a group's description: create a new group with the "
                "spec's description and move its network interfaces to it",
                f"set description: {yaml_flow(change.actual)}",
            )
        return None, None

    return advise


def unmanaged_next_steps(live: SecurityGroupState) -> Callable[[Change], Advice]:
    """Only what is loud on a group no spec names: revoke a world-open rule, or write a spec."""
    index = _rules_by_spelling(live.rules, live.peer_names)

    def advise(change: Change) -> Advice:
        rule = _find(index, change, change.actual) if change.op == "add" else None
        world = rule is not None and is_world(rule.peer_type, rule.peer)
        if rule is None or rule.direction != "ingress" or not world:
            return None, None
        return _rule_command("revoke", rule, live), IMPORT_HINT.format(id=live.group_id)

    return advise
