"""Canonical spelling of protocols, ports and peers, shared by specs and collectors.

AWS and people spell the same rule many ways (`-1`/`all`, `6`/`tcp`, `22`/`22-22`,
tcp without ports). Both sides go through these functions so that comparison is a plain
set operation on `Rule` keys.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

from chalicelib.kinds.security_group.model import Rule

ALL = "-1"
_PROTO_NAMES = {
    "-1": ALL,
    "all": ALL,
    "any": ALL,
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "icmpv6": "icmpv6",
    "58": "icmpv6",
}
PORTED = frozenset({"tcp", "udp"})
ICMP = frozenset({"icmp", "icmpv6"})
WORLD = frozenset({"0.0.0.0/0", "::/0"})


def canonical_proto(value: object) -> str:
    """Return the canonical protocol, or raise ValueError naming what was wrong."""
    text = str(value).strip().lower()
    if text in _PROTO_NAMES:
        return _PROTO_NAMES[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise ValueError(f"unknown protocol {value!r} (use tcp, udp, icmp, icmpv6, all or 0-255)")


def canonical_ports(
    proto: str, from_port: int | None, to_port: int | None
) -> tuple[int | None, int | None]:
    """Ports as AWS stores them for this protocol.

    All traffic and numbered protocols other than tcp/udp/icmp have no ports; tcp/udp
    without ports mean every port; icmp without type/code means any (-1).
    """
    if proto in PORTED:
        if from_port is None and to_port is None:
            return 0, 65535
        low = from_port if from_port is not None else to_port
        high = to_port if to_port is not None else from_port
        return low, high
    if proto in ICMP:
        return (
            from_port if from_port is not None else -1,
            to_port if to_port is not None else -1,
        )
    return None, None


def parse_ports(value: object) -> tuple[int, int]:
    """`22`, `"22"`, `"8000-8100"` -> (from, to); raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"ports must be a number or a range like 8000-8100, not {value!r}")
    if isinstance(value, int):
        low = high = value
    else:
        text = str(value).strip()
        low_text, sep, high_text = text.partition("-")
        try:
            low = int(low_text)
            high = int(high_text) if sep else low
        except ValueError:
            raise ValueError(
                f"ports must be a number or a range like 8000-8100, not {value!r}"
            ) from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        raise ValueError(f"ports {value!r} out of range 0-65535")
    if low > high:
        raise ValueError(f"ports {value!r}: start is after end")
    return low, high


def canonical_cidr(value: str) -> str:
    """Normalize an IPv4/IPv6 CIDR (`::/0`, lower case, host bits kept as written)."""
    return cidr_version(value)[1]


@lru_cache(maxsize=8192)
def cidr_version(value: str) -> tuple[int, str]:
    """(IP version, canonical form) of a CIDR; ValueError when it is none.

    Kept per text: a sweep meets the same few CIDRs (10.0.0.0/8, 0.0.0.0/0) in thousands
    of rules, spec and live, and `ipaddress` parses each one at some cost.
    """
    network = ipaddress.ip_network(str(value).strip(), strict=False)
    return network.version, f"{network.network_address.compressed}/{network.prefixlen}"


def format_ports(proto: str, from_port: int | None, to_port: int | None) -> str:
    """The port part of a rule as people say it: `tcp/22`, `udp/8000-8100`, `all traffic`."""
    if proto == ALL:
        return "all traffic"
    if proto in PORTED:
        if (from_port, to_port) == (0, 65535):
            return f"{proto}/all ports"
        if from_port == to_port:
            return f"{proto}/{from_port}"
        return f"{proto}/{from_port}-{to_port}"
    if proto in ICMP:
        if from_port == -1:
            return f"{proto}/any"
        if to_port == -1:
            return f"{proto}/type {from_port}"
        return f"{proto}/type {from_port} code {to_port}"
    return f"protocol {proto}"


def ports_field(proto: str, from_port: int | None, to_port: int | None) -> str | None:
    """The `ports` value a spec would use for this rule, or None when ports don't apply."""
    if proto in PORTED:
        if from_port == to_port:
            return str(from_port)
        return f"{from_port}-{to_port}"
    return None


def is_world(peer_type: str, peer: str) -> bool:
    return peer_type in ("cidr", "cidr6") and peer in WORLD


def rule_to_spec(rule: Rule, peer_names: Mapping[str, str] | None = None) -> dict[str, object]:
    """A rule in spec vocabulary (what `import` writes and JSON output shows).

    Group peers are shown by name when `peer_names` knows the id.
    """
    out: dict[str, object] = {"proto": "all" if rule.proto == ALL else rule.proto}
    ports = ports_field(rule.proto, rule.from_port, rule.to_port)
    if ports is not None:
        out["ports"] = ports
    elif rule.proto in ICMP:
        out["from_port"] = rule.from_port
        out["to_port"] = rule.to_port
    peer = rule.peer
    if rule.peer_type == "group" and peer_names and peer in peer_names:
        peer = peer_names[peer]
    out[rule.peer_type] = peer
    if rule.description:
        out["description"] = rule.description
    return out
