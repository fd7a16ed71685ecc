"""The event functions' side of deployed reverts: ask the revert function to do one.

The event functions' role reads only; the revert function (`on_revert` in app.py) has
the role whose writes come from the revert tables. A finding to revert is sent there as
its resource and the actor of the event, asynchronously (`InvocationType=Event`, so a
failed revert is retried and lands in that function's failure destination like any
asynchronous invocation); the revert function reads the resource again, reverts, and
delivers the alert.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import EventError
from chalicelib.model import Actor, Finding, ResourceRef
from chalicelib.notify.codec import from_data, to_data

ENV_REVERT_FUNCTION = "SETPOINT_REVERT_FUNCTION"
REQUEST_VERSION = "1"


def revert_request(finding: Finding) -> dict[str, Any]:
    """What the revert function receives: the resource to read again, and who changed it."""
    return {
        "setpoint_revert": REQUEST_VERSION,
        "refs": [to_data(finding.ref)],
        "actor": to_data(finding.actor) if finding.actor is not None else None,
    }


def read_request(payload: Any) -> tuple[list[ResourceRef], Actor | None]:
    """The refs and actor of a revert request; EventError naming what is wrong."""
    if not isinstance(payload, dict) or payload.get("setpoint_revert") != REQUEST_VERSION:
        raise EventError("not a revert request (setpoint_revert: 1 is missing)")
    refs = payload.get("refs")
    if not isinstance(refs, list) or not refs:
        raise EventError("revert request: refs is not a non-empty list")
    try:
        found = [from_data(ResourceRef, ref, f"refs[{i}]") for i, ref in enumerate(refs)]
        raw = payload.get("actor")
        actor = from_data(Actor, raw, "actor") if raw is not None else None
    except Exception as exc:
        raise EventError(f"revert request: {exc}") from exc
    return found, actor


class LambdaHandOff:
    """Invokes the revert function asynchronously; the Lambda client is given to it (or a
    function that makes it, so a cold start without a revert to hand off makes none)."""

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._client = lambda_client
        self.function_name = function_name

    @property
    def client(self) -> Any:
        if callable(self._client) and not hasattr(self._client, "invoke"):
            self._client = self._client()
        return self._client

    def __call__(self, finding: Finding) -> None:
        self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps(revert_request(finding)).encode("utf-8"),
        )
