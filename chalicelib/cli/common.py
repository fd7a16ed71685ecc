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


def regions_for(flags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(flags)) if flags else regions_from(os.environ.get(ENV_REGIONS))


# `check --fail-on`: what turns the exit code to 1. Default: anything off its spec.
FAIL_RULES = ("drift", "unmanaged", "world_open", "admin")
DEFAULT_FAIL_ON = ("drift", "unmanaged")


def fails(finding: Finding, rules: Iterable[str]) -> bool:
    """Whether one finding breaks one of the rules: `drift` (drifted or missing),
    `unmanaged` (no spec), `world_open` (a change that opens it to the internet),
    `admin` (administrator access or an admin port open to the world)."""
    wanted = set(rules)
    if is_gone(finding):  # a deletion is not drift
        return False
    if "drift" in wanted and finding.status in (Status.DRIFTED, Status.MISSING):
        return True
    if "unmanaged" in wanted and finding.status is Status.UNMANAGED:
        return True
    live = [c for c in finding.changes if c.op != "remove" or c.world_open]
    if "world_open" in wanted and any(c.world_open for c in live):
        return True
    return "admin" in wanted and any("admin" in c.flags for c in live)


def exit_code(findings: Iterable[Finding], fail_on: Iterable[str] = DEFAULT_FAIL_ON) -> int:
    """1 when a finding breaks a `fail_on` rule (default: anything off its spec); 2 when
    something could not be read; else 0."""
    findings = list(findings)
    rules = tuple(fail_on)
    if any(fails(f, rules) for f in findings):
        return EXIT_DRIFT
    if any(f.status is Status.UNKNOWN and not is_gone(f) for f in findings):
        return EXIT_ERROR
    return EXIT_OK


def parse_fail_on(value: str) -> tuple[str, ...]:
    """`--fail-on world_open,admin`; a typo names the valid rules."""
    import argparse
    import difflib

    rules = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    for rule in rules:
        if rule not in FAIL_RULES:
            close = difflib.get_close_matches(rule, FAIL_RULES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise argparse.ArgumentTypeError(
                f"unknown rule {rule!r} ({hint}rules: {', '.join(FAIL_RULES)})"
            )
    if not rules:
        raise argparse.ArgumentTypeError(f"name at least one rule ({', '.join(FAIL_RULES)})")
    return rules


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
