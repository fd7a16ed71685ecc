"""The Jinja subset Setpoint evaluates: variables, common filters, `lookup('file')`.

Jinja2 runs sandboxed (no attribute tricks reach Python internals) with StrictUndefined,
so an unknown variable is an error, never an empty string. Variables are resolved
lazily, as Ansible does: a template asks only for the names it uses, and those are
templated in turn (a cycle is an error). A whole-value `"{{ expr }}"` keeps its type
(a dict from `from_json`, a number), like Ansible's argument handling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chalicelib.errors import ConfigError
from chalicelib.sources.ansible.model import AnsibleTask, Registered
from chalicelib.sources.ansible.yamlfile import Unsafe, Vaulted, is_file

_WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_MAX_DEPTH = 50


class Unresolved(Exception):
    """A template Setpoint cannot evaluate without running Ansible."""


class _Omit:
    def __repr__(self) -> str:
        return "omit"


OMIT = _Omit()  # `default(omit)`: the argument is left out


@dataclass(frozen=True)
class RegisteredResult:
    """What `register: x` names: the task's result, known only when Ansible runs."""

    variable: str
    task: AnsibleTask | None
    origin: str


class _Proxy:
    """`x.group_id` on a registered result, carried through Jinja as a reference."""

    def __init__(self, result: RegisteredResult, path: tuple[str | int, ...]) -> None:
        self._result = result
        self._path = path

    def __getattr__(self, name: str) -> _Proxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Proxy(self._result, (*self._path, name))

    def __getitem__(self, key: str | int) -> _Proxy:
        return _Proxy(self._result, (*self._path, key))

    def __str__(self) -> str:
        raise Unresolved(
            f"{self._result.variable} is the result of the task at {self._result.origin}, "
            "known only when Ansible runs, and cannot be part of a longer text"
        )

    def registered(self, expression: str) -> Registered:
        r = self._result
        return Registered(r.variable, self._path, expression, r.task, r.origin)


class Scope:
    """Variables visible to one task: layers from highest precedence to lowest, plus the
    results registered by earlier tasks, plus where `lookup('file')` looks."""

    def __init__(
        self,
        layers: Sequence[Mapping[str, Any]],
        registered: Mapping[str, RegisteredResult],
        search: Sequence[Path],
    ) -> None:
        self.layers = tuple(layers)
        self.registered = registered
        self.search = tuple(search)

    def child(self, layer: Mapping[str, Any], search: Sequence[Path] | None = None) -> Scope:
        return Scope((layer, *self.layers), self.registered, search or self.search)

    def raw(self, name: str) -> tuple[bool, Any]:
        for layer in self.layers:
            if name in layer:
                return True, layer[name]
        return False, None


class Templar:
    """Renders values in a `Scope`; one per source (its Jinja environment is reused)."""

    def __init__(self) -> None:
        try:
            import jinja2
            import jinja2.meta
            import jinja2.sandbox
        except ImportError as exc:  # the Lambda package leaves it out
            raise ConfigError(
                "ansible: sources need Jinja2 (pip install Jinja2); they are read by the "
                "CLI, not by the Lambda functions"
            ) from exc

        self._jinja = jinja2
        self._meta = jinja2.meta
        self.env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
        self.env.filters.update(_FILTERS)

    # -- public -------------------------------------------------------------------------

    def render(self, value: Any, scope: Scope, depth: int = 0) -> Any:
        """`value` with every template in it evaluated (dicts and lists walked)."""
        if isinstance(value, Unsafe):
            return str(value)
        if isinstance(value, Vaulted):
            raise Unresolved("the value is encrypted with ansible-vault")
        if isinstance(value, str):
            return self._string(value, scope, depth)
        if isinstance(value, dict):
            out = {k: self.render(v, scope, depth) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not OMIT}
        if isinstance(value, list):
            items = [self.render(v, scope, depth) for v in value]
            return [v for v in items if v is not OMIT]
        return value

    def truth(self, condition: Any, scope: Scope) -> bool:
        """A `when:` condition (a bare expression, or a list of them, all must hold)."""
        conditions = condition if isinstance(condition, list) else [condition]
        for item in conditions:
            if isinstance(item, bool):
                if not item:
                    return False
                continue
            text = str(item).strip()
            match = _WHOLE.match(text)
            if not self._evaluate(match.group("expr") if match else text, scope, 0, text):
                return False
        return True

    # -- internals ----------------------------------------------------------------------

    def _string(self, text: str, scope: Scope, depth: int) -> Any:
        if "{{" not in text and "{%" not in text:
            return text
        match = _WHOLE.match(text)
        if match and "{{" not in match.group("expr"):
            return self._evaluate(match.group("expr"), scope, depth, text)
        try:
            context = self._context(self.env.parse(text), scope, depth)
            return self.env.from_string(text).render(context)
        except self._jinja.TemplateError as exc:
            raise Unresolved(_describe(exc)) from exc

    def _evaluate(self, expr: str, scope: Scope, depth: int, written: str) -> Any:
        try:
            parsed = self.env.parse("{{" + expr + "}}")
            context = self._context(parsed, scope, depth)
            result = self.env.compile_expression(expr, undefined_to_none=False)(**context)
            if isinstance(result, self._jinja.Undefined):
                str(result)  # raises UndefinedError with Jinja's message
        except self._jinja.TemplateError as exc:
            raise Unresolved(_describe(exc)) from exc
        return self._materialize(result, written)

    def _materialize(self, value: Any, written: str) -> Any:
        if isinstance(value, _Proxy):
            return value.registered(written)
        if isinstance(value, dict):
            return {k: self._materialize(v, written) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._materialize(v, written) for v in value]
        return value

    def _context(self, parsed: Any, scope: Scope, depth: int) -> dict[str, Any]:
        if depth > _MAX_DEPTH:
            raise Unresolved("variables refer to each other in a cycle")
        context: dict[str, Any] = {
            "omit": OMIT,
            "lookup": self._lookup(scope, depth),
            "query": self._lookup(scope, depth, as_list=True),
        }
        for name in self._meta.find_undeclared_variables(parsed):
            if name in context:
                continue
            found, raw = scope.raw(name)
            if found:
                try:
                    context[name] = self.render(raw, scope, depth + 1)
                except Unresolved as exc:
                    raise Unresolved(f"variable {name}: {exc}") from exc
            elif name in scope.registered:
                context[name] = _Proxy(scope.registered[name], ())
        return context

    def _lookup(self, scope: Scope, depth: int, as_list: bool = False) -> Callable[..., Any]:
        def lookup(plugin: str, *terms: str, **options: Any) -> Any:
            if plugin not in ("file", "template"):
                raise Unresolved(
                    f"lookup({plugin!r}) reads the machine Ansible runs on; "
                    "only lookup('file') and lookup('template') are read"
                )
            texts = []
            for term in terms:
                text = self._find(str(term), scope).read_text(encoding="utf-8")
                if plugin == "file" and options.get("rstrip", True):
                    text = text.rstrip()
                if plugin == "template":
                    context = self._context(self.env.parse(text), scope, depth + 1)
                    text = self.env.from_string(text).render(context)
                texts.append(text)
            return texts if as_list else ",".join(texts)

        return lookup

    def _find(self, name: str, scope: Scope) -> Path:
        path = Path(name)
        candidates = [path] if path.is_absolute() else [d / name for d in scope.search]
        for candidate in candidates:
            if is_file(candidate):
                return candidate
        looked = ", ".join(str(c) for c in candidates)
        raise Unresolved(f"file {name!r} not found (looked in: {looked})")


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, Unresolved):
        return str(cause)
    return message


def _from_json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise Unresolved(f"from_json: not JSON ({exc})") from exc


def _to_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=indent, sort_keys=sort_keys)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "1", "true", "y")
    return bool(value)


def _combine(*dicts: Mapping[str, Any], recursive: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in dicts:
        for key, value in item.items():
            if recursive and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = _combine(out[key], value, recursive=True)
            else:
                out[key] = value
    return out


def _mandatory(value: Any, msg: str | None = None) -> Any:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        raise Unresolved(msg or "a mandatory variable is not defined")
    return value


_FILTERS: dict[str, Callable[..., Any]] = {
    "to_json": _to_json,
    "to_nice_json": lambda v, indent=4: json.dumps(v, indent=indent, sort_keys=True),
    "from_json": _from_json,
    "to_yaml": lambda v: yaml.safe_dump(v, default_flow_style=True),
    "to_nice_yaml": lambda v: yaml.safe_dump(v, default_flow_style=False),
    "from_yaml": lambda v: yaml.safe_load(v),
    "bool": _to_bool,
    "combine": _combine,
    "ternary": lambda v, yes, no: yes if v else no,
    "mandatory": _mandatory,
}
