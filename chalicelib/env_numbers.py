"""Whole-number settings from the environment, checked the same way everywhere.

Unset or blank is the default; anything but a whole number in range is a ConfigError
naming the variable, so a typo fails the deployment's first invocation, not an alert.
"""

from __future__ import annotations

from chalicelib.errors import ConfigError


def whole_number(
    name: str,
    text: str | None,
    default: int,
    low: int,
    high: int | None = None,
    why: str | None = None,
) -> int:
    """`text` as an int in `low..high` (`high` None: no upper bound); `why` replaces the
    plain "is outside" when the bound has a reason the user should read."""
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        if why is not None:
            raise ConfigError(f"{name}={value}: {why}")
        if high is None:
            raise ConfigError(f"{name}={value} must be {low} or more")
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value
