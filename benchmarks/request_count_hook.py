"""Counts a process's AWS requests by operation: loaded at start-up in the peer's venv.

The sweep benchmark copies this file into the throwaway Cloud Custodian venv with a
`.pth` line that calls `install_from_env()`, so `custodian run` counts its requests the
way benchmarks/counted_cli.py counts Setpoint's: a botocore `before-call` handler in
the built-in list (every client of every session copies it), once per API call, retries
included in that one. The counts are written as JSON when the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

ENV_VAR = "SETPOINT_BENCH_COUNTS"

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_installed: list[Path] = []  # a venv's lib64 -> lib symlink makes site run a .pth twice


def _count(model: Any = None, **_: Any) -> None:
    if model is not None:
        with _lock:
            _counts[f"{model.service_model.service_name}:{model.name}"] += 1


def _write(path: Path) -> None:
    with _lock:
        path.write_text(json.dumps({"counts": dict(_counts)}, sort_keys=True), encoding="utf-8")


def install(path: Path) -> None:
    """Count every request from now on; write the counts to `path` at exit (once)."""
    if _installed:
        return
    _installed.append(path)
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-call", _count))
    atexit.register(_write, path)


def install_from_env() -> None:
    """Install only when the benchmark asks (the venv may run other commands too)."""
    target = os.environ.get(ENV_VAR)
    if target:
        install(Path(target))
