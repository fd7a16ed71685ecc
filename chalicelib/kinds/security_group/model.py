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
