"""What to do about a load balancer's change: the `aws elbv2` command that reverts it, and
the spec edit that accepts it. Pure: the commands are text.

Where a revert needs what a spec does not hold (target group ARNs for a default action or
a new listener, the certificate list), the advice is a console action in words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.kinds.load_balancer.model import Listener, LoadBalancerSpec, LoadBalancerState
from chalicelib.model import Change
from chalicelib.next_steps import IMPORT_HINT, aws_command, yaml_flow

Advice = tuple[str | None, str | None]
# What a plaintext listener that forwards should do instead: send everyone to HTTPS.
HTTPS_REDIRECT = [
    {
        "Type": "redirect",
        "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
    }
]


def _elbv2(operation: str, state: LoadBalancerState, *args: tuple[str, Any]) -> str:
    return aws_command("elbv2", operation, *args, region=state.region)


def _by_port(listeners: tuple[Listener, ...] | None) -> Mapping[int, Listener]:
    return {listener.port: listener for listener in listeners or ()}


def _listener_arg(listener: Listener | None, state: LoadBalancerState) -> tuple[str, str] | None:
    if listener is None or listener.arn is None:
        return None
    return ("listener-arn", listener.arn)


def _console(state: LoadBalancerState, what: str) -> str:
    return f"in the EC2 console, Load Balancers → {state.name}: {what}"


def _listener_advice(change: Change, spec: LoadBalancerSpec, state: LoadBalancerState) -> Advice:
    _, port_text, *rest = change.path.split(".")
    port = int(port_text)
    field = rest[0] if rest else None
    live = _by_port(state.listeners).get(port)
    want = _by_port(spec.listeners).get(port)
    target = _listener_arg(live, state)
    if field is None:
        if change.op == "add":
            revert = _elbv2("delete-listener", state, target) if target else None
            return revert, f"add to listeners: {yaml_flow(change.actual)}"
        return (
            _console(state, f"add the listener on port {port} the spec describes"),
            f"remove from listeners: the one on port {port}",
        )
    accept = f"in listeners, the one on port {port}: set {field}: {yaml_flow(change.actual)}"
    if target is None or want is None:
        return None, accept
    if field == "ssl_policy" and want.ssl_policy:
        return _elbv2("modify-listener", state, target, ("ssl-policy", want.ssl_policy)), accept
    if field == "protocol":
        args: list[tuple[str, Any]] = [target, ("protocol", want.protocol)]
        if want.ssl_policy:
            args.append(("ssl-policy", want.ssl_policy))
        if want.certificates:
            args.append(("certificates", [{"CertificateArn": want.certificates[0]}]))
        return _elbv2("modify-listener", state, *args), accept
    return _console(state, f"set the {field} of the listener on port {port} to the spec's"), accept


def _groups_revert(spec: LoadBalancerSpec, state: LoadBalancerState) -> str:
    by_name = {name: gid for gid, name in state.group_names.items()}
    ids = [e if e.startswith("sg-") else by_name.get(e, e) for e in spec.security_groups or ()]
    unknown = [i for i in ids if not i.startswith("sg-")]
    if unknown:
        return _console(state, f"attach the spec's security groups ({', '.join(unknown)} by name)")
    return _elbv2(
        "set-security-groups",
        state,
        ("load-balancer-arn", state.arn),
        ("security-groups", sorted(ids)),
    )


def _tag_advice(change: Change, state: LoadBalancerState) -> Advice:
    key = change.path.removeprefix("tags.")
    arns = ("resource-arns", [state.arn])
    if change.op == "add":
        return (
            _elbv2("remove-tags", state, arns, ("tag-keys", [key])),
            f"add to tags: {yaml_flow({key: change.actual})}",
        )
    revert = _elbv2("add-tags", state, arns, ("tags", [{"Key": key, "Value": change.expected}]))
    if change.op == "remove":
        return revert, f"remove the tag {key} from tags"
    return revert, f"set in tags: {yaml_flow({key: change.actual})}"


def drift_next_steps(
    spec: LoadBalancerSpec, state: LoadBalancerState
) -> Callable[[Change], Advice]:
    """(revert, accept) for each change of a load balancer that has a spec."""

    def advise(change: Change) -> Advice:
        top = change.path.split(".", 1)[0]
        if top == "listeners":
            return _listener_advice(change, spec, state)
        if top == "security_groups":
            value = change.actual if change.op == "add" else change.expected
            verb = "add to" if change.op == "add" else "remove from"
            return _groups_revert(spec, state), f"{verb} security_groups: {yaml_flow(value)}"
        if top == "attributes":
            key = change.path.removeprefix("attributes.")
            revert = _elbv2(
                "modify-load-balancer-attributes",
                state,
                ("load-balancer-arn", state.arn),
                ("attributes", [{"Key": key, "Value": "true" if change.expected else "false"}]),
            )
            return revert, f"set in attributes: {yaml_flow({key: change.actual})}"
        if top == "tags":
            return _tag_advice(change, state)
        if top in ("type", "scheme"):
            return (
                f"a load balancer's {top} cannot be changed: create it again as the spec says",
                f"set {top}: {yaml_flow(change.actual)}",
            )
        return None, None

    return advise


def unmanaged_next_steps(state: LoadBalancerState) -> Callable[[Change], Advice]:
    """A plaintext listener forwarding from the internet: redirect it to HTTPS, or write a spec."""
    listeners = _by_port(state.listeners)

    def advise(change: Change) -> Advice:
        if not change.world_open or change.op != "add":
            return None, None
        port = int(change.path.split(".")[1])
        target = _listener_arg(listeners.get(port), state)
        if target is None:
            return None, IMPORT_HINT.format(id=state.arn)
        revert = _elbv2("modify-listener", state, target, ("default-actions", HTTPS_REDIRECT))
        return revert, IMPORT_HINT.format(id=state.arn)

    return advise
