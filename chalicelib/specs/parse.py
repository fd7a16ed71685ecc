"""Spec documents -> canonical desired state, one builder per kind.

`parse_file` runs the whole check for one file: YAML (with lines), the kind's JSON Schema,
then the builder, which is also the semantic check (CIDRs parse, ports in range, exactly
one peer). Builders only look at parts of a document the schema accepted, so one run
reports every independent mistake without cascades. Kinds are looked up in `KINDS`; a
new kind is a schema file, a builder and one table row.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.compare.canonical import (
    ALL,
    ICMP,
    PORTED,
    canonical_cidr,
    canonical_ports,
    canonical_proto,
    parse_ports,
)
from chalicelib.errors import SpecError
from chalicelib.kinds.iam.spec import (
    build_iam_group,
    build_iam_policy,
    build_iam_role,
    build_iam_user,
)
from chalicelib.kinds.s3_bucket.spec import build_s3_bucket
from chalicelib.model import Direction, PeerType, Rule, SecurityGroupSpec, SourceLocation
from chalicelib.specs.validate import schema_problems
from chalicelib.specs.yamldoc import FieldPath, SpecDocument, format_path, load_yaml

# Every spec object a builder can return; grows with each kind.
# Each kind's spec dataclass; kinds added later bring their own (all carry `.source`).
AnySpec = Any
Issue = tuple[FieldPath, SpecError]
RuleKey = tuple[str, str, int | None, int | None, str, str]

PEER_KEYS: tuple[PeerType, ...] = ("cidr", "cidr6", "group", "prefix_list")
GROUP_ID_RE = re.compile(r"^sg-[0-9a-f]+$")
PREFIX_LIST_RE = re.compile(r"^pl-[0-9a-f]+$")


class Skip:
    """Paths the schema already rejected: a builder leaves them (and their parents) alone."""

    def __init__(self, bad: Iterable[FieldPath]) -> None:
        self._bad = tuple(bad)

    def __call__(self, path: FieldPath) -> bool:
        return any(bad[: len(path)] == path or path[: len(bad)] == bad for bad in self._bad)


Builder = Callable[[SpecDocument, Skip], tuple[AnySpec | None, list[Issue]]]


@dataclass(frozen=True)
class KindHandler:
    """How one `kind:` is checked and built."""

    kind: str
    schema: str
    build: Builder


@dataclass(frozen=True)
class ParsedSpec:
    kind: str
    spec: AnySpec


@dataclass(frozen=True)
class ParsedFile:
    """Everything one file yielded: its specs, or the errors that stop it being used."""

    name: str
    specs: tuple[ParsedSpec, ...]
    errors: tuple[SpecError, ...]


class _Issues:
    def __init__(self, doc: SpecDocument) -> None:
        self.doc = doc
        self.items: list[Issue] = []

    def add(self, path: FieldPath, message: str) -> None:
        self.items.append((path, self.doc.error(path, message)))


def _as_list(value: Any, path: FieldPath) -> list[tuple[Any, FieldPath]]:
    """A scalar or a list of them, each with its own path (lists expand to one rule each)."""
    if isinstance(value, list):
        return [(item, (*path, index)) for index, item in enumerate(value)]
    return [(value, path)]


def _proto_label(proto: str) -> str:
    return "all" if proto == ALL else proto


def _port_ranges(
    raw: Mapping[str, Any], proto: str, path: FieldPath, issues: _Issues
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


def _peer(peer_type: PeerType, value: str, path: FieldPath, issues: _Issues) -> str | None:
    """The canonical peer, or None after recording why it is invalid."""
    if peer_type in ("cidr", "cidr6"):
        want = 4 if peer_type == "cidr" else 6
        try:
            version = ipaddress.ip_network(value.strip(), strict=False).version
            canonical = canonical_cidr(value)
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


def _rule(
    direction: Direction, raw: Mapping[str, Any], path: FieldPath, issues: _Issues
) -> list[tuple[Rule, FieldPath]]:
    """The canonical rules one written rule expands to, each with the path to point at."""
    try:
        proto = canonical_proto(raw["proto"])
    except ValueError as exc:
        issues.add((*path, "proto"), str(exc))
        return []
    peers = [key for key in PEER_KEYS if key in raw]
    if len(peers) != 1:
        found = ", ".join(peers) if peers else "none"
        issues.add(
            path,
            f"a rule needs exactly one peer (cidr, cidr6, group or prefix_list); found {found}",
        )
    ranges = _port_ranges(raw, proto, path, issues)
    if len(peers) != 1 or not ranges:
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
    if bad:
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
    issues: _Issues,
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
        if skip(path) or not isinstance(raw, dict):
            continue
        for rule, where in _rule(direction, raw, path, issues):
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
    issues = _Issues(doc)
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
        source=SourceLocation(doc.file, doc.line),
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


KINDS: Mapping[str, KindHandler] = {
    "security_group": KindHandler(
        "security_group", "security_group.schema.json", build_security_group
    ),
    "s3_bucket": KindHandler("s3_bucket", "s3_bucket.schema.json", build_s3_bucket),
    "iam_policy": KindHandler("iam_policy", "iam_policy.schema.json", build_iam_policy),
    "iam_role": KindHandler("iam_role", "iam_role.schema.json", build_iam_role),
    "iam_user": KindHandler("iam_user", "iam_user.schema.json", build_iam_user),
    "iam_group": KindHandler("iam_group", "iam_group.schema.json", build_iam_group),
}


def _covered(combinator: FieldPath, explained: list[FieldPath]) -> bool:
    """Whether a clearer error at or below this path already explains a combinator failure.

    At the root only an error about the root itself counts: any field error is "below" it.
    """
    if not combinator:
        return () in explained
    return any(path[: len(combinator)] == combinator for path in explained)


def parse_document(doc: SpecDocument) -> tuple[ParsedSpec | None, list[SpecError]]:
    """Check one document against its kind's schema and build it; all errors at once."""
    data = doc.data
    if not isinstance(data, dict):
        kind_of = "a list" if isinstance(data, list) else repr(data)
        return None, [doc.error((), f"a spec must be a mapping of fields, not {kind_of}")]
    known = ", ".join(KINDS)
    kind = data.get("kind")
    if kind is None:
        return None, [doc.error(("kind",), f"missing required field 'kind' (one of: {known})")]
    if not isinstance(kind, str) or kind not in KINDS:
        close = difflib.get_close_matches(str(kind), list(KINDS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known kinds: {known}"
        return None, [doc.error(("kind",), f"unknown kind {kind!r} ({hint})")]
    handler = KINDS[kind]
    problems = schema_problems(doc, handler.schema)
    plain = [p for p in problems if not p.combinator]
    spec, issues = handler.build(doc, Skip(p.path for p in plain))
    explained = [p.path for p in plain] + [path for path, _ in issues]
    errors = [p.error for p in plain] + [error for _, error in issues]
    errors += [p.error for p in problems if p.combinator and not _covered(p.path, explained)]
    if errors or spec is None:
        return None, _tidy(errors)
    return ParsedSpec(kind, spec), []


def _tidy(errors: Iterable[SpecError]) -> list[SpecError]:
    """Drop exact repeats and order by line, so reports read top to bottom."""
    seen: set[tuple[str, int | None, str | None, str]] = set()
    out = []
    for error in errors:
        key = (error.file, error.line, error.field, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return sorted(out, key=lambda e: e.line or 0)


def parse_file(name: str, text: str) -> ParsedFile:
    """Parse every document of one spec file; `name` is what errors and findings show."""
    documents, errors = load_yaml(name, text)
    specs: list[ParsedSpec] = []
    for doc in documents:
        parsed, doc_errors = parse_document(doc)
        errors.extend(doc_errors)
        if parsed is not None:
            specs.append(parsed)
    return ParsedFile(name, tuple(specs), tuple(_tidy(errors)))
