"""Pieces every command shares: where specs come from, which regions, exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from chalicelib.aws import ClientCache
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


def write_output(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def new_clients() -> ClientCache:
    return ClientCache()
