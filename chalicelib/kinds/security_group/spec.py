"""Security-group spec documents -> `SecurityGroupSpec`, with every mistake at its field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.canonical import (
    ALL,
    ICMP,
    PORTED,
    canonical_ports,
    canonical_proto,
    cidr_version,
    parse_ports,
)
from chalicelib.kinds.security_group.model import (
    Direction,
    PeerType,
    Rule,
    SecurityGroupSpec,
    SecurityGroupState,
)
from chalicelib.specs.builder import Issue, Issues, Skip
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.yamldoc import FieldPath, SpecDocument, format_path

RuleKey = tuple[str, str, int | None, int | None, str, str]

PEER_KEYS: tuple[PeerType, ...] = ("cidr", "cidr6", "group", "prefix_list")
GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]+$")
PREFIX_LIST_RE = re.compile(r"^pl-[0-9a-f]+$")


def _as_list(value: Any, path: FieldPath) -> list[tuple[Any, FieldPath]]:
    """A scalar or a list of them, each with its own path (lists expand to one rule each)."""
    if isinstance(value, list):
        return [(item, (*path, index)) for index, item in enumerate(value)]
    return [(value, path)]


def _proto_label(proto: str) -> str:
    return "all" if proto == ALL else proto


def _port_ranges(
    raw: Mapping[str, Any], proto: str, path: FieldPath, issues: Issues
) -> list[tuple[int | None, int | None, FieldPath | None]]:
    """(from, to, path of a listed port) for each port range the rule expands to."""
    has_ports = "ports" in raw
    range_keys = [k for k in ("from_port", "to_port") if k in raw]
    if has_ports and range_keys:
        issues.add((*path, "ports"), "use either ports or from_port/to_port, not both")
        return []
    if proto not in PORTED and proto not in ICMP:
        if has_ports or range_keys:
            key = "ports" if has_ports else range_keys[0]
            issues.add((*path, key), f"proto {_proto_label(proto)} has no ports; remove {key}")
            return []
        return [(None, None, None)]
    from_port, to_port = raw.get("from_port"), raw.get("to_port")
    if proto in ICMP:
        if has_ports:
            issues.add(
                (*path, "ports"),
                f"{proto} has no ports; use from_port (ICMP type) and to_port (ICMP code)",
            )
            return []
        ok = True
        for key, value in (("from_port", from_port), ("to_port", to_port)):
            if value is not None and not -1 <= value <= 255:
                issues.add((*path, key), f"{value} is out of range -1-255 for {proto}")
                ok = False
        if ok and from_port == -1 and to_port not in (None, -1):
            issues.add((*path, "to_port"), "with ICMP type -1 (any) the code must be -1 too")
            ok = False
        if not ok:
            return []
        low, high = canonical_ports(proto, from_port, to_port)
        return [(low, high, None)]
    if has_ports:
        out: list[tuple[int | None, int | None, FieldPath | None]] = []
        listed = isinstance(raw["ports"], list)
        for value, item_path in _as_list(raw["ports"], (*path, "ports")):
            try:
                low, high = parse_ports(value)
            except ValueError as exc:
                issues.add(item_path, str(exc))
                continue
            out.append((low, high, item_path if listed else None))
        return out if len(out) == len(_as_list(raw["ports"], ())) else []
    ok = True
    for key, value in (("from_port", from_port), ("to_port", to_port)):
        if value is not None and not 0 <= value <= 65535:
            issues.add((*path, key), f"{value} is out of range 0-65535 for {proto}")
            ok = False
    low, high = canonical_ports(proto, from_port, to_port)
    if ok and low is not None and high is not None and low > high:
        issues.add((*path, "from_port"), f"from_port {low} is after to_port {high}")
        ok = False
    return [(low, high, None)] if ok else []


def _peer(peer_type: PeerType, value: str, path: FieldPath, issues: Issues) -> str | None:
    """The canonical peer, or None after recording why it is invalid."""
    if peer_type in ("cidr", "cidr6"):
        want = 4 if peer_type == "cidr" else 6
        try:
            version, canonical = cidr_version(value.strip())
        except ValueError:
            issues.add(path, f"{value!r} is not a valid IPv{want} CIDR (like 10.0.0.0/8)")
            return None
        if version != want:
            other = "cidr6" if peer_type == "cidr" else "cidr"
            issues.add(path, f"{value!r} is an IPv{version} CIDR; write it under {other}")
            return None
        return canonical
    if peer_type == "prefix_list":
        if not PREFIX_LIST_RE.match(value):
            issues.add(path, f"{value!r} is not a prefix list id (pl- and hex digits)")
            return None
        return value
    # Group names are compared exactly, as AWS stores them.
    if not value:
        issues.add(path, "must not be empty")
        return None
    if value.startswith("sg-") and not GROUP_ID_RE.match(value):
        issues.add(path, f"{value!r} is not a valid group id (sg- and hex digits)")
        return None
    return value


_PORT_KEYS = ("ports", "from_port", "to_port")


def _rule(
    direction: Direction, raw: Mapping[str, Any], path: FieldPath, issues: Issues, skip: Skip
) -> list[tuple[Rule, FieldPath]]:
    """The canonical rules one written rule expands to, each with the path to point at."""
    # every part is checked even when another is wrong, and even when the schema rejected
    # another field of the rule: a rule with two mistakes reports both, so one validate
    # run shows all there is to fix; a part the schema rejected is left to its message
    proto: str | None = None
    if not skip((*path, "proto")):
        try:
            proto = canonical_proto(raw["proto"])
        except ValueError as exc:
            issues.add((*path, "proto"), str(exc))
    peers = [key for key in PEER_KEYS if key in raw]
    if len(peers) != 1:
        found = ", ".join(peers) if peers else "none"
        issues.add(
            path,
            f"a rule needs exactly one peer (cidr, cidr6, group or prefix_list); found {found}",
        )
    ports_rejected = any(skip((*path, key)) for key in _PORT_KEYS)
    ranges = (
        _port_ranges(raw, proto, path, issues) if proto is not None and not ports_rejected else []
    )
    if len(peers) != 1 or skip((*path, peers[0])):
        return []
    peer_type = peers[0]
    peers_out: list[tuple[str, FieldPath | None]] = []
    listed = isinstance(raw[peer_type], list)
    bad = False
    for value, item_path in _as_list(raw[peer_type], (*path, peer_type)):
        peer = _peer(peer_type, value, item_path, issues)
        if peer is None:
            bad = True
        else:
            peers_out.append((peer, item_path if listed else None))
    if bad or proto is None or not ranges or skip(path):
        return []
    description = raw.get("description")
    out = []
    for low, high, port_path in ranges:
        for peer, peer_path in peers_out:
            rule = Rule(direction, proto, low, high, peer_type, peer, description)
            out.append((rule, peer_path or port_path or path))
    return out


def _rules(
    doc: SpecDocument,
    direction: Direction,
    skip: Skip,
    issues: Issues,
    lines: dict[RuleKey, int],
) -> frozenset[Rule] | None:
    """The canonical rules of one direction; None when the direction is omitted."""
    if direction not in doc.data:
        return None
    items = doc.data[direction]
    rules: dict[RuleKey, tuple[Rule, FieldPath]] = {}
    if not isinstance(items, list):
        return frozenset()
    for index, raw in enumerate(items):
        path: FieldPath = (direction, index)
        if skip.rejected(path) or not isinstance(raw, dict):
            continue
        for rule, where in _rule(direction, raw, path, issues, skip):
            if rule.key in rules:
                first = rules[rule.key][1]
                issues.add(
                    where,
                    f"same rule as {format_path(first)} (line {doc.line_of(first)})",
                )
                continue
            rules[rule.key] = (rule, where)
            lines[rule.key] = doc.line_of(where)
    return frozenset(rule for rule, _ in rules.values())


def build_security_group(
    doc: SpecDocument, skip: Skip
) -> tuple[SecurityGroupSpec | None, list[Issue]]:
    """A SecurityGroupSpec from a schema-checked document, or the semantic issues."""
    data = doc.data
    issues = Issues(doc)
    name, group_id = data.get("name"), data.get("group_id")
    if name is None and group_id is None:
        issues.add((), "needs group_id or name to say which group it describes")
    if isinstance(name, str) and not skip(("name",)) and name.startswith("sg-"):
        hint = "; write it as group_id" if GROUP_ID_RE.match(name) else ""
        issues.add(("name",), f"group names cannot start with sg-{hint}")
    lines: dict[RuleKey, int] = {}
    ingress = _rules(doc, "ingress", skip, issues, lines)
    egress = _rules(doc, "egress", skip, issues, lines)
    tags = data.get("tags")
    if isinstance(tags, dict):
        for key in tags:
            if key.lower().startswith("aws:") and not skip(("tags", key)):
                issues.add(
                    ("tags", key),
                    "tags starting with aws: belong to AWS and are always ignored; remove it",
                )
    if issues.items:
        return None, issues.items
    spec = SecurityGroupSpec(
        source=doc.location(),
        group_id=group_id,
        name=name,
        vpc_id=data.get("vpc_id"),
        region=data.get("region"),
        account=data.get("account"),
        description=data.get("description"),
        ingress=ingress if ingress is not None else frozenset(),
        egress=egress,
        tags=dict(tags) if isinstance(tags, dict) else None,
        rule_lines=lines,
    )
    return spec, []


def _scope_overlaps(a: str | None, b: str | None) -> bool:
    """Scope fields overlap when equal or when either is omitted (a wildcard)."""
    return a is None or b is None or a == b


def _in_scope(wanted: str | None, actual: str | None) -> bool:
    return wanted is None or wanted == actual


def _where(spec: SecurityGroupSpec) -> str:
    return str(spec.source)


def security_group_conflicts(specs: Sequence[SecurityGroupSpec]) -> list[SpecError]:
    """Pairs of specs that could claim the same group, each reported on the later one."""
    errors: list[SpecError] = []
    by_id: dict[str, SecurityGroupSpec] = {}
    named: list[SecurityGroupSpec] = []
    for spec in specs:
        if spec.group_id is not None:
            first = by_id.get(spec.group_id)
            if first is not None:
                errors.append(
                    SpecError(
                        f"group {spec.group_id} is also specified in {_where(first)}",
                        spec.source.file,
                        spec.source.line,
                        "group_id",
                    )
                )
                continue
            by_id[spec.group_id] = spec
            # an id spec that also names its group: a name-only spec of that name in an
            # overlapping scope would claim the same group (decidable without AWS)
            twin = next((n for n in named if spec.name and _same_group(n, spec)), None)
            if twin is not None:
                errors.append(_twin_error(spec, twin))
            continue
        twin = next((i for i in by_id.values() if i.name and _same_group(spec, i)), None)
        if twin is not None:
            errors.append(_twin_error(spec, twin))
            named.append(spec)
            continue
        for first in named:
            if first.name == spec.name and all(
                _scope_overlaps(x, y)
                for x, y in (
                    (first.account, spec.account),
                    (first.region, spec.region),
                    (first.vpc_id, spec.vpc_id),
                )
            ):
                errors.append(
                    SpecError(
                        f"group {spec.name!r} is also specified in {_where(first)} and their "
                        "scopes overlap (an omitted account, region or vpc_id matches any); "
                        "give them different scopes or merge them",
                        spec.source.file,
                        spec.source.line,
                        "name",
                    )
                )
                break
        named.append(spec)
    return errors


def _same_group(name_spec: SecurityGroupSpec, id_spec: SecurityGroupSpec) -> bool:
    """Whether a name-only spec would match the group an id spec (with a name) declares."""
    return name_spec.name == id_spec.name and all(
        _scope_overlaps(x, y)
        for x, y in (
            (name_spec.account, id_spec.account),
            (name_spec.region, id_spec.region),
            (name_spec.vpc_id, id_spec.vpc_id),
        )
    )


def _twin_error(later: SecurityGroupSpec, first: SecurityGroupSpec) -> SpecError:
    by = "its id" if later.group_id else "its name"
    return SpecError(
        f"group {later.group_id or later.name!r} is specified by {by} here and also in"
        f" {_where(first)}: both would govern one group (keep one spec)",
        later.source.file,
        later.source.line,
        "group_id" if later.group_id else "name",
    )


def _index(
    catalog: SpecCatalog,
) -> tuple[Mapping[str, SecurityGroupSpec], Mapping[str | None, list[SecurityGroupSpec]]]:
    """Specs by group id, and the others by name (each name's specs in file order), so a
    sweep matches each live group in one lookup rather than a scan of every spec."""
    specs: tuple[SecurityGroupSpec, ...] = catalog.specs_of(SECURITY_GROUP)
    by_id = {s.group_id: s for s in specs if s.group_id is not None}
    by_name: dict[str | None, list[SecurityGroupSpec]] = {}
    for spec in specs:
        if spec.group_id is None:
            by_name.setdefault(spec.name, []).append(spec)
    return by_id, by_name


def match_security_group(
    catalog: SpecCatalog, state: SecurityGroupState
) -> SecurityGroupSpec | None:
    """The spec governing a live group: by group_id first, else by name within scope.

    Raises SpecError naming them when several specs claim the group (an id spec and a
    name spec: only the live group tells they are one).
    """
    matches = security_group_claimants(catalog, state)
    if len(matches) > 1:
        places = " and ".join(f"{_where(s)} (by {'id' if s.group_id else 'name'})" for s in matches)
        raise SpecError(
            f"group {state.group_id} ({state.name}) is governed by {len(matches)} specs:"
            f" {places}; which one applies cannot be told, keep one",
            matches[0].source.file,
            matches[0].source.line,
        )
    return matches[0] if matches else None


def security_group_claimants(
    catalog: SpecCatalog, state: SecurityGroupState
) -> list[SecurityGroupSpec]:
    """Every spec that would govern this live group: its id spec first, then by name."""
    catalog = catalog.about(SECURITY_GROUP, (state.group_id, state.name))
    by_id, by_name = catalog.memo("security_group.index", _index)
    found: SecurityGroupSpec | None = by_id.get(state.group_id)
    matches = [found] if found is not None else []
    matches += [
        spec
        for spec in by_name.get(state.name, ())
        if _in_scope(spec.account, state.account)
        and _in_scope(spec.region, state.region)
        and _in_scope(spec.vpc_id, state.vpc_id)
    ]
    return matches


def security_groups_in_scope(
    catalog: SpecCatalog, account: str, regions: Iterable[str]
) -> list[SecurityGroupSpec]:
    """Specs a sweep of `account` over `regions` is responsible for."""
    wanted = set(regions)
    return [
        spec
        for spec in catalog.specs_of(SECURITY_GROUP)
        if _in_scope(spec.account, account) and (spec.region is None or spec.region in wanted)
    ]


def unmatched_security_groups(
    catalog: SpecCatalog,
    states: Iterable[SecurityGroupState],
    account: str,
    regions: Iterable[str],
) -> list[SecurityGroupSpec]:
    """Specs in scope that no live group matched: the sweep's `missing` findings.

    `states` must be every group the sweep read in `account` over `regions`; a spec
    without a region is missing only when none of those regions has its group.
    """
    matched = {id(spec) for state in states for spec in security_group_claimants(catalog, state)}
    in_scope = security_groups_in_scope(catalog, account, regions)
    return [s for s in in_scope if id(s) not in matched]
