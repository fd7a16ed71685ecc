"""`--specs ansible:PATH`: a playbook, or a directory of playbooks and roles, as specs.

Each family's mapping (`Family.ansible`) turns the tasks of its modules into spec
documents, which go through the kind's schema and builder like a hand-written spec.
Findings name the task's file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from chalicelib.errors import ConfigError, SpecError
from chalicelib.sources.ansible.model import AnsibleMapping, AnsibleTask
from chalicelib.sources.ansible.playbook import Frame, Play, Reader
from chalicelib.sources.ansible.variables import inventory_layers
from chalicelib.sources.ansible.yamlfile import load_file
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.specs.catalog import SpecCatalog, Undeclared

# folders of roles, inventories and collections, never playbooks themselves
NOT_PLAYBOOKS = frozenset(
    [
        "roles",
        "group_vars",
        "host_vars",
        "vars",
        "defaults",
        "tasks",
        "handlers",
        "templates",
        "files",
        "meta",
        "collections",
        "molecule",
        "library",
        "filter_plugins",
        "module_utils",
    ]
)


def mappings() -> list[AnsibleMapping]:
    from chalicelib.kinds.registry import FAMILIES

    return [family.ansible() for family in FAMILIES if family.ansible is not None]


def _is_playbook(data: object) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(p, dict) for p in data)
        and any(("hosts" in p or "import_playbook" in p) for p in data if isinstance(p, dict))
    )


def find_playbooks(root: Path) -> list[Path]:
    """Playbooks under `root` that no other playbook imports (those are read through it)."""
    found: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(p.startswith(".") or p in NOT_PLAYBOOKS for p in relative.parts[:-1]):
            continue
        if path.suffix not in (".yml", ".yaml") or not path.is_file():
            continue
        try:
            data = load_file(path, str(path))
        except SpecError:
            continue  # not read as a playbook; a broken one is reported when imported
        if _is_playbook(data):
            imports = [
                (path.parent / str(p["import_playbook"])).resolve()
                for p in data
                if isinstance(p, dict) and "import_playbook" in p
            ]
            found[path] = imports
    imported = {target for targets in found.values() for target in targets}
    return [path for path in found if path.resolve() not in imported]


def read_source(target: str, mapped: list[AnsibleMapping]) -> tuple[Reader, str]:
    path = Path(target)
    if not path.exists():
        raise ConfigError(f"ansible:{target}: no such playbook file or directory")
    modules = frozenset(m for mapping in mapped for m in mapping.modules)
    if path.is_file():
        shown_root = os.path.dirname(target)
        reader = Reader(path.parent, shown_root, modules)
        reader.playbook(path)
        return reader, target
    reader = Reader(path, target, modules)
    playbooks = find_playbooks(path)
    for playbook in playbooks:
        reader.playbook(playbook)
    if not playbooks:
        roles = (
            [path]
            if (path / "tasks").is_dir()
            else sorted(p for p in (path / "roles").glob("*") if (p / "tasks").is_dir())
        )
        if not roles:
            raise ConfigError(f"ansible:{target}: no playbooks or roles found")
        inventory = inventory_layers([path], [], reader.show)
        for role in roles:  # roles no playbook uses: each as if a play ran it alone
            frame = Frame(path=role, shown=target, play_dir=role.parent)
            reader.role(role.name, frame, Play(layers=tuple(reversed(inventory))), {}, "main", None)
    return reader, target


def load_ansible(target: str) -> SpecCatalog:
    from chalicelib.specs.loading import build_catalog

    mapped = mappings()
    reader, name = read_source(target, mapped)
    items: list[Declared | SpecError] = list(reader.errors)
    for mapping in mapped:
        for item in mapping.declare([t for t in reader.tasks if t.module in mapping.modules]):
            # a registered result known only when Ansible runs (or whose task is itself
            # unresolved): that task's resource is unknown, like an undefined variable
            if not isinstance(item, SpecError) or not (tasks := _tasks_at(reader.tasks, item)):
                items.append(item)
                continue
            reader.unresolved.extend((task, (item,)) for task in tasks)
    catalog = build_catalog([declared_file(name, items)])
    return replace(catalog, undeclared=tuple(undeclared_of(reader, mapped)))


def _tasks_at(tasks: list[AnsibleTask], error: SpecError) -> list[AnsibleTask]:
    """The tasks written where an unresolved-expression `error` points (every iteration
    of a looped task); none for any other error."""
    if not error.message.startswith("cannot resolve"):
        return []
    return [
        task
        for task in tasks
        if task.file == error.file and error.line in (task.line, *task.lines.values())
    ]


def _mapping_of(task: AnsibleTask, mapped: list[AnsibleMapping]) -> AnsibleMapping:
    return next(m for m in mapped if task.module in m.modules)


def undeclared_of(reader: Reader, mapped: list[AnsibleMapping]) -> list[Undeclared]:
    """The resources of tasks that cannot be resolved (each `unknown`, naming file, line
    and expression), then those whose last task says `state: absent`."""
    out: list[Undeclared] = []
    grouped: dict[int, tuple[AnsibleTask, list[SpecError]]] = {}
    for task, problems in reader.unresolved:
        grouped.setdefault(id(task), (task, []))[1].extend(problems)
    for task, why in grouped.values():
        who = _mapping_of(task, mapped).identify(task)
        reason = "; ".join(str(problem) for problem in why)
        out.append(
            Undeclared(
                "unresolved", task.file, task.line, reason, who.kind, who.name, who.id, who.region
            )
        )
    last: dict[tuple[str, str | None, str | None, str | None], tuple[AnsibleTask, bool]] = {}
    for task in reader.tasks:
        if id(task) in grouped:
            continue
        who = _mapping_of(task, mapped).identify(task)
        if who.part or (who.name is None and who.id is None):
            continue
        absent = str(task.args.get("state", "present")) == "absent"
        key = (who.kind, who.name, who.id, who.region)
        last.pop(key, None)  # insertion order follows the last task
        last[key] = (task, absent)
    for (kind, name, ident, region), (task, absent) in last.items():
        if absent:
            reason = f"{task.module} with state: absent"
            out.append(
                Undeclared("absent", task.file, task.line, reason, kind, name, ident, region)
            )
    return out


def ansible_provider(target: str) -> Callable[[], SpecCatalog]:
    """Read once per process: playbooks change with a commit, not during a check."""
    cached: list[SpecCatalog] = []

    def load() -> SpecCatalog:
        if not cached:
            cached.append(load_ansible(target))
        return cached[0]

    return load
