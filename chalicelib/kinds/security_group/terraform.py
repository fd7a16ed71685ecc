"""Terraform's security groups and rules -> security group spec documents.

A group's desired rules are the union of what every resource declares of it: the
group's inline `ingress`/`egress` blocks (`aws_security_group`,
`aws_default_security_group`) and each `aws_security_group_rule`,
`aws_vpc_security_group_ingress_rule` and `aws_vpc_security_group_egress_rule` whose
`security_group_id` is the group, in any state. A refresh copies separate rules into the
inline blocks, so a rule found in both counts once (its description taken from the rule
resource). Egress is always written out: Terraform removes AWS's default egress rule
from the groups it creates, so a group whose state holds no egress must have none.

A rule resource whose group no state declares declares nothing: the group's other rules
are unknown to Terraform, so no spec could say "exactly these" (the group stays
`unmanaged`). Attribute names are those of provider v4-v6 (see the fixtures in
tests/fixtures/terraform/).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.canonical import (
    canonical_cidr,
    canonical_ports,
    canonical_proto,
    rule_to_spec,
)
from chalicelib.kinds.security_group.model import Direction, PeerType, Rule
from chalicelib.sources.declared import Declared
from chalicelib.sources.terraform.attributes import (
    account_of,
    attribute,
    blocks,
    refuse_sensitive,
    region_of,
    strings,
    tags_of,
)
from chalicelib.sources.terraform.model import TfInstance

GROUP_TYPES = frozenset({"aws_security_group", "aws_default_security_group"})
RULE_TYPES = frozenset(
    {
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
    }
)
_VPC_RULE_DIRECTION: Mapping[str, Direction] = {
    "aws_vpc_security_group_ingress_rule": "ingress",
    "aws_vpc_security_group_egress_rule": "egress",
}


# every attribute the mapping reads: one the state marks sensitive is refused, unprinted
READS = frozenset(
    {
        "id",
        "arn",
        "region",
        "name",
        "vpc_id",
        "description",
        "owner_id",
        "tags",
        "tags_all",
        "ingress",
        "egress",
        "type",
        "protocol",
        "ip_protocol",
        "from_port",
        "to_port",
        "cidr_blocks",
        "ipv6_cidr_blocks",
        "prefix_list_ids",
        "security_groups",
        "self",
        "source_security_group_id",
        "security_group_id",
        "cidr_ipv4",
        "cidr_ipv6",
        "prefix_list_id",
        "referenced_security_group_id",
    }
)


@dataclass(frozen=True)
class _Found:
    """One canonical rule and whether a separate rule resource declared it."""

    rule: Rule
    separate: bool


# states repeat the same few CIDRs thousands of times
_cidr = lru_cache(maxsize=4096)(canonical_cidr)


def _group_peer(value: str) -> str:
    """`sg-1` or the cross-account `123456789012/sg-1` -> `sg-1`."""
    return value.rsplit("/", 1)[-1]


def _peers(
    block: Mapping[str, Any], group_id: str, *, vpc_rule: bool
) -> Iterator[tuple[PeerType, str, str]]:
    """(peer type, peer, attribute it came from) of one rule block or rule resource."""
    if vpc_rule:
        single: tuple[tuple[str, PeerType], ...] = (
            ("cidr_ipv4", "cidr"),
            ("cidr_ipv6", "cidr6"),
            ("prefix_list_id", "prefix_list"),
            ("referenced_security_group_id", "group"),
        )
        for name, peer_type in single:
            value = block.get(name)
            if isinstance(value, str) and value:
                yield peer_type, _group_peer(value) if peer_type == "group" else value, name
        return
    for name, peer_type in (
        ("cidr_blocks", "cidr"),
        ("ipv6_cidr_blocks", "cidr6"),
        ("prefix_list_ids", "prefix_list"),
    ):
        for value in strings(block.get(name)):
            yield peer_type, value, name
    for value in strings(block.get("security_groups")):  # inline blocks
        yield "group", _group_peer(value), "security_groups"
    source = block.get("source_security_group_id")  # aws_security_group_rule
    if isinstance(source, str) and source:
        yield "group", _group_peer(source), "source_security_group_id"
    if block.get("self") is True:
        yield "group", group_id, "self"


def _rules(
    direction: Direction,
    block: Mapping[str, Any],
    group_id: str,
    *,
    vpc_rule: bool,
    where: TfInstance,
    field: str,
) -> list[Rule]:
    """The canonical one-peer rules one block or rule resource declares."""
    proto_field = "ip_protocol" if vpc_rule else "protocol"
    try:
        proto = canonical_proto(block.get(proto_field, "-1"))
    except ValueError as exc:
        raise SpecError(str(exc), where.label, field=f"{field}{proto_field}") from None
    low, high = (block.get("from_port"), block.get("to_port"))
    from_port, to_port = canonical_ports(
        proto, low if isinstance(low, int) else None, high if isinstance(high, int) else None
    )
    description = block.get("description")
    out = []
    for peer_type, peer, name in _peers(block, group_id, vpc_rule=vpc_rule):
        if peer_type in ("cidr", "cidr6"):
            try:
                peer = _cidr(peer)
            except ValueError:
                raise SpecError(
                    f"{peer!r} is not a CIDR", where.label, field=f"{field}{name}"
                ) from None
        text = description if isinstance(description, str) else ""
        out.append(Rule(direction, proto, from_port, to_port, peer_type, peer, text))
    return out


def _separate_rules(instance: TfInstance) -> tuple[str | None, list[Rule]]:
    """(group id, rules) of one rule resource."""
    refuse_sensitive(instance, READS)
    attributes = instance.attributes
    group_id = attributes.get("security_group_id")
    if not isinstance(group_id, str) or not group_id:
        return None, []
    vpc_rule = instance.type in _VPC_RULE_DIRECTION
    if vpc_rule:
        direction = _VPC_RULE_DIRECTION[instance.type]
    else:
        kind = attributes.get("type")
        if kind not in ("ingress", "egress"):
            raise SpecError(
                f"type is {kind!r}, not ingress or egress", instance.label, field="type"
            )
        direction = kind
    rules = _rules(direction, attributes, group_id, vpc_rule=vpc_rule, where=instance, field="")
    return group_id, rules


def _inline_rules(instance: TfInstance, group_id: str) -> list[Rule]:
    out: list[Rule] = []
    direction: Direction
    for direction in ("ingress", "egress"):
        for index, block in enumerate(blocks(attribute(instance, direction))):
            out.extend(
                _rules(
                    direction,
                    block,
                    group_id,
                    vpc_rule=False,
                    where=instance,
                    field=f"{direction}[{index}].",
                )
            )
    return out


def _merge(inline: Iterable[Rule], separate: Iterable[Rule]) -> list[Rule]:
    """One rule per key; a rule resource's description wins over an inline copy's."""
    found: dict[tuple[object, ...], _Found] = {}
    for rule, is_separate in [*((r, True) for r in separate), *((r, False) for r in inline)]:
        if rule.key not in found or (is_separate and not found[rule.key].separate):
            found[rule.key] = _Found(rule, is_separate)
    return sorted(item.rule for item in found.values())


def _spec_rule(rule: Rule) -> dict[str, object]:
    out = rule_to_spec(rule)
    out["description"] = rule.description or ""  # Terraform manages it: none is ""
    return out


def _group_document(instance: TfInstance, rules: Sequence[Rule]) -> Mapping[str, Any]:
    attributes = instance.attributes
    data: dict[str, Any] = {"kind": str(SECURITY_GROUP), "group_id": attributes["id"]}
    for name in ("name", "vpc_id", "description"):
        value = attributes.get(name)
        if isinstance(value, str) and (value or name == "description"):
            data[name] = value
    region = region_of(instance)
    account = account_of(instance, "owner_id")
    if region:
        data["region"] = region
    if account:
        data["account"] = account
    data["ingress"] = [_spec_rule(r) for r in rules if r.direction == "ingress"]
    data["egress"] = [_spec_rule(r) for r in rules if r.direction == "egress"]
    tags = tags_of(instance)
    if tags is not None:
        data["tags"] = {k: v for k, v in tags.items() if not k.lower().startswith("aws:")}
    return data


class SecurityGroupMapping:
    """`TerraformMapping` for security groups (see the module docstring)."""

    types = GROUP_TYPES | RULE_TYPES

    def declare(self, instances: Sequence[TfInstance]) -> Iterable[Declared | SpecError]:
        out: list[Declared | SpecError] = []
        separate: dict[str, list[Rule]] = {}
        for instance in instances:
            if instance.type not in RULE_TYPES:
                continue
            try:
                group_id, rules = _separate_rules(instance)
            except SpecError as exc:
                out.append(exc)
                continue
            if group_id is not None:
                separate.setdefault(group_id, []).extend(rules)
        for instance in instances:
            if instance.type not in GROUP_TYPES:
                continue
            group_id = instance.attributes.get("id")
            if not isinstance(group_id, str) or not group_id:
                out.append(SpecError("the group has no id in the state", instance.label))
                continue
            try:
                refuse_sensitive(instance, READS)
                inline = _inline_rules(instance, group_id)
            except SpecError as exc:
                out.append(exc)
                continue
            rules = _merge(inline, separate.get(group_id, ()))
            out.append(Declared(_group_document(instance, rules), instance.label))
        return out


def mapping() -> SecurityGroupMapping:
    return SecurityGroupMapping()
