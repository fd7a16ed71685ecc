"""A security group's canonical rules, live state and spec: frozen data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from chalicelib.model import SourceLocation

Direction = Literal["ingress", "egress"]
PeerType = Literal["cidr", "cidr6", "group", "prefix_list"]


@dataclass(frozen=True, order=True)
class Rule:
    """One canonical security-group rule: one direction, one protocol/port range, one peer.

    `proto` is canonical: "-1" (all traffic), "tcp", "udp", "icmp", "icmpv6", or another
    IP protocol number as a decimal string. Ports are None when the protocol has none
    (all traffic, or protocols other than tcp/udp/icmp/icmpv6); for icmp they hold the
    type and code, -1 meaning any.
    """

    direction: Direction
    proto: str
    from_port: int | None
    to_port: int | None
    peer_type: PeerType
    peer: str
    description: str | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str, int | None, int | None, str, str]:
        """Identity of the rule; descriptions are compared separately, only when pinned."""
        return (
            self.direction,
            self.proto,
            self.from_port,
            self.to_port,
            self.peer_type,
            self.peer,
        )


class GroupNames(dict[str, str]):
    """id -> name of every group in one VPC, shared (never copied) by all the groups a
    sweep reads there, with the reverse lookup a spec's peer names need built once.

    Read-only once made: a sweep of n groups in one VPC would otherwise copy and invert
    the VPC's n names once per group (n² work and memory)."""

    __slots__ = ("_by_name",)

    def ids_by_name(self) -> Mapping[str, list[str]]:
        """name -> the ids carrying it (names repeat across VPCs, rarely within one)."""
        try:
            return self._by_name
        except AttributeError:
            self._by_name: Mapping[str, list[str]] = _invert(self)
            return self._by_name


def _invert(names: Mapping[str, str]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for group_id, name in names.items():
        by_name.setdefault(name, []).append(group_id)
    return by_name


def ids_by_name(names: Mapping[str, str]) -> Mapping[str, list[str]]:
    """Invert id -> name (`GroupNames` keeps the result; a plain mapping is inverted anew)."""
    return names.ids_by_name() if isinstance(names, GroupNames) else _invert(names)


@dataclass(frozen=True)
class SecurityGroupState:
    """A security group as read from AWS, already canonical."""

    group_id: str
    name: str
    vpc_id: str | None
    description: str
    account: str
    region: str
    rules: frozenset[Rule]
    tags: Mapping[str, str] = field(default_factory=dict)
    # id -> name of groups this group's rules reference (and of the group itself), so
    # that specs may name peers and alerts can show names.
    peer_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SecurityGroupSpec:
    """The desired state of one security group, as written in a spec file.

    A group is identified by `group_id`, or by `name` (+ `vpc_id`, + `region`,
    + `account`); omitted scope fields match any value. `egress=None` means the spec
    leaves egress to the AWS default (all traffic to 0.0.0.0/0). `tags=None` means tags
    are not pinned. Rules whose `peer_type` is "group" may name the peer by group name;
    comparison resolves names against the live group's `peer_names`.
    """

    source: SourceLocation
    group_id: str | None
    name: str | None
    vpc_id: str | None
    region: str | None
    account: str | None
    description: str | None
    ingress: frozenset[Rule]
    egress: frozenset[Rule] | None
    tags: Mapping[str, str] | None = None
    # rule key -> where that rule was written, for messages that point at a line
    rule_lines: Mapping[tuple[str, str, int | None, int | None, str, str], int] = field(
        default_factory=dict
    )

    def label(self) -> str:
        return self.group_id or self.name or "?"
