"""What `setpoint validate` can tell about ignore rules without reading AWS: pure.

A `KIND:ID_GLOB` rule is checked against the ids and names the specs give; one that names
no spec is a warning (it may still match a resource no spec names: `check`, which reads
the live resources, lists a rule that matches nothing there). A tag rule needs the live
tags, so offline it can only be said to be unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from chalicelib.noise.model import IgnoreRule

# spec fields that hold what a rule's ID_GLOB may name (a group's id, every kind's name)
_NAMED_BY = ("group_id", "id", "arn", "name")


def _names(spec: Any) -> list[str]:
    return [value for f in _NAMED_BY if isinstance(value := getattr(spec, f, None), str)]


def _rule_text(rule: IgnoreRule) -> str:
    text = f"{rule.kind}:{rule.id_glob}" + (f":{rule.path_glob}" if rule.path_glob else "")
    return ("!" if rule.negate else "") + text


def rule_warnings(
    rules: Sequence[IgnoreRule], specs_by_kind: Mapping[str, Iterable[Any]]
) -> list[str]:
    """`FILE:LINE: warning: ...` for every rule that names no spec, then one line for the
    tag rules that cannot be checked offline."""
    warnings = []
    for rule in rules:
        if rule.kind is None:
            continue
        if rule.kind == "guard" and not rule.negate:
            warnings.append(
                f"{rule.source}: warning: ignore rule {_rule_text(rule)!r} silences the guard: "
                "a trail stopped or a Setpoint rule disabled there is no longer alerted"
            )
        specs = list(specs_by_kind.get(rule.kind, ()))
        if any(fnmatchcase(name, rule.id_glob or "") for spec in specs for name in _names(spec)):
            continue
        where = "no spec" if not specs else f"none of the {len(specs)} {rule.kind} spec(s)"
        warnings.append(
            f"{rule.source}: warning: ignore rule {_rule_text(rule)!r} matches {where} "
            "(a resource no spec names may still match it: `setpoint check` lists the rules "
            "that match nothing live)"
        )
    tags = [rule for rule in rules if rule.kind is None]
    if tags:
        lines = ", ".join(str(rule.source.line) for rule in tags)
        warnings.append(
            f"{tags[0].source.file}: note: {len(tags)} tag rule(s) (line {lines}) cannot be "
            "checked offline: tags are read from AWS (`setpoint check` lists the rules that "
            "match nothing)"
        )
    return warnings
