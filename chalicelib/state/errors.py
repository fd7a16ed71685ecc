"""State errors: a lost race (expected, retried) versus a store that does not work."""

from __future__ import annotations

from chalicelib.errors import SetpointError


class StateStoreError(SetpointError):
    """The state store could not be read or written (permissions, throttling, bad rows)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        self.code = code
        super().__init__(message)


class StateConflictError(StateStoreError):
    """Another writer changed the record first; re-read and decide again."""
