"""What Setpoint may undo on a load balancer: a listener's TLS policy.

A listener whose TLS (or SSL) policy differs from the spec's gets the spec's back. The
change names the listener by its port (`listeners.443.ssl_policy`); its ARN is looked up
by the executor first (DescribeListeners, a read the collector makes anyway). A spec that
names no policy has nothing to put back. Pure: the spec in, the call's parameters out.
"""

from __future__ import annotations

from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.model import Change, Finding
from chalicelib.revert.table import Lookup, Plan, Undo

_LISTENER_ARN = "arn:${AWS::Partition}:elasticloadbalancing:*:${AWS::AccountId}:listener/*"


def _port(change: Change) -> int | None:
    parts = change.path.split(".")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _tls_policy(change: Change, finding: Finding, spec: object) -> Plan:
    if not isinstance(change.expected, str) or not change.expected:
        return "the spec names no TLS policy to put back"
    if _port(change) is None or not finding.id:
        return "the listener is not known"
    return (
        f"restore TLS policy {change.expected} on listener {_port(change)}",
        {"SslPolicy": change.expected},
    )


def _listener(change: Change, finding: Finding) -> Lookup | None:
    port = _port(change)
    if port is None or not finding.id:
        return None
    return Lookup(
        "DescribeListeners",
        {"LoadBalancerArn": finding.id},
        "Listeners",
        {"Port": port},
        "ListenerArn",
        "ListenerArn",
    )


def _scope(spec: object) -> tuple[str, ...]:
    name = getattr(spec, "name", "")
    region = getattr(spec, "region", None) or "*"
    base = f"arn:${{AWS::Partition}}:elasticloadbalancing:{region}:${{AWS::AccountId}}:listener"
    return (f"{base}/app/{name}/*", f"{base}/net/{name}/*")


REVERTS: tuple[Undo, ...] = (
    Undo(
        (LOAD_BALANCER,),
        "modify",
        "listeners.*.ssl_policy",
        "elbv2",
        "ModifyListener",
        "elasticloadbalancing:ModifyListener",
        _LISTENER_ARN,
        _tls_policy,
        lookup=_listener,
        scope=_scope,
    ),
)
