"""Walks playbooks and roles in the order Ansible runs them, collecting mapped tasks.

Nothing is executed: plays, `roles:`, blocks, `include_tasks`/`import_tasks`,
`include_role`/`import_role`, `import_playbook`, `set_fact` and `include_vars` are read;
the arguments of tasks whose module a family maps are templated in the task's scope.
`rescue:` and handlers are not desired state (they run only on failure or notify).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.sources.ansible.model import AnsibleTask, ArgPath
from chalicelib.sources.ansible.templating import (
    RegisteredResult,
    Scope,
    Templar,
    Unresolved,
)
from chalicelib.sources.ansible.variables import (
    host_patterns,
    inventory_layers,
    named_vars,
    shown_path,
    vars_file,
)
from chalicelib.sources.ansible.yamlfile import MAX_WALK, Lined, is_dir, is_file, load_file

TASK_KEYWORDS = frozenset(
    [
        "name",
        "register",
        "when",
        "loop",
        "loop_control",
        "with_items",
        "with_list",
        "with_dict",
        "with_together",
        "vars",
        "tags",
        "become",
        "become_user",
        "become_method",
        "become_flags",
        "delegate_to",
        "delegate_facts",
        "notify",
        "ignore_errors",
        "ignore_unreachable",
        "failed_when",
        "changed_when",
        "check_mode",
        "diff",
        "environment",
        "no_log",
        "retries",
        "until",
        "delay",
        "args",
        "module_defaults",
        "run_once",
        "any_errors_fatal",
        "collections",
        "connection",
        "debugger",
        "throttle",
        "timeout",
        "async",
        "poll",
        "listen",
        "remote_user",
        "port",
        "local_action",
        "action",
    ]
)
INCLUDE_TASKS = frozenset({"include_tasks", "import_tasks", "include"})
INCLUDE_ROLE = frozenset({"include_role", "import_role"})
PLAY_SECTIONS = ("pre_tasks", "roles", "tasks", "post_tasks")
ROLE_PARAM_SKIP = frozenset({"role", "name", "vars", "when", "tags", "become", "delegate_to"})


def short_module(name: str) -> str:
    """`amazon.aws.ec2_security_group` -> `ec2_security_group` (a collection's FQCN)."""
    return name.rsplit(".", 1)[-1] if name.count(".") >= 2 else name


@dataclass
class Frame:
    """Where a task list runs: its file, role, and the variable layers around it."""

    path: Path  # the task file
    shown: str
    play_dir: Path
    params: tuple[Mapping[str, Any], ...] = ()  # include/role params, innermost first
    local: tuple[Mapping[str, Any], ...] = ()  # task/block/role vars, innermost first
    defaults: tuple[Mapping[str, Any], ...] = ()  # role defaults, innermost first
    role_dir: Path | None = None
    depth: int = 0


@dataclass
class Play:
    layers: tuple[Mapping[str, Any], ...]  # vars_files, play vars, inventory: highest first
    facts: dict[str, Any] = field(default_factory=dict)  # set_fact, include_vars
    roles_run: set[str] = field(default_factory=set)


class Reader:
    """Reads one `ansible:` source; `tasks` and `errors` fill as playbooks are read."""

    def __init__(self, root: Path, shown_root: str, modules: frozenset[str]) -> None:
        self.root = root
        self.shown_root = shown_root
        self.modules = modules
        self.templar = Templar()
        self.tasks: list[AnsibleTask] = []
        self.errors: list[SpecError] = []
        # tasks with an argument that cannot be resolved, and why (each names the expression)
        self.unresolved: list[tuple[AnsibleTask, tuple[SpecError, ...]]] = []
        self.registered: dict[str, RegisteredResult] = {}

    def show(self, path: Path) -> str:
        return shown_path(path, self.root, self.shown_root)

    # -- playbooks and plays --------------------------------------------------------------

    def playbook(self, path: Path, depth: int = 0) -> None:
        shown = self.show(path)
        try:
            data = load_file(path, shown)
        except SpecError as exc:
            self.errors.append(exc)
            return
        if not isinstance(data, list):
            self.errors.append(SpecError("a playbook must be a list of plays", shown, 1))
            return
        for play in data:
            if not isinstance(play, Lined):
                self.errors.append(SpecError("a play must be a mapping", shown))
                continue
            imported = play.get("import_playbook") or play.get("ansible.builtin.import_playbook")
            if imported is not None:
                target = path.parent / str(imported)
                if depth > 20 or not is_file(target):
                    why = "imports too deep" if depth > 20 else f"{target} not found"
                    self.errors.append(SpecError(f"import_playbook: {why}", shown, play.line))
                    continue
                self.playbook(target, depth + 1)
                continue
            try:
                self._play(play, path, shown)
            except SpecError as exc:
                self.errors.append(exc)

    def _play(self, play: Lined, path: Path, shown: str) -> None:
        dirs = _unique_dirs([path.parent, self.root])
        inventory = inventory_layers(dirs, host_patterns(play.get("hosts")), self.show)
        play_vars = _vars_block(play.get("vars"), shown, play.line_of("vars"))
        state = Play(layers=(play_vars, *reversed(inventory)))
        scope = Scope([*state.layers], self.registered, [path.parent])
        files: dict[str, Any] = {}
        for entry in _as_list(play.get("vars_files")):
            files.update(self._vars_files_entry(entry, scope, path, shown, play))
        state.layers = (files, *state.layers)
        frame = Frame(path=path, shown=shown, play_dir=path.parent)
        for section in PLAY_SECTIONS:
            items = play.get(section)
            if items is None:
                continue
            if not isinstance(items, list):
                self.errors.append(
                    SpecError(f"{section} must be a list", shown, play.line_of(section))
                )
                continue
            if section == "roles":
                for entry in items:
                    self._role_entry(entry, frame, state)
            else:
                self.task_list(items, frame, state)

    def _vars_files_entry(
        self, entry: Any, scope: Scope, path: Path, shown: str, play: Lined
    ) -> dict[str, Any]:
        """A vars_files entry: a file, or a list of which the first that exists is read."""
        line = play.line_of("vars_files")
        choices = entry if isinstance(entry, list) else [entry]
        if not choices:
            raise SpecError("a vars_files entry is an empty list", shown, line, "vars_files")
        for choice in choices:
            try:
                name = str(self.templar.render(choice, scope))
            except Unresolved as exc:
                raise SpecError(
                    f"cannot resolve {choice!r}: {exc}", shown, line, "vars_files"
                ) from exc
            candidate = path.parent / name
            if is_file(candidate):
                return vars_file(candidate, self.show(candidate))
        raise SpecError(f"vars file {choices[0]!r} not found", shown, line, "vars_files")

    # -- roles ------------------------------------------------------------------------------

    def _role_entry(self, entry: Any, frame: Frame, state: Play, line: int | None = None) -> None:
        name: Any
        if isinstance(entry, str):
            name, params, extra_vars, when = entry, {}, {}, None
        elif isinstance(entry, dict):
            name = entry.get("role") or entry.get("name")
            params = {k: v for k, v in entry.items() if k not in ROLE_PARAM_SKIP}
            extra_vars = dict(entry.get("vars") or {})
            when = entry.get("when")
            line = getattr(entry, "line", line)
        else:
            self.errors.append(
                SpecError("a role entry must be a name or a mapping", frame.shown, line)
            )
            return
        if when is not None and not self._runs(when, frame, state, line, "when"):
            return
        self.role(str(name), frame, state, {**extra_vars, **params}, "main", line)

    def find_role(self, name: str, frame: Frame) -> Path | None:
        bases = [frame.play_dir / "roles", self.root / "roles", frame.play_dir]
        if frame.role_dir is not None:
            bases.insert(0, frame.role_dir.parent)
        for base in bases:
            if is_dir(base / name):
                return base / name
        return None

    def role(
        self,
        name: str,
        frame: Frame,
        state: Play,
        params: Mapping[str, Any],
        tasks_from: str,
        line: int | None,
    ) -> None:
        role_dir = self.find_role(name, frame)
        if role_dir is None:
            self.errors.append(
                SpecError(f"role {name!r} not found (looked in roles/)", frame.shown, line)
            )
            return
        key = f"{role_dir}:{tasks_from}:{sorted(params.items())!r}"
        if key in state.roles_run:
            return  # a role runs once per play with the same parameters
        state.roles_run.add(key)
        defaults = named_vars(role_dir / "defaults", "main", self.show)
        role_vars = named_vars(role_dir / "vars", "main", self.show)
        inner = Frame(
            path=role_dir / "tasks",
            shown=self.show(role_dir),
            play_dir=frame.play_dir,
            params=(params, *frame.params) if params else frame.params,
            local=(role_vars,),
            defaults=(defaults, *frame.defaults),
            role_dir=role_dir,
            depth=frame.depth + 1,
        )
        meta = role_dir / "meta" / "main.yml"
        if is_file(meta):
            data = load_file(meta, self.show(meta)) or {}
            for dependency in data.get("dependencies") or [] if isinstance(data, dict) else []:
                self._role_entry(dependency, inner, state, getattr(data, "line", None))
        tasks_file = _first_file(role_dir / "tasks", tasks_from)
        if tasks_file is None:
            if tasks_from != "main":
                self.errors.append(
                    SpecError(f"role {name!r} has no tasks/{tasks_from}.yml", frame.shown, line)
                )
            return
        self.task_file(
            tasks_file, replace(inner, path=tasks_file, shown=self.show(tasks_file)), state
        )

    # -- tasks --------------------------------------------------------------------------------

    def task_file(self, path: Path, frame: Frame, state: Play) -> None:
        try:
            data = load_file(path, frame.shown)
        except SpecError as exc:
            self.errors.append(exc)
            return
        if data is None:
            return
        if not isinstance(data, list):
            self.errors.append(SpecError("a task file must be a list of tasks", frame.shown, 1))
            return
        self.task_list(data, frame, state)

    def task_list(self, items: Sequence[Any], frame: Frame, state: Play) -> None:
        for item in items:
            if not isinstance(item, Lined):
                self.errors.append(SpecError("a task must be a mapping", frame.shown))
                continue
            try:
                self.task(item, frame, state)
            except SpecError as exc:
                self.errors.append(exc)

    def scope(self, frame: Frame, state: Play, extra: Mapping[str, Any] | None = None) -> Scope:
        layers = [*frame.params, state.facts, *frame.local, *state.layers, *frame.defaults]
        if extra:
            layers.insert(0, extra)
        return Scope(layers, self.registered, _search(frame))

    def _runs(self, when: Any, frame: Frame, state: Play, line: int | None, what: str) -> bool:
        try:
            return self.templar.truth(when, self.scope(frame, state))
        except Unresolved as exc:
            raise SpecError(
                f"cannot tell whether this runs: cannot resolve {when!r}: {exc}",
                frame.shown,
                line,
                what,
            ) from exc

    def task(self, item: Lined, frame: Frame, state: Play) -> None:
        task_vars = _vars_block(item.get("vars"), frame.shown, item.line_of("vars"))
        inner = replace(frame, local=(task_vars, *frame.local)) if task_vars else frame
        if "block" in item:
            if item.get("when") is not None and not self._runs(
                item["when"], inner, state, item.line_of("when"), "when"
            ):
                return
            for section in ("block", "always"):
                self.task_list(_as_list(item.get(section)), inner, state)
            return
        module, args, arg_lines = _module_and_args(item, frame.shown)
        short = short_module(module)
        if short in INCLUDE_TASKS or short in INCLUDE_ROLE:
            if item.get("when") is not None and not self._runs(
                item["when"], inner, state, item.line_of("when"), "when"
            ):
                return
            self._include(short, args, item, inner, state)
        elif short in ("set_fact", "include_vars"):
            if item.get("when") is not None and not self._runs(
                item["when"], inner, state, item.line_of("when"), "when"
            ):
                return
            self._facts(short, args, item, inner, state)
        elif short in self.modules:
            self._mapped(short, args, arg_lines, item, inner, state)
        register = item.get("register")
        if isinstance(register, str) and short not in self.modules:
            origin = f"{frame.shown}:{item.line}"
            self.registered[register] = RegisteredResult(register, None, origin)

    def _include(self, short: str, args: Any, item: Lined, frame: Frame, state: Play) -> None:
        scope = self.scope(frame, state)
        line = item.line
        try:
            rendered = self.templar.render(args, scope)
        except Unresolved as exc:
            raise SpecError(f"cannot resolve {args!r}: {exc}", frame.shown, line, short) from exc
        if short in INCLUDE_ROLE:
            if not isinstance(rendered, dict) or "name" not in rendered:
                raise SpecError(f"{short} needs a role name", frame.shown, line, short)
            params = dict(_vars_block(item.get("vars"), frame.shown, line))
            self.role(
                rendered["name"],
                frame,
                state,
                params,
                str(rendered.get("tasks_from", "main")),
                line,
            )
            return
        name = rendered.get("file") if isinstance(rendered, dict) else rendered
        if not isinstance(name, str):
            raise SpecError(f"{short} needs a file name", frame.shown, line, short)
        bases = [frame.path.parent if is_file(frame.path) else frame.path]
        if frame.role_dir is not None:
            bases.append(frame.role_dir / "tasks")
        bases.append(frame.play_dir)
        target = next((b / name for b in bases if is_file(b / name)), None)
        if target is None or frame.depth > 30:
            raise SpecError(f"{short}: file {name!r} not found", frame.shown, line, short)
        inner = replace(frame, path=target, shown=self.show(target), depth=frame.depth + 1)
        self.task_file(target, inner, state)

    def _facts(self, short: str, args: Any, item: Lined, frame: Frame, state: Play) -> None:
        scope = self.scope(frame, state)
        try:
            rendered = self.templar.render(args, scope)
        except Unresolved as exc:
            raise SpecError(
                f"cannot resolve {args!r}: {exc}", frame.shown, item.line, short
            ) from exc
        if short == "set_fact":
            if isinstance(rendered, dict):
                state.facts.update({k: v for k, v in rendered.items() if k != "cacheable"})
            return
        name = rendered.get("file") if isinstance(rendered, dict) else rendered
        base = frame.role_dir / "vars" if frame.role_dir is not None else frame.play_dir
        candidates = [base / str(name), frame.play_dir / str(name)]
        target = next((c for c in candidates if is_file(c)), None)
        if target is None:
            raise SpecError(f"include_vars: file {name!r} not found", frame.shown, item.line, short)
        state.facts.update(vars_file(target, self.show(target)))

    def _mapped(
        self,
        short: str,
        args: Any,
        arg_lines: dict[ArgPath, int],
        item: Lined,
        frame: Frame,
        state: Play,
    ) -> None:
        if not isinstance(args, dict):
            raise SpecError(f"{short}: arguments must be a mapping", frame.shown, item.line)
        iterations = self._loop(item, frame, state)
        register = item.get("register") if isinstance(item.get("register"), str) else None
        origin = f"{frame.shown}:{item.line}"
        unresolved = False
        last: AnsibleTask | None = None
        for extra in iterations:
            problems: list[SpecError] = []
            when = item.get("when")
            if when is not None:
                try:
                    if not self.templar.truth(when, self.scope(frame, state, extra)):
                        continue
                except Unresolved as exc:
                    raise SpecError(
                        f"cannot tell whether this task runs: cannot resolve {when!r}: {exc}",
                        frame.shown,
                        item.line_of("when"),
                        "when",
                    ) from exc
            scope = self.scope(frame, state, extra)
            rendered = self._render_args(args, (), scope, arg_lines, item, frame, problems)
            last = AnsibleTask(
                file=frame.shown,
                line=item.line,
                module=short,
                args=rendered,
                name=item.get("name") if isinstance(item.get("name"), str) else None,
                register=register,
                lines=arg_lines,
            )
            if problems:
                # its resource is unknown, never guessed; the other tasks still count
                self.unresolved.append((last, tuple(problems)))
                unresolved = True
            else:
                self.tasks.append(last)
        if register:
            looped = len(iterations) != 1 or iterations[0]
            self.registered[register] = RegisteredResult(
                register, None if looped or unresolved else last, origin
            )

    def _loop(self, item: Lined, frame: Frame, state: Play) -> list[dict[str, Any]]:
        """One variable layer per loop item (`item`, or `loop_control.loop_var`)."""
        keys = [k for k in ("loop", "with_items", "with_list", "with_dict") if k in item]
        if not keys:
            return [{}]
        key = keys[0]
        try:
            values = self.templar.render(item[key], self.scope(frame, state))
        except Unresolved as exc:
            raise SpecError(
                f"cannot resolve {item[key]!r}: {exc}", frame.shown, item.line_of(key), key
            ) from exc
        if key == "with_dict" and isinstance(values, dict):
            values = [{"key": k, "value": v} for k, v in values.items()]
        if key == "with_items" and isinstance(values, list):
            values = [
                v for value in values for v in (value if isinstance(value, list) else [value])
            ]
        if not isinstance(values, list):
            raise SpecError(f"{key} must give a list", frame.shown, item.line_of(key), key)
        control = item.get("loop_control") or {}
        var = control.get("loop_var", "item") if isinstance(control, dict) else "item"
        return [{var: value} for value in values]

    def _render_args(
        self,
        value: Any,
        path: ArgPath,
        scope: Scope,
        lines: Mapping[ArgPath, int],
        item: Lined,
        frame: Frame,
        problems: list[SpecError],
    ) -> Any:
        """Template each string where it is, so an error names its own field and line."""
        if isinstance(value, dict):
            out = {}
            for key, sub in value.items():
                rendered = self._render_args(sub, (*path, key), scope, lines, item, frame, problems)
                if rendered is not _DROP:
                    out[key] = rendered
            return out
        if isinstance(value, list):
            items = [
                self._render_args(sub, (*path, i), scope, lines, item, frame, problems)
                for i, sub in enumerate(value)
            ]
            return [v for v in items if v is not _DROP]
        try:
            rendered = self.templar.render(value, scope)
        except Unresolved as exc:
            task = AnsibleTask(frame.shown, item.line, "", {}, lines=lines)
            problems.append(task.error(path, f"cannot resolve {value!r}: {exc}"))
            return None
        from chalicelib.sources.ansible.templating import OMIT

        return _DROP if rendered is OMIT else rendered


_DROP = object()


def _module_and_args(item: Lined, shown: str) -> tuple[str, Any, dict[ArgPath, int]]:
    """The task's module and its arguments (`mod: {..}`, `mod: k=v`, `action:`, `args:`)."""
    candidates = [k for k in item if k not in TASK_KEYWORDS]
    for key in ("action", "local_action"):
        if key in item:
            value = item[key]
            if isinstance(value, dict):
                module = str(value.get("module", ""))
                args = {k: v for k, v in value.items() if k != "module"}
                return module, _merge_args(args, item), _arg_lines(args, item, shown)
            module, _, rest = str(value).partition(" ")
            return module, _merge_args(_kv(rest), item), {}
    if not candidates:
        return "", {}, {}
    if len(candidates) > 1:
        names = ", ".join(candidates)
        raise SpecError(
            f"cannot tell the task's module: several candidates ({names})", shown, item.line
        )
    module = candidates[0]
    value = item[module]
    if isinstance(value, str) and short_module(module) not in (
        "include_tasks",
        "import_tasks",
        "include",
        "include_vars",
    ):
        value = _kv(value) if "=" in value else value
    args = _merge_args(value, item)
    return module, args, _arg_lines(value, item, shown)


def _merge_args(value: Any, item: Lined) -> Any:
    extra = item.get("args")
    if isinstance(extra, dict):
        base = value if isinstance(value, dict) else {}
        return {**extra, **base}
    return value if value is not None else {}


def _arg_lines(value: Any, item: Lined, shown: str) -> dict[ArgPath, int]:
    """The line of every argument path. Iterative and counted: the file is within the
    depth budget (`yamlfile.load_file`), but aliases may still expand without end."""
    lines: dict[ArgPath, int] = {}
    extra = item.get("args")
    stack: list[tuple[Any, ArgPath]] = [(value, ())]
    if isinstance(extra, Lined):
        stack.append((extra, ()))
    walked = 0
    while stack:
        node, path = stack.pop()
        walked += 1
        if walked > MAX_WALK:
            raise SpecError(
                f"the task's arguments expand past {MAX_WALK:,} values (aliases); write "
                "them out or use fewer aliases",
                shown,
                item.line,
            )
        if isinstance(node, Lined):
            if path:
                lines.setdefault(path, node.line)
            for key, sub in node.items():
                lines[(*path, key)] = node.line_of(key)
                stack.append((sub, (*path, key)))
        elif isinstance(node, list):
            stack.extend((sub, (*path, i)) for i, sub in enumerate(node))
    return lines


_KV = re.compile(r"""([A-Za-z_]\w*)=((?:'[^']*'|"[^"]*"|\{\{.*?\}\}|[^\s'"{]|\{(?!\{))+)""")


def _kv(text: str) -> dict[str, Any]:
    """`name=web description="a b" vpc_id={{ vpc }}`: the key=value short form."""
    out: dict[str, Any] = {}
    for match in _KV.finditer(text):
        value = match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[match.group(1)] = value
    return out


def _vars_block(value: Any, shown: str, line: int | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, list):  # the old list-of-mappings form
        merged: dict[str, Any] = {}
        for part in value:
            if isinstance(part, dict):
                merged.update(part)
        return merged
    if not isinstance(value, dict):
        raise SpecError("vars must be a mapping of variable names", shown, line, "vars")
    return dict(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unique_dirs(dirs: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        if d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def _first_file(directory: Path, name: str) -> Path | None:
    for suffix in ("", ".yml", ".yaml"):
        candidate = directory / f"{name}{suffix}"
        if is_file(candidate):
            return candidate
    return None


def _search(frame: Frame) -> list[Path]:
    """Where `lookup('file')` looks, as Ansible does: the role's files/, the role, the task
    file's folder, then the playbook's files/ and folder."""
    dirs: list[Path] = []
    if frame.role_dir is not None:
        dirs += [frame.role_dir / "files", frame.role_dir / "templates", frame.role_dir]
    task_dir = frame.path.parent if is_file(frame.path) else frame.path
    dirs += [task_dir, frame.play_dir / "files", frame.play_dir / "templates", frame.play_dir]
    return _unique_dirs(dirs)
