"""Findings and records for state tests: one security group, a few recognisable changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Actor, Change, Finding, Status

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
SG = "sg-0abc"
SPEC = "policies/security_groups/web.yaml:4"
ACCOUNT = "123456789012"
REGION = "eu-west-1"

OPEN_22 = Change(
    "add",
    "ingress",
    None,
    {"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"},
    "tcp/22 open to 0.0.0.0/0 — not in spec",
    world_open=True,
)
OPEN_22_SWEEP_WORDING = Change(
    "add",
    "ingress",
    None,
    {"cidr": "0.0.0.0/0", "ports": "22", "proto": "tcp"},
    "SSH reachable from anywhere",
    world_open=True,
)
OPEN_3389 = Change(
    "add",
    "ingress",
    None,
    {"proto": "tcp", "ports": "3389", "cidr": "0.0.0.0/0"},
    "tcp/3389 open to 0.0.0.0/0 — not in spec",
    world_open=True,
)
WANT_443 = Change(
    "remove",
    "ingress",
    {"proto": "tcp", "ports": "443", "cidr": "0.0.0.0/0"},
    None,
    "tcp/443 from 0.0.0.0/0 is in the spec but not open",
)
WANT_80 = Change(
    "remove",
    "ingress",
    {"proto": "tcp", "ports": "80", "cidr": "0.0.0.0/0"},
    None,
    "tcp/80 from 0.0.0.0/0 is in the spec but not open",
)


def actor(name: str, event: str = "AuthorizeSecurityGroupIngress") -> Actor:
    return Actor(
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        event_name=event,
        event_time="2025-03-01T09:00:00Z",
        event_id=f"evt-{name}",
    )


def finding(status: Status, *changes: Change, **fields: Any) -> Finding:
    values: dict[str, Any] = {
        "kind": SECURITY_GROUP,
        "id": SG,
        "name": "web",
        "account": ACCOUNT,
        "region": REGION,
        "status": status,
        "changes": changes,
        "spec": SPEC,
    }
    values.update(fields)
    return Finding(**values)


def drifted(*changes: Change, **fields: Any) -> Finding:
    return finding(Status.DRIFTED, *changes, **fields)


def in_sync(**fields: Any) -> Finding:
    return finding(Status.IN_SYNC, **fields)


def unknown(reason: str, **fields: Any) -> Finding:
    return finding(Status.UNKNOWN, reason=reason, **fields)
