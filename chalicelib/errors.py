"""Setpoint's error classes: every failure is one of these, never a bare exception.

Each carries enough to tell a user what to fix (file, line, field; event id; endpoint).
"""

from __future__ import annotations


class SetpointError(Exception):
    """Base of every error Setpoint raises on purpose."""


class SpecError(SetpointError):
    """A spec file that cannot be used: bad YAML, schema violation, duplicate group."""

    def __init__(
        self, message: str, file: str, line: int | None = None, field: str | None = None
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecSetError(SetpointError):
    """Several spec errors at once, so a user can fix them all in one pass."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class EventError(SetpointError):
    """A CloudTrail record that cannot be understood (wrong shape, wrong types)."""

    def __init__(self, message: str, event_id: str | None = None) -> None:
        self.event_id = event_id
        super().__init__(f"event {event_id}: {message}" if event_id else message)


class ReadError(SetpointError):
    """A live resource that could not be read; its finding becomes `unknown`."""

    def __init__(self, message: str, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


class DeliveryError(SetpointError):
    """A chat message that could not be delivered after retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class ConfigError(SetpointError):
    """A setting that is missing or malformed (environment, flags, URIs)."""
