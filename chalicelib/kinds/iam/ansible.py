"""Ansible's IAM modules as IAM specs: `iam_managed_policy`, `iam_role`, `iam_user`,
`iam_group`, and `iam_policy` (an inline policy of one of those, by `iam_type`/`iam_name`).

One resource can be declared by several tasks: a role's inline policies come from its
`iam_policy` tasks and a user's groups from the `users` of `iam_group` tasks, so the
mapping sees every task at once. What no task writes takes the spec's safe default
(no inline policies, nothing attached, no boundary, member of no group).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.iam import IAM_GROUP, IAM_POLICY, IAM_ROLE, IAM_USER
from chalicelib.sources.ansible.model import (
    AnsibleTask,
    ArgPath,
    TaskIdentity,
    final_tasks,
    find_registered,
    text_arg,
)
from chalicelib.sources.declared import Declared

PRINCIPALS = {"iam_role": IAM_ROLE, "iam_user": IAM_USER, "iam_group": IAM_GROUP}
MODULES = frozenset({*PRINCIPALS, "iam_managed_policy", "iam_policy"})
PRINCIPAL_OF_TYPE = {"role": "iam_role", "user": "iam_user", "group": "iam_group"}


def _first(args: Mapping[str, Any], *keys: str) -> tuple[str | None, Any]:
    for key in keys:
        if args.get(key) is not None:
            return key, args[key]
    return None, None


def _document(task: AnsibleTask, key: str, value: Any, errors: list[SpecError]) -> Any:
    """A policy as the module takes it: a mapping, or JSON text (from a lookup)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            errors.append(task.error((key,), f"{key} is not JSON: {exc}"))
            return None
    return value


class _Doc:
    def __init__(self, task: AnsibleTask, kind: str, name: Any) -> None:
        self.task = task
        self.data: dict[str, Any] = {"kind": kind, "name": name}
        self.lines: dict[ArgPath, int] = {(): task.line, ("name",): task.line_of(("name",))}
        self.errors: list[SpecError] = []

    def put(self, field: str, value: Any, written: str) -> None:
        self.data[field] = value
        self.lines[(field,)] = self.task.line_of((written,))

    def declared(self) -> Declared | list[SpecError]:
        for path, ref in find_registered(self.data):
            self.errors.append(
                self.task.error(path, ref.unresolved("known only when Ansible runs"))
            )
        if self.errors:
            return self.errors
        return Declared(self.data, origin=self.task.file, line=self.task.line, lines=self.lines)


def _managed_policy(task: AnsibleTask) -> _Doc:
    args = task.args
    doc = _Doc(task, IAM_POLICY, _first(args, "policy_name", "name")[1])
    key, policy = _first(args, "policy")
    if key:
        doc.put("document", _document(task, key, policy, doc.errors), key)
    key, description = _first(args, "policy_description", "description")
    if key:
        doc.put("description", description, key)
    if args.get("path") is not None:
        doc.put("path", args["path"], "path")
    return doc


def _principal(task: AnsibleTask) -> _Doc:
    args = task.args
    doc = _Doc(task, PRINCIPALS[task.module], args.get("name"))
    if args.get("path") is not None:
        doc.put("path", args["path"], "path")
    if task.module == "iam_role":
        key, trust = _first(args, "assume_role_policy_document")
        if key:
            doc.put("trust_policy", _document(task, key, trust, doc.errors), key)
    key, managed = _first(args, "managed_policies", "managed_policy")
    if key:
        if args.get("purge_policies") is False:
            doc.errors.append(
                task.error(
                    ("purge_policies",),
                    "purge_policies: false keeps policies no task lists, but Setpoint compares "
                    "every attachment; set purge_policies: true or keep it in a Setpoint spec",
                )
            )
        doc.put("managed_policies", list(managed or []), key)
    key, boundary = _first(args, "boundary", "boundary_policy_arn", "permissions_boundary")
    if key and task.module != "iam_group":
        doc.put("permissions_boundary", boundary, key)
    if (
        args.get("tags") is not None
        and task.module != "iam_group"
        and args.get("purge_tags", True) is not False
    ):
        doc.put("tags", {str(k): str(v) for k, v in dict(args["tags"]).items()}, "tags")
    return doc


class IamAnsible:
    """The family's `AnsibleMapping`."""

    modules = MODULES

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        args = task.args
        if task.module == "iam_policy":
            # an inline policy is part of its role, user or group
            kind = {"role": IAM_ROLE, "user": IAM_USER, "group": IAM_GROUP}.get(
                str(args.get("iam_type")), IAM_ROLE
            )
            return TaskIdentity(kind, text_arg(args, "iam_name"), part=True)
        if task.module == "iam_managed_policy":
            return TaskIdentity(IAM_POLICY, text_arg(args, "policy_name", "name"))
        return TaskIdentity(PRINCIPALS[task.module], text_arg(args, "name"))

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]:
        def key(task: AnsibleTask) -> tuple[str, ...]:
            a = task.args
            if task.module == "iam_policy":
                return (
                    "inline",
                    str(a.get("iam_type")),
                    str(a.get("iam_name")),
                    str(a.get("policy_name")),
                )
            if task.module == "iam_managed_policy":
                return (task.module, str(_first(a, "policy_name", "name")[1]))
            return (task.module, str(a.get("name")))

        kept = final_tasks(tasks, key)
        docs: dict[tuple[str, str], _Doc] = {}
        out: list[_Doc] = []
        for task in kept:
            if task.module in PRINCIPALS:
                doc = _principal(task)
                docs[(task.module, str(task.args.get("name")))] = doc
                out.append(doc)
            elif task.module == "iam_managed_policy":
                out.append(_managed_policy(task))
        errors: list[SpecError] = []
        for task in kept:
            if task.module == "iam_policy":
                errors.extend(self._inline(task, docs))
            elif task.module == "iam_group":
                errors.extend(self._members(task, docs))
        for doc in docs.values():
            if doc.data["kind"] == IAM_USER:
                doc.data.setdefault("groups", [])
        yield from errors
        for doc in out:
            result = doc.declared()
            if isinstance(result, Declared):
                yield result
            else:
                yield from result

    def _inline(self, task: AnsibleTask, docs: dict[tuple[str, str], _Doc]) -> list[SpecError]:
        args = task.args
        module = PRINCIPAL_OF_TYPE.get(str(args.get("iam_type")))
        if module is None:
            return [task.error(("iam_type",), "iam_type must be role, user or group")]
        owner = docs.get((module, str(args.get("iam_name"))))
        if owner is None:
            return [
                task.error(
                    ("iam_name",),
                    f"inline policy for {args.get('iam_type')} {args.get('iam_name')!r}, which "
                    f"no {module} task declares; Setpoint needs the whole {args.get('iam_type')}",
                )
            ]
        errors: list[SpecError] = []
        key, policy = _first(args, "policy_json", "policy_document")
        if key is None:
            return [task.error(("policy_json",), "an inline policy needs policy_json")]
        document = _document(task, key, policy, errors)
        owner.data.setdefault("inline_policies", {})[str(args.get("policy_name"))] = document
        owner.lines[("inline_policies", str(args.get("policy_name")))] = task.line
        return errors

    def _members(self, task: AnsibleTask, docs: dict[tuple[str, str], _Doc]) -> list[SpecError]:
        for user in task.args.get("users") or []:
            doc = docs.get(("iam_user", str(user)))
            if doc is not None:
                doc.data.setdefault("groups", []).append(str(task.args.get("name")))
        return []


def mapping() -> IamAnsible:
    return IamAnsible()
