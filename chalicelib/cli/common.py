"""Pieces every command shares: where specs come from, which regions, exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.model import Finding, Status
from chalicelib.runtime import ENV_REGIONS, regions_from
from chalicelib.state import is_gone

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2
DRIFT_STATUSES = frozenset({Status.DRIFTED, Status.MISSING, Status.UNMANAGED})


def regions_for(flags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(flags)) if flags else regions_from(os.environ.get(ENV_REGIONS))


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when anything departs from its spec; 2 when something could not be read; else 0."""
    statuses = {f.status for f in findings if not is_gone(f)}  # a deletion is not drift
    if statuses & DRIFT_STATUSES:
        return EXIT_DRIFT
    if Status.UNKNOWN in statuses:
        return EXIT_ERROR
    return EXIT_OK


def check_output_path(output: str | None) -> None:
    """Refuse an --output that cannot be written before any work, not after a long sweep."""
    if not output:
        return
    target = Path(output)
    folder = target.parent
    if target.is_dir():
        raise ConfigError(f"--output {output}: is a directory")
    if not folder.is_dir():
        raise ConfigError(f"--output {output}: no such directory {folder}")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ConfigError(f"--output {output}: not writable")


def write_output(text: str, output: str | None) -> None:
    text = text if text.endswith("\n") else text + "\n"
    if not output:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None


def new_clients() -> ClientCache:
    return ClientCache()
