"""Ignore rules and exceptions as frozen data (parsed in `noise.parse`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.model import SourceLocation

# `.setpointignore` lines for s3:// specs, given beside the bucket (the Lambda's setting)
ENV_IGNORE = "SETPOINT_IGNORE"


@dataclass(frozen=True)
class IgnoreRule:
    """One `.setpointignore` line: `KIND:ID_GLOB[:PATH_GLOB]`, `tag:KEY=VALUE_GLOB`, `!...`."""

    source: SourceLocation
    negate: bool
    kind: str | None  # None for a tag rule
    id_glob: str | None
    path_glob: str | None  # drop matching changes only, not the resource
    tag_key: str | None = None
    tag_glob: str | None = None


@dataclass(frozen=True)
class SpecException:
    """A change a reviewer accepted until a date, pasted from a report's change object."""

    source: SourceLocation
    change: Mapping[str, Any]  # op, path, and a subset of actual/expected keys
    until: str  # YYYY-MM-DD, the last day it applies
    reason: str
    ticket: str | None = None
    approved_by: str | None = None


@dataclass(frozen=True)
class SpecNoise:
    """What one spec silences: change paths (`ignore:`) and dated `exceptions:`."""

    ignore: tuple[str, ...] = ()
    exceptions: tuple[SpecException, ...] = field(default_factory=tuple)
    # `on_drift:` what to do beyond alerting: None (the kind's default), ON_DRIFT_ALERT or
    # ON_DRIFT_REVERT (undo what is safe to undo, see chalicelib/revert/)
    on_drift: str | None = None


ON_DRIFT_ALERT = "alert"
ON_DRIFT_REVERT = "revert"
ON_DRIFT_CHOICES = (ON_DRIFT_ALERT, ON_DRIFT_REVERT)
