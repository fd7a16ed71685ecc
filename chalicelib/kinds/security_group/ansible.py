"""Ansible's `ec2_security_group` (and its old name `ec2_group`) as security-group specs.

The spec vocabulary follows this module's rules, so most arguments carry over: `rules`
-> `ingress` (omitted: none), `rules_egress` -> `egress` (omitted: the AWS default
all-out rule, as the module does), `cidr_ip`/`cidr_ipv6`/`ip_prefix`/`group_id`/
`group_name` -> one peer each, `rule_desc` -> `description`. A peer given as another
task's registered result (`{{ sg_elb.group_id }}`) is the group that task declares.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.sources.ansible.model import (
    AnsibleTask,
    ArgPath,
    Registered,
    TaskIdentity,
    final_tasks,
    find_registered,
    text_arg,
)
from chalicelib.sources.declared import Declared

MODULES = frozenset({"ec2_security_group", "ec2_group"})
# rule argument -> spec rule field, for the peers (each peer becomes a rule of its own)
PEERS = {"cidr_ip": "cidr", "cidr_ipv6": "cidr6", "ip_prefix": "prefix_list"}
GROUP_PEERS = ("group_id", "group_name")
SPEC_TO_ARG = {"description": "rule_desc", **{field: arg for arg, field in PEERS.items()}}
ALL_PROTOS = {"all", "-1", -1}
# every rule argument the module documents; anything else is a typo Ansible would refuse
RULE_ARGS = frozenset(
    {
        *PEERS,
        *GROUP_PEERS,
        "proto",
        "ip_protocol",
        "ports",
        "from_port",
        "to_port",
        "icmp_type",
        "icmp_code",
        "rule_desc",
        "group_desc",
        "group_owner",
    }
)
REGION_KEYS = ("region", "aws_region", "ec2_region")


def _region(args: Mapping[str, Any]) -> Any:
    return next((args[k] for k in REGION_KEYS if args.get(k) is not None), None)


def _key(task: AnsibleTask) -> Hashable:
    args = task.args
    if isinstance(args.get("group_id"), str):
        return ("id", args["group_id"])
    return ("name", str(args.get("name")), str(args.get("vpc_id")), str(_region(args)))


def _number(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


class _Declaring:
    """One task -> one spec document, with the line of each field."""

    def __init__(self, task: AnsibleTask) -> None:
        self.task = task
        self.lines: dict[ArgPath, int] = {(): task.line}
        self.errors: list[SpecError] = []

    def note(self, spec_path: ArgPath, arg_path: ArgPath) -> None:
        self.lines[spec_path] = self.task.line_of(arg_path)

    def rules(self, raw: Any, arg: str, direction: str) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            self.errors.append(self.task.error((arg,), f"{arg} must be a list of rules"))
            return []
        out: list[dict[str, Any]] = []
        for index, rule in enumerate(raw):
            path: ArgPath = (arg, index)
            if not isinstance(rule, Mapping):
                self.errors.append(self.task.error(path, "a rule must be a mapping"))
                continue
            unknown = sorted(str(k) for k in rule if k not in RULE_ARGS)
            if unknown:
                self.errors.append(
                    self.task.error((*path, unknown[0]), f"unknown rule argument {unknown[0]!r}")
                )
                continue
            for spec_rule, peer_arg in self.rule(rule, path):
                spec_path: ArgPath = (direction, len(out))
                self.note(spec_path, path)
                for field in spec_rule:
                    written = SPEC_TO_ARG.get(field, field) if field != "group" else peer_arg
                    self.note((*spec_path, field), (*path, written))
                out.append(spec_rule)
        return out

    def rule(self, rule: Mapping[str, Any], path: ArgPath) -> list[tuple[dict[str, Any], str]]:
        """An Ansible rule may name several peers (`cidr_ip` and `cidr_ipv6`): one spec
        rule per peer, sharing protocol, ports and description."""
        proto = _number(rule.get("proto", rule.get("ip_protocol", "tcp")))
        base: dict[str, Any] = {"proto": proto}
        # the module ignores ports for all traffic; a proto that is not text or a number
        # (a list) is the schema's to report, so its ports are kept for the schema too
        if not (isinstance(proto, str | int) and proto in ALL_PROTOS):
            for key in ("ports", "from_port", "to_port"):
                if rule.get(key) is not None:
                    base[key] = _number(rule[key])
            for key, field in (("icmp_type", "from_port"), ("icmp_code", "to_port")):
                if rule.get(key) is not None:
                    base[field] = _number(rule[key])
        if rule.get("rule_desc") is not None:
            base["description"] = rule["rule_desc"]
        peers: list[tuple[dict[str, Any], str]] = []
        for arg, field in PEERS.items():
            if rule.get(arg) is not None:
                peers.append(({**base, field: rule[arg]}, arg))
        for arg in GROUP_PEERS:
            value = rule.get(arg)
            if value is None:
                continue
            group = self.group_peer(value, (*path, arg), arg, rule)
            if group is not None:
                peers.append(({**base, "group": group}, arg))
        if not peers:
            peers.append((base, "proto"))  # the builder says which peer is missing
        return peers

    def group_peer(self, value: Any, path: ArgPath, arg: str, rule: Mapping[str, Any]) -> Any:
        if rule.get("group_owner") is not None and arg == "group_name":
            self.errors.append(
                self.task.error(path, "a peer group of another account must be given by group_id")
            )
            return None
        if isinstance(value, Registered):
            return self.registered_group(value, path)
        if isinstance(value, list):
            return [self.group_peer(v, path, arg, rule) for v in value]
        if arg == "group_id" and isinstance(value, str) and "/" in value:
            # "OWNER/sg-123/name": the group id is global, the owner is not compared
            parts = value.split("/")
            return next((p for p in parts if p.startswith("sg-")), value)
        return value

    def registered_group(self, ref: Registered, path: ArgPath) -> Any:
        source = ref.task
        if source is None or source.module not in MODULES:
            why = "which is not a security-group task Setpoint reads (or runs in a loop)"
            self.errors.append(self.task.error(path, ref.unresolved(why)))
            return None
        if ref.path != ("group_id",):
            attr = ".".join(str(p) for p in ref.path) or "the whole result"
            why = f"and only its group_id names a group, not {attr}"
            self.errors.append(self.task.error(path, ref.unresolved(why)))
            return None
        if str(source.args.get("state", "present")) == "absent":
            self.errors.append(self.task.error(path, ref.unresolved("which deletes the group")))
            return None
        return source.args.get("group_id") or source.args.get("name")


def declare_group(task: AnsibleTask) -> Declared | list[SpecError]:
    args = task.args
    work = _Declaring(task)
    doc: dict[str, Any] = {"kind": SECURITY_GROUP}
    for arg, field in (
        ("group_id", "group_id"),
        ("name", "name"),
        ("vpc_id", "vpc_id"),
        ("description", "description"),
    ):
        if args.get(arg) is not None:
            doc[field] = args[arg]
            work.note((field,), (arg,))
    region_key = next((k for k in REGION_KEYS if args.get(k) is not None), None)
    if region_key:
        doc["region"] = args[region_key]
        work.note(("region",), (region_key,))
    for arg in ("purge_rules", "purge_rules_egress"):
        if args.get(arg) is False:
            work.errors.append(
                task.error(
                    (arg,),
                    f"{arg}: false keeps rules no task lists, but Setpoint compares the whole "
                    f"rule set; remove {arg} (the default is true) or keep this group in a "
                    "Setpoint spec",
                )
            )
    if args.get("rules") is not None:
        doc["ingress"] = work.rules(args["rules"], "rules", "ingress")
    egress_arg = "rules_egress" if "rules_egress" in args else "egress_rules"
    if args.get(egress_arg) is not None:
        doc["egress"] = work.rules(args[egress_arg], egress_arg, "egress")
    if args.get("tags") is not None and args.get("purge_tags", True) is not False:
        doc["tags"] = {str(k): str(v) for k, v in dict(args["tags"]).items()}
        work.note(("tags",), ("tags",))
    for path, ref in find_registered(doc):
        work.errors.append(task.error(path, ref.unresolved("known only when Ansible runs")))
    if work.errors:
        return work.errors
    return Declared(doc, origin=task.file, line=task.line, lines=work.lines)


class SecurityGroupAnsible:
    """The family's `AnsibleMapping`."""

    modules = MODULES

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        args = task.args
        region = _region(args)
        return TaskIdentity(
            SECURITY_GROUP,
            text_arg(args, "name"),
            id=text_arg(args, "group_id"),
            region=region if isinstance(region, str) else None,
        )

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]:
        for task in final_tasks(tasks, _key):
            result = declare_group(task)
            if isinstance(result, Declared):
                yield result
            else:
                yield from result


def mapping() -> SecurityGroupAnsible:
    return SecurityGroupAnsible()
