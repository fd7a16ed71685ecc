"""The revert settings: the kill switch, the hourly limit, the kinds' defaults.

`SETPOINT_REVERT=off` turns every revert off, whatever the specs say (`on`, the default,
lets a spec's `on_drift: revert` act). `SETPOINT_REVERT_LIMIT` is how many reverts one
resource may get per hour before Setpoint gives up and says so. `SETPOINT_ON_DRIFT`
gives kinds a default (`security_group=revert,s3_bucket=revert`); a spec's own
`on_drift:` wins over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.env_numbers import whole_number
from chalicelib.errors import ConfigError
from chalicelib.noise.model import ON_DRIFT_CHOICES

ENV_REVERT = "SETPOINT_REVERT"
ENV_REVERT_LIMIT = "SETPOINT_REVERT_LIMIT"
ENV_ON_DRIFT = "SETPOINT_ON_DRIFT"
DEFAULT_LIMIT = 3
MAX_LIMIT = 100
_SWITCH = {"on": True, "off": False}


@dataclass(frozen=True)
class RevertSettings:
    enabled: bool = True
    limit: int = DEFAULT_LIMIT
    # kind -> "alert" | "revert", for specs that do not say
    defaults: Mapping[str, str] = field(default_factory=dict)


def revert_settings_from_env(env: Mapping[str, str]) -> RevertSettings:
    """The settings; a value that is not understood is a ConfigError naming the variable."""
    switch = (env.get(ENV_REVERT) or "on").strip().lower()
    if switch not in _SWITCH:
        raise ConfigError(f"{ENV_REVERT}={env.get(ENV_REVERT)!r}: use on or off")
    limit = whole_number(
        ENV_REVERT_LIMIT,
        env.get(ENV_REVERT_LIMIT),
        DEFAULT_LIMIT,
        1,
        MAX_LIMIT,
        why=f"reverts per resource per hour, 1..{MAX_LIMIT}",
    )
    return RevertSettings(_SWITCH[switch], limit, kind_defaults(env.get(ENV_ON_DRIFT)))


def kind_defaults(text: str | None) -> dict[str, str]:
    """`KIND=alert|revert` pairs, comma-separated; kinds are checked against the registry."""
    from chalicelib.kinds.registry import kind_named

    found: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        kind, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or value not in ON_DRIFT_CHOICES:
            raise ConfigError(
                f"{ENV_ON_DRIFT}: {part.strip()!r} is not KIND={'|'.join(ON_DRIFT_CHOICES)}"
            )
        try:
            found[str(kind_named(kind))] = value
        except ValueError as exc:
            raise ConfigError(f"{ENV_ON_DRIFT}: {exc}") from None
    return found
