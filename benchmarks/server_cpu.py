"""CPU seconds a process has used, read from /proc/PID/stat (Linux).

The sweep benchmark reads the moto server's before and after each run: moto's own CPU
time is the floor no client can go below on one emulator process, so a tool's wall time
is judged against it.
"""

from __future__ import annotations

import os
from pathlib import Path

# Fields after the command name: state is field 3, utime 14, stime 15 (proc(5)).
_UTIME_AFTER_COMM = 14 - 3
_STIME_AFTER_COMM = 15 - 3


def parse_stat_cpu(text: str, ticks_per_s: int) -> float:
    """utime + stime in seconds from the text of /proc/PID/stat.

    The command name sits in parentheses and may itself hold spaces or ")", so the
    fields are counted from the last ")".
    """
    close = text.rfind(")")
    if close == -1:
        raise ValueError("not a /proc/PID/stat line: no command name in parentheses")
    fields = text[close + 1 :].split()
    if len(fields) <= _STIME_AFTER_COMM:
        raise ValueError(f"/proc/PID/stat has {len(fields) + 2} fields, expected at least 15")
    if ticks_per_s <= 0:
        raise ValueError(f"clock ticks per second must be positive, got {ticks_per_s}")
    return (int(fields[_UTIME_AFTER_COMM]) + int(fields[_STIME_AFTER_COMM])) / ticks_per_s


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) of a live process; None off Linux."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return parse_stat_cpu(text, os.sysconf("SC_CLK_TCK"))
