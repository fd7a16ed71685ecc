"""`--specs` values and `SETPOINT_SPECS`: which source each one names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chalicelib.errors import ConfigError

Scheme = Literal["setpoint", "terraform", "ansible"]
PREFIXES: dict[str, Scheme] = {"terraform:": "terraform", "ansible:": "ansible"}


@dataclass(frozen=True)
class Location:
    """One desired-state source as the user wrote it."""

    scheme: Scheme
    target: str  # a path, or s3://BUCKET/PREFIX
    raw: str  # what the user typed, for messages

    @property
    def on_s3(self) -> bool:
        return self.target.startswith("s3://")


def parse_location(value: str) -> Location:
    """`DIR`, `s3://B/P`, `terraform:PATH|s3://B/P` or `ansible:PATH`."""
    raw = value.strip()
    for prefix, scheme in PREFIXES.items():
        if raw.startswith(prefix):
            target = raw[len(prefix) :].strip()
            if not target:
                raise ConfigError(f"--specs {raw!r}: {prefix} needs a path after the colon")
            if scheme == "ansible" and target.startswith("s3://"):
                raise ConfigError(
                    f"--specs {raw!r}: ansible: reads a playbook file or a directory, not S3"
                )
            return Location(scheme, target, raw)
    if not raw:
        raise ConfigError("--specs: an empty value names no source")
    head = raw.split(":", 1)[0]
    looks_prefixed = ":" in raw and not raw.startswith("s3://") and "/" not in head
    if looks_prefixed and len(head) > 1 and not Path(raw).exists():
        known = ", ".join(["DIR", "s3://B/P", *PREFIXES])
        raise ConfigError(f"--specs {raw!r}: unknown source {head + ':'!r} (one of: {known})")
    return Location("setpoint", raw, raw)


def split_list(value: str) -> list[str]:
    """`SETPOINT_SPECS`: comma-separated sources, blanks dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_locations(values: Sequence[str]) -> list[Location]:
    """Each value may itself be a comma-separated list (as in `SETPOINT_SPECS`)."""
    locations = [parse_location(part) for value in values for part in split_list(value)]
    if not locations:
        raise ConfigError("--specs: no source given")
    seen: dict[str, Location] = {}
    for location in locations:
        if location.raw in seen:
            raise ConfigError(f"--specs {location.raw!r} is given twice")
        seen[location.raw] = location
    return locations
