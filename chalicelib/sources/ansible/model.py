"""What a playbook task holds for Setpoint, and what a family's mapping must provide."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.errors import SpecError
from chalicelib.sources.declared import Declared


@dataclass(frozen=True)
class AnsibleTask:
    """One task of a module a family maps, its arguments with variables resolved."""

    file: str  # the playbook or role file, as shown
    line: int  # the task's first line
    module: str  # the short module name ("ec2_security_group"), FQCN prefix removed
    args: Mapping[str, Any]
    name: str | None = None  # the task's `name:`
    register: str | None = None  # the task's `register:`, for `{{ x.group_id }}` elsewhere


class AnsibleMapping(Protocol):
    """A family's translation of its Ansible modules' tasks into spec documents."""

    @property
    def modules(self) -> frozenset[str]: ...

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]: ...
