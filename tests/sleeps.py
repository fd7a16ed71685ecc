"""The one sleep recorder: tests see the waits a retry loop asks for without waiting them."""

from __future__ import annotations

from typing import Any

import pytest


class Sleeps(list[float]):
    """An injected `sleep` that records the seconds instead of waiting them."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def record_default_sleeps(monkeypatch: pytest.MonkeyPatch, *owners: Any) -> Sleeps:
    """Make `sleep=` default to one recorder for `owners`' constructors: for code that
    builds its notifiers itself (the Lambda handlers), so no test waits out a backoff."""
    sleeps = Sleeps()
    for owner in owners:
        monkeypatch.setitem(owner.__init__.__kwdefaults__, "sleep", sleeps)
    return sleeps
