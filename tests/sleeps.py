"""The one sleep recorder: tests see the waits a retry loop asks for without waiting them."""

from __future__ import annotations


class Sleeps(list[float]):
    """An injected `sleep` that records the seconds instead of waiting them (the Lambda
    handlers get theirs through `app.use_waits`)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
