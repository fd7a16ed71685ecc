"""Alert-storm settings, and which alerts are too important to fold into anything.

Two controls keep chat readable when the cloud moves fast (issue 13 item 5):
coalescing (`coalesce.py`: changes to one resource within a window update one message)
and the storm cap (`storm.py`: more than N new alerts a minute become one summary).
Critical alerts always go out one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.env_numbers import whole_number
from chalicelib.errors import ConfigError
from chalicelib.model import GUARD, Change, Finding

ENV_COALESCE_SECONDS = "SETPOINT_COALESCE_SECONDS"
ENV_STORM_LIMIT = "SETPOINT_STORM_LIMIT"
ENV_REPORT_URL = "SETPOINT_REPORT_URL"
DEFAULT_COALESCE_SECONDS = 300
DEFAULT_STORM_LIMIT = 20


@dataclass(frozen=True)
class QuietSettings:
    """`coalesce_seconds` 0 turns coalescing off, `storm_limit` 0 the cap; `report_url`
    is where a storm summary points (the HTML report, a dashboard)."""

    coalesce_seconds: int = DEFAULT_COALESCE_SECONDS
    storm_limit: int = DEFAULT_STORM_LIMIT
    report_url: str | None = None

    @property
    def active(self) -> bool:
        return self.coalesce_seconds > 0 or self.storm_limit > 0


def quiet_from_env(env: Mapping[str, str]) -> QuietSettings:
    """The Lambda's settings; a value that is not a whole number >= 0 is a ConfigError."""
    url = env.get(ENV_REPORT_URL, "").strip() or None
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"{ENV_REPORT_URL} must be an http(s) URL")
    return QuietSettings(
        coalesce_seconds=_count(env, ENV_COALESCE_SECONDS, DEFAULT_COALESCE_SECONDS),
        storm_limit=_count(env, ENV_STORM_LIMIT, DEFAULT_STORM_LIMIT),
        report_url=url,
    )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    return whole_number(name, env.get(name), default, 0, why="must be 0 (off) or more")


def is_alarming_change(change: Change) -> bool:
    """Opens something to the internet, or grants administrator access (live side)."""
    return change.op != "remove" and (change.world_open or "admin" in change.flags)


def is_critical(finding: Finding) -> bool:
    """Never summarised: Setpoint's own sight (guard), a world-open or admin change."""
    return finding.kind == GUARD or any(is_alarming_change(c) for c in finding.changes)
