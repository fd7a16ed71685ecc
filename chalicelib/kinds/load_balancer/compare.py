"""Load balancer spec vs live state -> `Change`s and a `Finding`. Pure.

What a reviewer must see: a TLS policy that allows older TLS versions than the spec's
(each named), a plaintext listener that forwards on an internet-facing load balancer
(flagged as opening it to the internet, even with no spec), a changed scheme or type,
security groups attached or detached, the security attributes, listeners added, removed
or changed, and tags when the spec pins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.model import (
    APPLICATION_ONLY,
    ATTRIBUTES,
    FORWARD,
    INTERNET_FACING,
    PLAINTEXT,
    REDIRECT_DEFAULTS,
    TLS_PROTOCOLS,
    Action,
    Listener,
    LoadBalancerSpec,
    LoadBalancerState,
)
from chalicelib.kinds.load_balancer.next_steps import drift_next_steps, unmanaged_next_steps
from chalicelib.model import (
    Change,
    Finding,
    ResourceRef,
    Status,
    at_spec_fields,
    tag_pairs,
    with_next_steps,
)

# The TLS versions each predefined ELBv2 security policy allows (Elastic Load Balancing
# user guides, "Security policies for your Application/Network Load Balancer").
TLS_VERSIONS: Mapping[str, tuple[str, ...]] = {
    "ELBSecurityPolicy-TLS13-1-3-2021-06": ("1.3",),
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04": ("1.3",),
    "ELBSecurityPolicy-TLS13-1-2-2021-06": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04": ("1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-1-2021-06": ("1.1", "1.2", "1.3"),
    "ELBSecurityPolicy-TLS13-1-0-2021-06": ("1.0", "1.1", "1.2", "1.3"),
    "ELBSecurityPolicy-TLS-1-2-2017-01": ("1.2",),
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06": ("1.2",),
    "ELBSecurityPolicy-FS-1-2-2019-08": ("1.2",),
    "ELBSecurityPolicy-FS-1-2-Res-2019-08": ("1.2",),
    "ELBSecurityPolicy-FS-1-2-Res-2020-10": ("1.2",),
    "ELBSecurityPolicy-TLS-1-1-2017-01": ("1.1", "1.2"),
    "ELBSecurityPolicy-FS-1-1-2019-08": ("1.1", "1.2"),
    "ELBSecurityPolicy-2016-08": ("1.0", "1.1", "1.2"),
    "ELBSecurityPolicy-2015-05": ("1.0", "1.1", "1.2"),
    "ELBSecurityPolicy-TLS-1-0-2015-04": ("1.0", "1.1", "1.2"),
    "ELBSecurityPolicy-FS-2018-06": ("1.0", "1.1", "1.2"),
}


def tls_versions(policy: str | None) -> str:
    """ "TLS 1.0-1.2" for a known policy, else a note that Setpoint does not know it."""
    versions = TLS_VERSIONS.get(policy or "")
    if not versions:
        return "TLS versions not known to Setpoint"
    return f"TLS {versions[0]}" + (f"-{versions[-1]}" if len(versions) > 1 else "")


def weaker_policy(expected: str | None, actual: str | None) -> bool:
    """Whether `actual` allows a TLS version older than any `expected` allows."""
    want, have = TLS_VERSIONS.get(expected or ""), TLS_VERSIONS.get(actual or "")
    return bool(want and have and min(have) < min(want))


def action_to_spec(action: Action) -> dict[str, Any]:
    """The spec mapping for a default action (only fields that differ from AWS's defaults)."""
    if action.type == FORWARD:
        groups = list(action.target_groups)
        return {"forward": groups[0] if len(groups) == 1 else groups}
    if action.type == "redirect":
        body: dict[str, Any] = {
            key: getattr(action, key)
            for key, default in REDIRECT_DEFAULTS.items()
            if getattr(action, key) != default
        }
        body["status_code"] = action.status_code
        return {"redirect": body}
    if action.type == "fixed-response":
        fixed: dict[str, Any] = {"status_code": action.status_code}
        if action.content_type:
            fixed["content_type"] = action.content_type
        if action.message_body:
            fixed["message_body"] = action.message_body
        return {"fixed_response": fixed}
    return {"type": action.type}


def listener_to_spec(listener: Listener) -> dict[str, Any]:
    doc: dict[str, Any] = {"port": listener.port, "protocol": listener.protocol}
    if listener.ssl_policy:
        doc["ssl_policy"] = listener.ssl_policy
    if listener.certificates:
        doc["certificates"] = list(listener.certificates)
    doc["default_action"] = action_to_spec(listener.default_action)
    return doc


def _where(listener: Listener) -> str:
    return f"listener {listener.protocol}:{listener.port}"


def plaintext_forward(state: LoadBalancerState, listener: Listener) -> bool:
    """A listener that serves traffic from the internet without TLS."""
    return (
        state.scheme == INTERNET_FACING
        and listener.protocol in PLAINTEXT
        and listener.default_action.type == FORWARD
    )


def _plaintext_note(state: LoadBalancerState, listener: Listener) -> str:
    if plaintext_forward(state, listener):
        return "; plaintext on an internet-facing load balancer, forwarding instead of redirecting"
    return ""


def _listener_changes(expected: tuple[Listener, ...], state: LoadBalancerState) -> list[Change]:
    changes: list[Change] = []
    want = {item.port: item for item in expected}
    have = {item.port: item for item in state.listeners}
    for port in sorted(set(want) | set(have)):
        spec, live = want.get(port), have.get(port)
        path = f"listeners.{port}"
        if spec is None and live is not None:
            changes.append(
                Change(
                    "add",
                    path,
                    None,
                    listener_to_spec(live),
                    f"{_where(live)} ({live.default_action.describe()}) — not in spec"
                    + _plaintext_note(state, live),
                    world_open=plaintext_forward(state, live),
                )
            )
        elif live is None and spec is not None:
            changes.append(
                Change(
                    "remove",
                    path,
                    listener_to_spec(spec),
                    None,
                    f"{_where(spec)} (in spec) is gone",
                )
            )
        elif spec is not None and live is not None and spec != live:
            changes.extend(_one_listener(spec, live, state, path))
    return changes


def _one_listener(
    spec: Listener, live: Listener, state: LoadBalancerState, path: str
) -> list[Change]:
    changes: list[Change] = []
    where = _where(live)
    if spec.protocol != live.protocol:
        changes.append(
            Change(
                "modify",
                f"{path}.protocol",
                spec.protocol,
                live.protocol,
                f"{where}: protocol {live.protocol} (in spec: {spec.protocol})"
                + _plaintext_note(state, live),
                world_open=plaintext_forward(state, live),
            )
        )
    # on a TLS listener, a spec that leaves out the policy or certificates does not compare them
    tls_unpinned = live.protocol in TLS_PROTOCOLS and spec.protocol == live.protocol
    if spec.ssl_policy != live.ssl_policy and not (tls_unpinned and spec.ssl_policy is None):
        weaker = weaker_policy(spec.ssl_policy, live.ssl_policy)
        summary = (
            f"{where}: TLS policy {live.ssl_policy or 'none'} allows "
            f"{tls_versions(live.ssl_policy)} (in spec: {spec.ssl_policy or 'none'}, "
            f"{tls_versions(spec.ssl_policy)})"
        )
        if weaker:
            summary += " — older TLS versions than the spec allows"
        changes.append(
            Change("modify", f"{path}.ssl_policy", spec.ssl_policy, live.ssl_policy, summary)
        )
    if spec.certificates != live.certificates and not (tls_unpinned and not spec.certificates):
        added = sorted(set(live.certificates) - set(spec.certificates))
        removed = sorted(set(spec.certificates) - set(live.certificates))
        parts = [f"added {', '.join(added)}"] if added else []
        parts += [f"removed {', '.join(removed)}"] if removed else []
        changes.append(
            Change(
                "modify",
                f"{path}.certificates",
                list(spec.certificates),
                list(live.certificates),
                f"{where}: certificates {'; '.join(parts)}",
            )
        )
    if spec.default_action != live.default_action:
        opened = plaintext_forward(state, live) and spec.protocol == live.protocol
        changes.append(
            Change(
                "modify",
                f"{path}.default_action",
                action_to_spec(spec.default_action),
                action_to_spec(live.default_action),
                f"{where}: {live.default_action.describe()} "
                f"(in spec: {spec.default_action.describe()})"
                + (_plaintext_note(state, live) if opened else ""),
                world_open=opened,
            )
        )
    return changes


def _group_label(group_id: str, state: LoadBalancerState) -> str:
    name = state.group_names.get(group_id)
    return f"{name} ({group_id})" if name else group_id


def _group_changes(spec: LoadBalancerSpec, state: LoadBalancerState) -> list[Change]:
    if spec.security_groups is None or "security_groups" in state.unreadable:
        return []
    by_name = {name: gid for gid, name in state.group_names.items()}
    wanted: dict[str, str] = {}  # id (or unresolved name) -> what the spec wrote
    for entry in spec.security_groups:
        wanted[entry if entry.startswith("sg-") else by_name.get(entry, entry)] = entry
    changes = []
    for gid in sorted(state.security_groups - set(wanted)):
        changes.append(
            Change(
                "add",
                "security_groups",
                None,
                state.group_names.get(gid, gid),
                f"security group {_group_label(gid, state)} attached — not in spec",
            )
        )
    for key in sorted(set(wanted) - state.security_groups):
        changes.append(
            Change(
                "remove",
                "security_groups",
                wanted[key],
                None,
                f"security group {wanted[key]} (in spec) is not attached",
            )
        )
    return changes


def _attribute_changes(spec: LoadBalancerSpec, state: LoadBalancerState) -> list[Change]:
    if "attributes" in state.unreadable:
        return []
    changes = []
    for key in ATTRIBUTES:
        if key not in spec.attributes:
            continue
        want, have = spec.attributes[key], state.attributes.get(key)
        if have is None or want == have:
            continue
        word = "on" if have else "off"
        changes.append(
            Change(
                "modify",
                f"attributes.{key}",
                want,
                have,
                f"{key} is {word} (in spec: {'on' if want else 'off'})",
            )
        )
    return changes


def _tag_changes(spec: LoadBalancerSpec, state: LoadBalancerState) -> list[Change]:
    if spec.tags is None or "tags" in state.unreadable:
        return []
    live = {k: v for k, v in state.tags.items() if not k.lower().startswith("aws:")}
    changes = []
    for key in sorted(set(spec.tags) | set(live)):
        want, have = spec.tags.get(key), live.get(key)
        if want == have:
            continue
        if want is None:
            changes.append(
                Change("add", f"tags.{key}", None, have, f"tag {key}={have} — not in spec")
            )
        elif have is None:
            changes.append(
                Change("remove", f"tags.{key}", want, None, f"tag {key}={want} (in spec) is gone")
            )
        else:
            changes.append(
                Change("modify", f"tags.{key}", want, have, f"tag {key}={have} (in spec: {want})")
            )
    return changes


def compare_load_balancer(spec: LoadBalancerSpec, state: LoadBalancerState) -> tuple[Change, ...]:
    """Every departure of `state` from `spec`, in report order."""
    changes: list[Change] = []
    for field in ("type", "scheme"):
        want, have = getattr(spec, field), getattr(state, field)
        if want is not None and want != have:
            changes.append(
                Change("modify", field, want, have, f"{field} is {have} (in spec: {want})")
            )
    changes += _group_changes(spec, state)
    if spec.listeners is not None and "listeners" not in state.unreadable:
        changes += _listener_changes(spec.listeners, state)
    elif spec.listeners is None and "listeners" not in state.unreadable:
        changes += _baseline(state)
    changes += _attribute_changes(spec, state)
    changes += _tag_changes(spec, state)
    return tuple(changes)


def _baseline(state: LoadBalancerState) -> list[Change]:
    """What is flagged with no expectation written: plaintext listeners that forward."""
    return [
        Change(
            "add",
            f"listeners.{listener.port}",
            None,
            listener_to_spec(listener),
            f"{_where(listener)} ({listener.default_action.describe()})"
            + _plaintext_note(state, listener),
            world_open=True,
        )
        for listener in state.listeners
        if plaintext_forward(state, listener)
    ]


def _unread(spec: LoadBalancerSpec | None, state: LoadBalancerState) -> str | None:
    """The parts the spec compares that could not be read, in words."""
    compared = {"listeners"}
    if spec is not None:
        compared |= {"attributes"} if spec.attributes else set()
        compared |= {"tags"} if spec.tags is not None else set()
        compared |= {"security_groups"} if spec.security_groups is not None else set()
    parts = [
        f"{part} ({why})" for part, why in sorted(state.unreadable.items()) if part in compared
    ]
    return "could not read " + ", ".join(parts) if parts else None


def evaluate_load_balancer(
    spec: LoadBalancerSpec | None,
    state: LoadBalancerState | None,
    *,
    ref: ResourceRef | None = None,
) -> Finding:
    """The finding for one load balancer: in sync, drifted, unmanaged, missing or unknown."""
    if state is None:
        if spec is None:
            raise ValueError("evaluate_load_balancer needs a spec, a live load balancer, or both")
        # by name, never by an ARN: one made again under that name gets a new ARN, and
        # its finding (id and name) follows this record through the name's alias key
        return Finding(
            kind=LOAD_BALANCER,
            id=None,
            name=spec.name,
            account=spec.account or (ref.account if ref else None),
            region=spec.region,
            status=Status.MISSING,
            spec=str(spec.source),
            reason="the spec names a load balancer that does not exist",
        )
    unread = _unread(spec, state)
    if spec is None:
        changes = with_next_steps(_baseline(state), unmanaged_next_steps(state))
        reason = "no spec names this load balancer" + (f"; {unread}" if unread else "")
        return _finding(state, Status.UNMANAGED, changes, None, reason)
    changes = at_spec_fields(compare_load_balancer(spec, state), spec.source)
    changes = with_next_steps(changes, drift_next_steps(spec, state))
    if changes:
        return _finding(state, Status.DRIFTED, changes, str(spec.source), unread)
    if unread:
        return _finding(state, Status.UNKNOWN, (), str(spec.source), unread)
    return _finding(state, Status.IN_SYNC, (), str(spec.source), None)


def _finding(
    state: LoadBalancerState,
    status: Status,
    changes: tuple[Change, ...],
    spec: str | None,
    reason: str | None,
) -> Finding:
    return Finding(
        kind=LOAD_BALANCER,
        id=state.arn,
        name=state.name,
        account=state.account,
        region=state.region,
        status=status,
        changes=changes,
        spec=spec,
        reason=reason,
        tags=tag_pairs(state.tags),
    )


def applies(attribute: str, lb_type: str) -> bool:
    """Whether a load balancer of `lb_type` has `attribute` (HTTP routing is ALB only)."""
    return attribute not in APPLICATION_ONLY or lb_type == "application"
