"""Terraform's ELBv2 resources -> `load_balancer` spec documents.

A load balancer is declared by `aws_lb`, each `aws_lb_listener` whose `load_balancer_arn`
is its ARN, and each `aws_lb_listener_certificate` of those listeners (or their `aws_alb*`
aliases), from any state. The spec says exactly that: the listeners found are every
listener (one added by hand is drift), a listener's certificates are its default one and
its extra ones. Target groups are named by name (the name is in the ARN), security groups
by id, as the state has them. Gateway load balancers are not a Setpoint kind: left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.model import (
    ACCESS_LOGS,
    APPLICATION,
    DELETION_PROTECTION,
    DROP_INVALID_HEADERS,
    FIXED_RESPONSE,
    FORWARD,
    INTERNAL,
    INTERNET_FACING,
    NETWORK,
    REDIRECT,
    TLS_PROTOCOLS,
    target_group_name,
)
from chalicelib.sources.declared import Declared
from chalicelib.sources.terraform.attributes import (
    account_of,
    first_block,
    is_sensitive,
    region_of,
    tags_of,
)
from chalicelib.sources.terraform.model import TfInstance

BALANCERS = frozenset({"aws_lb", "aws_alb"})
LISTENERS = frozenset({"aws_lb_listener", "aws_alb_listener"})
CERTIFICATES = frozenset({"aws_lb_listener_certificate", "aws_alb_listener_certificate"})
TYPES = BALANCERS | LISTENERS | CERTIFICATES
COVERED = frozenset({APPLICATION, NETWORK})
REDIRECT_FIELDS = ("protocol", "port", "host", "path", "query", "status_code")


BALANCER_READS = (
    "name",
    "arn",
    "region",
    "load_balancer_type",
    "internal",
    "security_groups",
    "enable_deletion_protection",
    "drop_invalid_header_fields",
    "access_logs",
    "tags",
    "tags_all",
)
LISTENER_READS = (
    "arn",
    "load_balancer_arn",
    "region",
    "port",
    "protocol",
    "ssl_policy",
    "certificate_arn",
)
# what the mapping reads of each default action: never an authenticate_* block, whose
# client secret the provider marks sensitive
ACTION_READS = ("type", "order", "target_group_arn", "forward", "redirect", "fixed_response")
CERTIFICATE_READS = ("listener_arn", "certificate_arn")


def _reads(instance: TfInstance) -> list[tuple[str | int, ...]]:
    if instance.type in BALANCERS:
        return [(name,) for name in BALANCER_READS]
    if instance.type in CERTIFICATES:
        return [(name,) for name in CERTIFICATE_READS]
    paths: list[tuple[str | int, ...]] = [(name,) for name in LISTENER_READS]
    actions = instance.attributes.get("default_action")
    for index in range(len(actions) if isinstance(actions, list) else 0):
        paths.extend(("default_action", index, key) for key in ACTION_READS)
    return paths


def refused(instance: TfInstance) -> SpecError | None:
    """An error naming the first value read that the state marks sensitive (set from a
    sensitive variable), never the value; None when there is none."""
    if not instance.sensitive:
        return None
    for path in _reads(instance):
        if is_sensitive(instance, path):
            shown = str(path[0]) + "".join(
                f"[{part}]" if isinstance(part, int) else f".{part}" for part in path[1:]
            )
            return SpecError(
                f"{shown} is marked sensitive in the state; Setpoint does not read"
                " sensitive values",
                instance.label,
                field=str(path[0]),
            )
    return None


def _text(attributes: Mapping[str, Any], key: str) -> str:
    value = attributes.get(key)
    return value if isinstance(value, str) else ""


def _block(attributes: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested block as the state holds it (a list of at most one object); {} for none."""
    return first_block(attributes.get(key)) or {}


def arn_parts(arn: str) -> tuple[str, str, str] | None:
    """`arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID` ->
    (region, account, name); None when it is not a load balancer's."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "elasticloadbalancing":
        return None
    path = parts[5].split("/")
    if len(path) < 4 or path[0] != "loadbalancer":
        return None
    return parts[3], parts[4], path[2]


def _type_of(arn: str) -> str | None:
    """ "app" / "net" in the ARN: what a listener alone says of its load balancer."""
    path = arn.split(":", 5)[-1].split("/")
    return {"app": APPLICATION, "net": NETWORK}.get(path[1]) if len(path) > 1 else "gateway"


def _order(instance: TfInstance, block: Mapping[str, Any]) -> int:
    """An action's `order` (absent: 0); a state that holds no whole number there is refused."""
    value = block.get("order")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SpecError(
            f"default_action order {value!r} is not a number",
            instance.label,
            field="default_action",
        )
    try:
        return int(value)
    except (ValueError, OverflowError):  # "x", NaN, infinity
        raise SpecError(
            f"default_action order {value!r} is not a number",
            instance.label,
            field="default_action",
        ) from None


def parse_default_action(instance: TfInstance) -> dict[str, Any]:
    """The action a listener's requests end in: the last by `order` that is not an
    authentication step, in the spec's words; a SpecError naming the listener otherwise."""
    raw = instance.attributes.get("default_action")
    blocks = [b for b in raw if isinstance(b, Mapping)] if isinstance(raw, list) else []
    ordered = sorted(enumerate(blocks), key=lambda pair: (_order(instance, pair[1]), pair[0]))
    terminal = [b for _, b in ordered if not _text(b, "type").startswith("authenticate")]
    if not terminal:
        raise SpecError(
            "no forward, redirect or fixed-response default action",
            instance.label,
            field="default_action",
        )
    action = terminal[-1]
    kind = _text(action, "type")
    if kind == FORWARD:
        arns = [_text(action, "target_group_arn")]
        for group in _block(action, "forward").get("target_group") or []:
            if isinstance(group, Mapping):
                arns.append(_text(group, "arn"))
        names = sorted({target_group_name(arn) for arn in arns if arn})
        if not names:
            raise SpecError("forwards to no target group", instance.label, field="default_action")
        return {"forward": names[0] if len(names) == 1 else names}
    if kind == REDIRECT:
        config = _block(action, "redirect")
        return {"redirect": {k: str(config[k]) for k in REDIRECT_FIELDS if config.get(k)}}
    if kind == FIXED_RESPONSE:
        config = _block(action, "fixed_response")
        fields = ("status_code", "content_type", "message_body")
        return {"fixed_response": {k: str(config[k]) for k in fields if config.get(k)}}
    raise SpecError(
        f"default action type {kind!r} is not one Setpoint compares",
        instance.label,
        field="default_action",
    )


class LoadBalancerTerraform:
    """The load balancer family's Terraform mapping (`Family.terraform`)."""

    types = TYPES

    def declare(self, instances: Sequence[TfInstance]) -> Iterable[Declared | SpecError]:
        out: list[Declared | SpecError] = []
        readable = []
        for instance in instances:
            if instance.type not in TYPES:
                continue
            error = refused(instance)
            if error is None:
                readable.append(instance)
            else:
                out.append(error)
        instances = readable
        balancers = [i for i in instances if i.type in BALANCERS]
        listeners: dict[str, list[TfInstance]] = {}
        extra: dict[str, list[str]] = {}
        for instance in instances:
            attributes = instance.attributes
            if instance.type in LISTENERS:
                listeners.setdefault(_text(attributes, "load_balancer_arn"), []).append(instance)
            elif instance.type in CERTIFICATES:
                certificate = _text(attributes, "certificate_arn")
                if certificate:
                    extra.setdefault(_text(attributes, "listener_arn"), []).append(certificate)
        declared: set[str] = set()
        for balancer in balancers:
            arn = _text(balancer.attributes, "arn")
            declared.add(arn)
            out.extend(self._balancer(balancer, listeners.get(arn, []), extra))
        for arn, orphans in listeners.items():
            if arn not in declared:
                out.extend(self._listeners_only(arn, orphans, extra))
        return out

    def _balancer(
        self, instance: TfInstance, listeners: list[TfInstance], extra: Mapping[str, list[str]]
    ) -> list[Declared | SpecError]:
        attributes = instance.attributes
        kind = _text(attributes, "load_balancer_type") or APPLICATION
        if kind not in COVERED:
            return []
        region = region_of(instance)
        if not region:
            return [
                SpecError("no region (and no ARN to take it from)", instance.label, field="arn")
            ]
        data: dict[str, Any] = {
            "kind": LOAD_BALANCER.value,
            "name": _text(attributes, "name"),
            "region": region,
        }
        account = account_of(instance)
        if account:
            data["account"] = account
        data["type"] = kind
        data["scheme"] = INTERNAL if attributes.get("internal") else INTERNET_FACING
        groups = attributes.get("security_groups")
        data["security_groups"] = sorted(
            {g for g in groups if isinstance(g, str)} if isinstance(groups, list) else set()
        )
        data["attributes"] = self._attributes(attributes, kind)
        tags = tags_of(instance)
        if tags is not None:
            data["tags"] = {k: v for k, v in tags.items() if not k.lower().startswith("aws:")}
        built, errors = self._listeners(listeners, extra)
        if errors:
            return list(errors)
        data["listeners"] = built
        return [Declared(data, instance.label)]

    def _listeners_only(
        self, arn: str, listeners: list[TfInstance], extra: Mapping[str, list[str]]
    ) -> list[Declared | SpecError]:
        """Listeners of a load balancer no state declares: the spec holds only them."""
        parts = arn_parts(arn)
        if parts is None or _type_of(arn) not in COVERED:
            return []
        built, errors = self._listeners(listeners, extra)
        if errors:
            return list(errors)
        region, account, name = parts
        data = {
            "kind": LOAD_BALANCER.value,
            "name": name,
            "region": _text(listeners[0].attributes, "region") or region,
            "account": account,
            "listeners": built,
        }
        return [Declared(data, listeners[0].label)]

    @staticmethod
    def _attributes(attributes: Mapping[str, Any], kind: str) -> dict[str, bool]:
        found = {DELETION_PROTECTION: bool(attributes.get("enable_deletion_protection"))}
        if kind == APPLICATION:
            found[DROP_INVALID_HEADERS] = bool(attributes.get("drop_invalid_header_fields"))
        found[ACCESS_LOGS] = bool(_block(attributes, "access_logs").get("enabled"))
        return found

    @staticmethod
    def _listeners(
        listeners: list[TfInstance], extra: Mapping[str, list[str]]
    ) -> tuple[list[dict[str, Any]], list[SpecError]]:
        built: list[dict[str, Any]] = []
        errors: list[SpecError] = []
        ports: dict[int, TfInstance] = {}
        for instance in listeners:
            attributes = instance.attributes
            port = attributes.get("port")
            if not isinstance(port, int):
                errors.append(SpecError("no port", instance.label, field="port"))
                continue
            if port in ports:
                errors.append(
                    SpecError(
                        f"port {port} is also {ports[port].label}'s", instance.label, field="port"
                    )
                )
                continue
            ports[port] = instance
            try:
                action = parse_default_action(instance)
            except SpecError as exc:
                errors.append(exc)
                continue
            protocol = _text(attributes, "protocol")
            listener: dict[str, Any] = {"port": port, "protocol": protocol}
            if protocol in TLS_PROTOCOLS:
                if _text(attributes, "ssl_policy"):
                    listener["ssl_policy"] = _text(attributes, "ssl_policy")
                certificates = {_text(attributes, "certificate_arn")}
                certificates |= set(extra.get(_text(attributes, "arn"), []))
                certificates.discard("")
                if certificates:
                    listener["certificates"] = sorted(certificates)
            listener["default_action"] = action
            built.append(listener)
        return sorted(built, key=lambda item: int(item["port"])), errors


def mapping() -> LoadBalancerTerraform:
    """The lazy factory `Family.terraform` calls."""
    return LoadBalancerTerraform()
