"""Ansible's `elb_application_lb` and `elb_network_lb` as load-balancer specs.

Listeners are written as the ELBv2 API spells them (`Protocol`, `Port`, `SslPolicy`,
`Certificates`, `DefaultActions`); a forward names its target group by name or ARN (the
spec compares names). The module's defaults carry over: `scheme` internet-facing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.sources.ansible.model import (
    AnsibleTask,
    ArgPath,
    TaskIdentity,
    final_tasks,
    find_registered,
    text_arg,
)
from chalicelib.sources.declared import Declared

TYPES = {"elb_application_lb": "application", "elb_network_lb": "network"}
MODULES = frozenset(TYPES)
REGION_KEYS = ("region", "aws_region", "ec2_region")
ATTRIBUTES = {
    "deletion_protection": "deletion_protection.enabled",
    "http_drop_invalid_header_fields": "routing.http.drop_invalid_header_fields.enabled",
    "access_logs_enabled": "access_logs.s3.enabled",
}


def _target_group(action: Mapping[str, Any]) -> Any:
    if action.get("TargetGroupName") is not None:
        return action["TargetGroupName"]
    arn = action.get("TargetGroupArn")
    if isinstance(arn, str) and ":targetgroup/" in arn:
        return arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return arn


def _action(task: AnsibleTask, path: ArgPath, raw: Any, errors: list[SpecError]) -> Any:
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], Mapping):
        errors.append(task.error(path, "DefaultActions must be a list of one action"))
        return None
    action = raw[0]
    kind = str(action.get("Type", "")).lower()
    if kind == "forward":
        return {"forward": _target_group(action)}
    if kind == "redirect":
        config = dict(action.get("RedirectConfig") or {})
        keys = {"Protocol": "protocol", "Port": "port", "Host": "host", "Path": "path"}
        keys |= {"Query": "query", "StatusCode": "status_code"}
        return {"redirect": {keys[k]: v for k, v in config.items() if k in keys}}
    if kind == "fixed-response":
        config = dict(action.get("FixedResponseConfig") or {})
        keys = {"StatusCode": "status_code", "ContentType": "content_type"}
        keys |= {"MessageBody": "message_body"}
        return {"fixed_response": {keys[k]: v for k, v in config.items() if k in keys}}
    errors.append(task.error((*path, 0, "Type"), f"action type {action.get('Type')!r} is not read"))
    return None


def declare_load_balancer(task: AnsibleTask) -> Declared | list[SpecError]:
    args = task.args
    errors: list[SpecError] = []
    lines: dict[ArgPath, int] = {(): task.line, ("name",): task.line_of(("name",))}
    doc: dict[str, Any] = {"kind": LOAD_BALANCER, "name": args.get("name")}
    doc["type"] = TYPES[task.module]
    doc["scheme"] = args.get("scheme") or "internet-facing"
    region_key = next((k for k in REGION_KEYS if args.get(k) is not None), None)
    if region_key:
        doc["region"] = args[region_key]
        lines[("region",)] = task.line_of((region_key,))
    if args.get("security_groups") is not None:
        doc["security_groups"] = list(args["security_groups"])
        lines[("security_groups",)] = task.line_of(("security_groups",))
    if args.get("listeners") is not None:
        if args.get("purge_listeners") is False:
            errors.append(
                task.error(
                    ("purge_listeners",),
                    "purge_listeners: false keeps listeners no task lists, but Setpoint compares "
                    "every listener; remove it or keep this one in a Setpoint spec",
                )
            )
        listeners = []
        for index, raw in enumerate(args["listeners"] or []):
            path: ArgPath = ("listeners", index)
            listener: dict[str, Any] = {"port": raw.get("Port"), "protocol": raw.get("Protocol")}
            if raw.get("SslPolicy") is not None:
                listener["ssl_policy"] = raw["SslPolicy"]
            if raw.get("Certificates") is not None:
                listener["certificates"] = [
                    c.get("CertificateArn") if isinstance(c, Mapping) else c
                    for c in raw["Certificates"]
                ]
            action = _action(task, (*path, "DefaultActions"), raw.get("DefaultActions"), errors)
            listener["default_action"] = action
            lines[path] = task.line_of(path)
            listeners.append(listener)
        doc["listeners"] = listeners
    attributes = {
        field: bool(args[arg]) for arg, field in ATTRIBUTES.items() if args.get(arg) is not None
    }
    if attributes:
        doc["attributes"] = attributes
    if args.get("tags") is not None and args.get("purge_tags", True) is not False:
        doc["tags"] = {str(k): str(v) for k, v in dict(args["tags"]).items()}
        lines[("tags",)] = task.line_of(("tags",))
    for ref_path, ref in find_registered(doc):
        errors.append(task.error(ref_path, ref.unresolved("known only when Ansible runs")))
    if errors:
        return errors
    return Declared(doc, origin=task.file, line=task.line, lines=lines)


class LoadBalancerAnsible:
    """The family's `AnsibleMapping`."""

    modules = MODULES

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        args = task.args
        return TaskIdentity(LOAD_BALANCER, text_arg(args, "name"), region=text_arg(args, "region"))

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]:
        def key(task: AnsibleTask) -> tuple[str, str]:
            return (str(task.args.get("name")), str(task.args.get("region")))

        for task in final_tasks(tasks, key):
            result = declare_load_balancer(task)
            if isinstance(result, Declared):
                yield result
            else:
                yield from result


def mapping() -> LoadBalancerAnsible:
    return LoadBalancerAnsible()
