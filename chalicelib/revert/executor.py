"""Does planned reverts: the one place Setpoint writes to a watched resource.

It takes its clients in the constructor (moto-backed in tests, the revert role's in the
Lambda) and runs exactly the call a table row planned, nothing else. Every failure comes
back classified by its first word, never raised: `denied` (the role may not), `gone` (the
resource or rule is no longer there), `throttled`, `limit` (a quota, such as five policy
versions), `unreachable` (no answer), `failed` (anything else AWS refused).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.model import GLOBAL_REGION
from chalicelib.revert.table import Lookup, Step
from chalicelib.scrub import error_text

_DENIED = ("AccessDenied", "UnauthorizedOperation", "AuthFailure", "Forbidden")
_GONE = ("NoSuch", "NotFound", "InvalidGroup.NotFound", "InvalidPermission.NotFound")


def classify(error: BaseException) -> str:
    """The error as `class: text` (see the module docstring)."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if any(code.startswith(word) for word in _DENIED):
            kind = "denied"
        elif any(word in code for word in _GONE):
            kind = "gone"
        elif "Throttl" in code or code == "RequestLimitExceeded":
            kind = "throttled"
        elif "LimitExceeded" in code:
            kind = "limit"
        else:
            kind = "failed"
        return f"{kind}: {error_text(error)}"
    if isinstance(error, BotoCoreError):
        return f"unreachable: {error_text(error)}"
    return f"failed: {error_text(error)}"


class RevertExecutor:
    """Runs a planned step's call through the given clients; returns None or the error."""

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    def run(self, step: Step, region: str | None) -> str | None:
        if step.params is None:
            return step.error or "not_revertible: nothing planned"
        where = None if region in (None, "", GLOBAL_REGION) else region
        client = self.clients.client(step.undo.service, where)
        params = dict(step.params)
        try:
            if step.lookup is not None:
                found = _look_up(client, step.lookup)
                if found is None:
                    return f"gone: no {step.lookup.list_key[:-1]} matches {dict(step.lookup.match)}"
                params[step.lookup.into] = found
            getattr(client, _snake(step.undo.operation))(**params)
        except Exception as exc:  # classified and reported on the finding, never swallowed
            return classify(exc)
        return None


def _look_up(client: Any, lookup: Lookup) -> Any:
    answer = getattr(client, _snake(lookup.operation))(**lookup.params)
    for item in answer.get(lookup.list_key, []):
        if all(item.get(key) == value for key, value in lookup.match.items()):
            return item.get(lookup.take)
    return None


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))
