"""`kind: load_balancer` documents -> `LoadBalancerSpec`, and the duplicate check.

The schema has checked shapes; this builder states the rules a schema says badly: one
listener per port, a TLS policy or certificates only on HTTPS/TLS listeners, no HTTP
attribute on a network load balancer, a security group listed once, no `aws:` tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.load_balancer.model import (
    APPLICATION_ONLY,
    ATTRIBUTES,
    FIXED_RESPONSE,
    FORWARD,
    NETWORK,
    REDIRECT_DEFAULTS,
    TLS_PROTOCOLS,
    Action,
    Listener,
    LoadBalancerSpec,
    redirect,
    target_group_name,
)
from chalicelib.specs.builder import Issue, Issues, Skip
from chalicelib.specs.yamldoc import FieldPath, SpecDocument


class _Issues(Issues):
    def __init__(self, doc: SpecDocument, skip: Skip) -> None:
        super().__init__(doc)
        self.skip = skip

    def add(self, path: FieldPath, message: str) -> None:
        if not self.skip(path):
            super().add(path, message)


def _action(raw: Any, path: FieldPath, issues: _Issues) -> Action | None:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        issues.add(path, "a default action is exactly one of forward, redirect or fixed_response")
        return None
    ((key, value),) = raw.items()
    where: FieldPath = (*path, key)
    if key == "forward":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            issues.add(where, "forward names a target group, or a list of them, by name")
            return None
        groups = tuple(sorted({target_group_name(str(n)) for n in names}))
        return Action(FORWARD, target_groups=groups)
    if key == "redirect" and isinstance(value, Mapping):
        fields = {k: str(value[k]) for k in REDIRECT_DEFAULTS if value.get(k) is not None}
        return redirect(fields, str(value.get("status_code", "")))
    if key == "fixed_response" and isinstance(value, Mapping):
        return Action(
            FIXED_RESPONSE,
            status_code=str(value.get("status_code", "")),
            content_type=value.get("content_type") or None,
            message_body=value.get("message_body") or None,
        )
    return None


def _listeners(data: Mapping[str, Any], issues: _Issues) -> tuple[Listener, ...] | None:
    raw = data.get("listeners")
    if not isinstance(raw, list):
        return None
    found: dict[int, int] = {}
    listeners = []
    for index, item in enumerate(raw):
        path: FieldPath = ("listeners", index)
        if issues.skip.rejected(path) or not isinstance(item, Mapping):
            continue
        # each part is checked unless the schema rejected that part itself: a listener with
        # two mistakes reports both in one run
        port = None if issues.skip((*path, "port")) else int(item.get("port", 0))
        protocol = None if issues.skip((*path, "protocol")) else str(item.get("protocol", ""))
        if port is not None and port in found:
            issues.add((*path, "port"), f"port {port} is also listeners[{found[port]}]")
            continue
        if port is not None:
            found[port] = index
        for key in ("ssl_policy", "certificates"):
            if key in item and protocol is not None and protocol not in TLS_PROTOCOLS:
                issues.add((*path, key), f"{key} only applies to HTTPS and TLS, not {protocol}")
        where: FieldPath = (*path, "default_action")
        action = None if issues.skip(where) else _action(item.get("default_action"), where, issues)
        if action is None or port is None or protocol is None or issues.skip(path):
            continue  # no listener is built from a partly rejected item
        listeners.append(
            Listener(
                port=port,
                protocol=protocol,
                default_action=action,
                ssl_policy=item.get("ssl_policy"),
                certificates=tuple(sorted(set(item.get("certificates", []) or []))),
            )
        )
    return tuple(sorted(listeners))


def _groups(data: Mapping[str, Any], issues: _Issues) -> tuple[str, ...] | None:
    raw = data.get("security_groups")
    if not isinstance(raw, list):
        return None
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, str):
            continue
        if entry in seen:
            issues.add(
                ("security_groups", index), f"{entry} is also security_groups[{seen[entry]}]"
            )
        seen.setdefault(entry, index)
    return tuple(seen)


def _attributes(data: Mapping[str, Any], issues: _Issues) -> dict[str, bool]:
    raw = data.get("attributes")
    if not isinstance(raw, Mapping):
        return {}
    for key in raw:
        if key in APPLICATION_ONLY and data.get("type") == NETWORK:
            issues.add(("attributes", key), "network load balancers have no HTTP routing")
    return {key: bool(raw[key]) for key in ATTRIBUTES if isinstance(raw.get(key), bool)}


def _tags(data: Mapping[str, Any], issues: _Issues) -> dict[str, str] | None:
    tags = data.get("tags")
    if not isinstance(tags, Mapping):
        return None
    for key in tags:
        if str(key).lower().startswith("aws:"):
            issues.add(
                ("tags", key), "tags starting with aws: belong to AWS and are always ignored"
            )
    return {str(k): str(v) for k, v in tags.items()}


def build_load_balancer(
    doc: SpecDocument, skip: Skip
) -> tuple[LoadBalancerSpec | None, list[Issue]]:
    """A LoadBalancerSpec from a schema-checked document, or the semantic issues."""
    data = doc.data
    issues = _Issues(doc, skip)
    listeners = _listeners(data, issues)
    groups = _groups(data, issues)
    attributes = _attributes(data, issues)
    tags = _tags(data, issues)
    name, region = data.get("name"), data.get("region")
    if issues.items or not isinstance(name, str) or not isinstance(region, str):
        return None, issues.items
    return (
        LoadBalancerSpec(
            source=doc.location(),
            name=name,
            region=region,
            account=data.get("account"),
            type=data.get("type"),
            scheme=data.get("scheme"),
            security_groups=groups,
            listeners=listeners,
            attributes=attributes,
            tags=tags,
        ),
        [],
    )


def _overlap(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def load_balancer_conflicts(specs: Sequence[LoadBalancerSpec]) -> list[SpecError]:
    """Two specs that could claim one load balancer (same name and region, overlapping account)."""
    errors: list[SpecError] = []
    seen: list[LoadBalancerSpec] = []
    for spec in specs:
        for first in seen:
            if (
                first.name == spec.name
                and first.region == spec.region
                and _overlap(first.account, spec.account)
            ):
                errors.append(
                    SpecError(
                        f"load balancer {spec.name!r} in {spec.region} is also specified in "
                        f"{first.source}",
                        spec.source.file,
                        spec.source.line,
                        "name",
                    )
                )
                break
        seen.append(spec)
    return errors


def match_load_balancer(
    specs: Sequence[LoadBalancerSpec], name: str, account: str | None, region: str
) -> LoadBalancerSpec | None:
    """The spec for a live load balancer: same name and region, and account when given."""
    for spec in specs:
        if (
            spec.name == name
            and spec.region == region
            and (spec.account is None or account is None or spec.account == account)
        ):
            return spec
    return None
