"""Live security groups -> spec YAML, for `setpoint import`.

The output is meant to be committed and reviewed, so it favours reading over brevity:
groups are named (name + vpc_id + region + account survive re-creation, an id does not),
peers are named when unambiguous, rules are sorted, egress is always explicit, and the
group id sits in a comment for people who need it. Parsing the output gives back exactly
the live rules, which is what lets `check` right after `import` report nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from chalicelib.compare.canonical import ALL, ICMP, rule_to_spec
from chalicelib.model import Rule, SecurityGroupState

# Where the schema sits relative to policies/<kind>/<file>.yaml in this repository.
DEFAULT_SCHEMA_REF = "../../chalicelib/specs/schema/setpoint.schema.json"

_PROTO_ORDER = {"tcp": 0, "udp": 1, "icmp": 2, "icmpv6": 3, ALL: 4}
_PEER_ORDER = {"cidr": 0, "cidr6": 1, "group": 2, "prefix_list": 3}


# Plain scalars that YAML 1.2 tools (editors, yq) would read as numbers, though PyYAML's
# YAML 1.1 rules keep them text: "012345678901", "1e3", "0o17".
_YAML12_NUMBER = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)
# Characters a YAML comment cannot hold: non-printables and the YAML 1.1 line breaks.
_NOT_IN_COMMENT = re.compile(
    "[^\x09\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


class SpecDumper(yaml.SafeDumper):
    """SafeDumper that indents list items under their key, as people write YAML."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _YAML12_NUMBER.fullmatch(value) else None
    if any(c in value for c in "\x85\u2028\u2029"):
        style = '"'  # PyYAML folds these line breaks in other styles; escapes keep them
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


SpecDumper.add_representer(str, _represent_str)


def _rule_order(rule: Rule) -> tuple[int, int, int, int, int, str, str]:
    proto_rank = _PROTO_ORDER.get(rule.proto, 5)
    number = int(rule.proto) if rule.proto.isdigit() else 0
    low = -2 if rule.from_port is None else rule.from_port
    high = -2 if rule.to_port is None else rule.to_port
    return (
        proto_rank,
        number,
        low,
        high,
        _PEER_ORDER[rule.peer_type],
        rule.peer,
        rule.description or "",
    )


def _rule_yaml(rule: Rule, group_names: Mapping[str, str]) -> dict[str, Any]:
    """One rule as a spec entry: numbers stay numbers, "any ICMP" needs no ports."""
    entry: dict[str, Any] = dict(rule_to_spec(rule, group_names))
    proto = entry["proto"]
    if isinstance(proto, str) and proto.isdigit():
        entry["proto"] = int(proto)
    ports = entry.get("ports")
    if isinstance(ports, str) and ports.isdigit():
        entry["ports"] = int(ports)
    if rule.proto in ICMP and entry.get("from_port") == -1 and entry.get("to_port") == -1:
        del entry["from_port"], entry["to_port"]
    return entry


def _rules_yaml(
    state: SecurityGroupState, direction: str, group_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    rules = sorted((r for r in state.rules if r.direction == direction), key=_rule_order)
    return [_rule_yaml(rule, group_names) for rule in rules]


def comment_safe(text: str) -> str:
    """Text that cannot break out of, or break, a YAML comment line."""
    return _NOT_IN_COMMENT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def render_security_group_spec(
    state: SecurityGroupState,
    *,
    group_names: Mapping[str, str],
    schema_ref: str = DEFAULT_SCHEMA_REF,
) -> str:
    """A spec file for `state` that parses back to exactly its rules.

    `group_names` maps group ids to names for peers that can be named unambiguously (one
    group of that name in the VPC); other peers are written by id. `schema_ref` is the
    schema path or URL written into the editor modeline.
    """
    document: dict[str, Any] = {"kind": "security_group", "name": state.name}
    if state.vpc_id:
        document["vpc_id"] = state.vpc_id
    document["region"] = state.region
    document["account"] = state.account
    document["description"] = state.description
    document["ingress"] = _rules_yaml(state, "ingress", group_names)
    document["egress"] = _rules_yaml(state, "egress", group_names)
    # Always written, `{}` included: an imported spec pins tags, so a tag added by hand to
    # an untagged group is drift like any other.
    document["tags"] = {
        k: v for k, v in sorted(state.tags.items()) if not k.lower().startswith("aws:")
    }
    where = f"in {state.vpc_id}" if state.vpc_id else "outside a VPC"
    header = (
        f"# Generated by `setpoint import` from account {state.account}, "
        f"region {state.region}.\n"
        f'# Live group: {state.group_id} ("{comment_safe(state.name)}" {where}). This spec '
        "matches it by name,\n"
        "# vpc_id, region and account, so it still applies if the group is re-created.\n"
        f"# yaml-language-server: $schema={schema_ref}\n"
    )
    body = yaml.dump(
        document,
        Dumper=SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return header + body


def spec_filename(state: SecurityGroupState) -> str:
    """A safe file name from the group name ("web.yaml"); callers add the id on clashes."""
    base = re.sub(r"[^a-z0-9._-]+", "-", state.name.lower()).strip("-._")[:100]
    return f"{base or state.group_id}.yaml"
