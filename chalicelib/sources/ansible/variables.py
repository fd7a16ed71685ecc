"""Variable files as Ansible finds them: group_vars/host_vars, role defaults/vars, vars_files.

Each returns plain layers; precedence is decided where they are stacked (`playbook`),
following Ansible's documented order (role defaults lowest, then group_vars/all, other
groups, host_vars, play vars, vars_files, role vars, block vars, task vars, set_fact and
include_vars, role and include parameters highest).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.sources.ansible.yamlfile import load_file

VAR_SUFFIXES = ("", ".yml", ".yaml", ".json")


def shown_path(path: Path, root: Path, shown_root: str) -> str:
    """`path` as the user would write it: under the root they typed when possible."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return path.as_posix()
    if shown_root in ("", "."):
        return relative.as_posix()
    return f"{shown_root.rstrip('/')}/{relative.as_posix()}" if relative.parts else shown_root


def vars_file(path: Path, shown: str) -> dict[str, Any]:
    """One vars file: a mapping of names (an empty file is no variables)."""
    data = load_file(path, shown)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError("a vars file must be a mapping of variable names", shown, 1)
    return dict(data)


def _file_name(name: str) -> bool:
    """Whether a group or host name can be a file name in group_vars/ or host_vars/: one
    path segment, short enough for the file system (a longer one raised OSError)."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(ch in name for ch in "/\\\x00")
        and len(name.encode("utf-8", "surrogatepass")) <= 200
    )


def named_vars(directory: Path, name: str, show: Any) -> dict[str, Any]:
    """`DIR/NAME`, `DIR/NAME.yml|.yaml|.json`, or every file of `DIR/NAME/` in order."""
    merged: dict[str, Any] = {}
    if not _file_name(name):
        return merged  # `hosts: ../x` names no group_vars file (and nothing outside the dir)
    for suffix in VAR_SUFFIXES:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            merged.update(vars_file(candidate, show(candidate)))
        elif suffix == "" and candidate.is_dir():
            for child in sorted(candidate.rglob("*")):
                if child.is_file() and child.suffix in VAR_SUFFIXES[1:]:
                    merged.update(vars_file(child, show(child)))
    return merged


def inventory_layers(
    dirs: Iterable[Path], patterns: Iterable[str], show: Any
) -> list[dict[str, Any]]:
    """group_vars/all, group_vars/<group>, host_vars/<host> for a play's `hosts:` names,
    lowest precedence first. Without an inventory, a name in `hosts:` is taken as both a
    group and a host name, so either folder applies."""
    names = [n for n in patterns if n and n != "all"]
    layers: list[dict[str, Any]] = []
    for folder, wanted in (("group_vars", ["all", *names]), ("host_vars", names)):
        for name in wanted:
            for base in dirs:
                layer = named_vars(base / folder, name, show)
                if layer:
                    layers.append(layer)
    return layers


def host_patterns(hosts: Any) -> list[str]:
    """`hosts: web:&prod,!db` -> ["web", "prod", "db"] (names only; patterns are not run)."""
    items = hosts if isinstance(hosts, list) else [hosts] if hosts is not None else []
    names: list[str] = []
    for item in items:
        for part in str(item).replace(",", ":").split(":"):
            name = part.strip().lstrip("!&")
            if name and name not in names:
                names.append(name)
    return names
