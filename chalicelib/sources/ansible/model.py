"""What a playbook task holds for Setpoint, and what a family's mapping must provide."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.errors import SpecError
from chalicelib.sources.declared import Declared

ArgPath = tuple[str | int, ...]


@dataclass(frozen=True)
class AnsibleTask:
    """One task of a module a family maps, its arguments with variables resolved."""

    file: str  # the playbook or role file, as shown
    line: int  # the task's first line
    module: str  # the short module name ("ec2_security_group"), FQCN prefix removed
    args: Mapping[str, Any]
    name: str | None = None  # the task's `name:`
    register: str | None = None  # the task's `register:`, for `{{ x.group_id }}` elsewhere
    # argument path -> line where it is written (`("rules", 0)` -> the rule's line)
    lines: Mapping[ArgPath, int] = field(default_factory=dict, compare=False)

    def line_of(self, path: ArgPath) -> int:
        """The line of `path`, or of its nearest written parent (the task at worst)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.line

    def error(self, path: ArgPath, message: str) -> SpecError:
        field_name = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path)
        return SpecError(
            message, self.file, self.line_of(path), field_name.replace(".[", "[") or None
        )


@dataclass(frozen=True)
class Registered:
    """An argument that is another task's registered result (`{{ sg_elb.group_id }}`):
    only the mapping knows which resource that task declares, so it resolves it (or
    reports it unresolved, naming `expression`)."""

    variable: str  # the `register:` name
    path: tuple[str | int, ...]  # attributes taken from it: ("group_id",)
    expression: str  # the template as written
    task: AnsibleTask | None  # the registering task, when it is of a mapped module
    origin: str  # "file:line" of the registering task, for messages

    def unresolved(self, why: str) -> str:
        return (
            f"cannot resolve {self.expression!r}: {self.variable} is registered by the task "
            f"at {self.origin}, {why}"
        )


@dataclass(frozen=True)
class TaskIdentity:
    """Which resource a task is about, as far as its arguments say: what an unresolved
    task makes `unknown`, and what a final `state: absent` says must not exist."""

    kind: str
    name: str | None
    id: str | None = None
    region: str | None = None
    # a part of the resource (an inline policy of a role): its `state: absent` removes the
    # part, which the resource's spec already leaves out, not the resource
    part: bool = False


def text_arg(args: Mapping[str, Any], *keys: str) -> str | None:
    """The first of `keys` that holds a string (an unresolved argument holds None)."""
    for key in keys:
        value = args.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class AnsibleMapping(Protocol):
    """A family's translation of its Ansible modules' tasks into spec documents."""

    @property
    def modules(self) -> frozenset[str]: ...

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]: ...

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        """The resource `task` is about (its name None when that is what cannot resolve)."""
        ...


def final_tasks(
    tasks: Sequence[AnsibleTask], key: Callable[[AnsibleTask], Hashable]
) -> list[AnsibleTask]:
    """The tasks that decide each resource's end state, in order: a later `state: absent`
    task cancels the earlier ones for that resource (Ansible would delete it), and is
    itself left out, so the resource is declared by no task of this source."""
    alive: dict[Hashable, list[AnsibleTask]] = {}
    for task in tasks:
        if str(task.args.get("state", "present")) == "absent":
            alive.pop(key(task), None)
        else:
            alive.setdefault(key(task), []).append(task)
    kept = {id(t) for group in alive.values() for t in group}
    return [t for t in tasks if id(t) in kept]


def find_registered(value: Any, path: ArgPath = ()) -> list[tuple[ArgPath, Registered]]:
    """Every registered-result reference left in `value`, with its argument path."""
    if isinstance(value, Registered):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [hit for k, v in value.items() for hit in find_registered(v, (*path, k))]
    if isinstance(value, list):
        return [hit for i, v in enumerate(value) for hit in find_registered(v, (*path, i))]
    return []
