"""Load balancer state and spec: the frozen data the collector, specs and compare share.

Both sides are canonical: listeners keyed by port, a default action reduced to what a
reviewer reads (forward to target groups by name, redirect, fixed response), security
groups by id (the state also carries their names, so a spec may name them either way),
and the three attributes that matter for security as booleans. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.model import SourceLocation

APPLICATION = "application"
NETWORK = "network"
INTERNET_FACING = "internet-facing"
INTERNAL = "internal"

DELETION_PROTECTION = "deletion_protection.enabled"
DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"
ACCESS_LOGS = "access_logs.s3.enabled"
# The attributes compared, in report order; network load balancers have no HTTP routing.
ATTRIBUTES: tuple[str, ...] = (DELETION_PROTECTION, DROP_INVALID_HEADERS, ACCESS_LOGS)
APPLICATION_ONLY = frozenset({DROP_INVALID_HEADERS})

FORWARD = "forward"
REDIRECT = "redirect"
FIXED_RESPONSE = "fixed-response"

# Listener protocols that carry no TLS between the client and the load balancer.
PLAINTEXT = frozenset({"HTTP", "TCP", "UDP", "TCP_UDP"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})

# What a redirect keeps when a field is not set: AWS's own placeholders.
REDIRECT_DEFAULTS: Mapping[str, str] = {
    "protocol": "#{protocol}",
    "port": "#{port}",
    "host": "#{host}",
    "path": "/#{path}",
    "query": "#{query}",
}


@dataclass(frozen=True, order=True)
class Action:
    """A listener's default action. `target_groups` are names (forward); a redirect holds
    every field with AWS's defaults filled in; a fixed response its status, type and body."""

    type: str
    target_groups: tuple[str, ...] = ()
    protocol: str | None = None
    port: str | None = None
    host: str | None = None
    path: str | None = None
    query: str | None = None
    status_code: str | None = None
    content_type: str | None = None
    message_body: str | None = None

    def describe(self) -> str:
        if self.type == FORWARD:
            return "forward to " + ", ".join(self.target_groups or ("?",))
        if self.type == REDIRECT:
            where = f"{self.protocol}://{self.host}:{self.port}{self.path}?{self.query}"
            return f"redirect to {where} ({self.status_code})"
        if self.type == FIXED_RESPONSE:
            return f"fixed response {self.status_code}"
        return self.type


def target_group_name(arn: str) -> str:
    """`arn:…:targetgroup/NAME/ID` -> NAME (the ARN itself when it is not of that shape)."""
    _, _, tail = arn.partition(":targetgroup/")
    return tail.split("/")[0] if tail else arn


def redirect(fields: Mapping[str, str], status_code: str) -> Action:
    """A redirect with AWS's placeholder for each field not given."""
    value = {key: str(fields.get(key) or default) for key, default in REDIRECT_DEFAULTS.items()}
    return Action(
        REDIRECT,
        protocol=value["protocol"],
        port=value["port"],
        host=value["host"],
        path=value["path"],
        query=value["query"],
        status_code=status_code,
    )


@dataclass(frozen=True, order=True)
class Listener:
    """One listener. `ssl_policy` and `certificates` only on HTTPS/TLS listeners."""

    port: int
    protocol: str
    default_action: Action
    ssl_policy: str | None = None
    certificates: tuple[str, ...] = ()
    # the live listener's ARN, for the command that reverts it; never compared
    arn: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LoadBalancerState:
    """A load balancer as read from ELBv2 (and EC2 for its groups' names).

    `unreadable` maps a part ("attributes", "tags", "listeners") to why it could not be
    read, so its finding says `unknown` for that part instead of inventing a value.
    """

    arn: str
    name: str
    region: str
    account: str | None
    type: str
    scheme: str
    security_groups: frozenset[str] = frozenset()
    group_names: Mapping[str, str] = field(default_factory=dict)
    listeners: tuple[Listener, ...] = ()
    attributes: Mapping[str, bool] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    unreadable: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadBalancerSpec:
    """The desired state of one load balancer, matched by name + region (+ account).

    A field left out (None) is not compared, except what a reviewer must always see
    (a plaintext listener that forwards on an internet-facing load balancer). `attributes`
    holds only the attributes the spec writes.
    """

    source: SourceLocation
    name: str
    region: str
    account: str | None = None
    type: str | None = None
    scheme: str | None = None
    security_groups: tuple[str, ...] | None = None  # names or sg- ids
    listeners: tuple[Listener, ...] | None = None
    attributes: Mapping[str, bool] = field(default_factory=dict)
    tags: Mapping[str, str] | None = None

    def label(self) -> str:
        return self.name
