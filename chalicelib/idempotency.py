"""One result per CloudTrail eventID: EventBridge and Lambda both deliver at least once.

Powertools Idempotency keeps, per event id, the handler's result in DynamoDB for a day;
a second delivery gets that result back (marked as a duplicate, see `DUPLICATE`) without
re-reading anything. A run that raises (a `DeliveryError` with no outbox) is not
remembered, so Lambda's retry runs again. The records share the state table: Powertools
writes `pk` and `expires_at` (the table's key and TTL attribute) with keys that start
with `idempotency#`, which no state record does.

Built on first use: importing this module costs nothing, and with no table configured
(`SETPOINT_STATE` unset or `memory://`) there is no idempotency layer at all (the state
store's fingerprints still keep duplicates quiet).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import ConfigError
from chalicelib.state.store import KEY_ATTRIBUTE, TTL_ATTRIBUTE, parse_state_uri

ENV_IDEMPOTENCY_TABLE = "SETPOINT_IDEMPOTENCY_TABLE"
ENV_STATE = "SETPOINT_STATE"
DEFAULT_EXPIRY_SECONDS = 24 * 60 * 60
# the EventBridge envelope, a raw record, or a CloudTrail log file's records
EVENT_KEY = "detail.eventID || eventID || Records[*].eventID"
DUPLICATE = "duplicate"

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _duplicate_summary(response: Any, idempotent_data: Any) -> dict[str, Any]:
    """What a second delivery reports: the first run's fields, emptied (nothing found, sent
    or deduplicated this time, so metrics do not count the first run twice), skipped as a
    duplicate, with the first result alongside."""
    first = response if isinstance(response, dict) else {}
    summary: dict[str, Any] = {
        "findings": [],
        "errors": [],
        "alerts": [],
        "delivered": 0,
        "deduplicated": 0,
    }
    for key, value in first.items():
        if isinstance(value, list):
            summary[key] = []
        elif isinstance(value, int) and not isinstance(value, bool):
            summary[key] = 0
    summary["skipped"] = [
        {
            "reason": DUPLICATE,
            "detail": "this CloudTrail event was already processed; its result stands",
        }
    ]
    summary["first_result"] = first
    return summary


class IdempotentEvents:
    """Runs an event handler at most once per CloudTrail eventID.

    One instance per Lambda function (Powertools' persistence layer keeps the first
    configuration it sees). `dynamodb_client` is called on first use; None lets Powertools
    build its own client (it then needs AWS_DEFAULT_REGION, which Lambda sets).
    """

    def __init__(
        self,
        table_name: str,
        *,
        expires_after_seconds: int = DEFAULT_EXPIRY_SECONDS,
        dynamodb_client: Callable[[], Any] | None = None,
        key_prefix: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.expires_after_seconds = expires_after_seconds
        self._client = dynamodb_client
        self._key_prefix = key_prefix
        self._lock = threading.Lock()
        self._config: Any = None
        self._run: Callable[..., dict[str, Any]] | None = None

    def _built(self) -> Callable[..., dict[str, Any]]:
        with self._lock:
            if self._run is None:
                self._run = self._build()
            return self._run

    def _build(self) -> Callable[..., dict[str, Any]]:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._config = IdempotencyConfig(
            event_key_jmespath=EVENT_KEY,
            expires_after_seconds=self.expires_after_seconds,
            response_hook=_duplicate_summary,
        )
        layer = DynamoDBPersistenceLayer(
            table_name=self.table_name,
            key_attr=KEY_ATTRIBUTE,
            expiry_attr=TTL_ATTRIBUTE,
            boto3_client=self._client() if self._client else None,
        )
        prefix = self._key_prefix or (
            f"idempotency#{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'setpoint')}"
        )

        @idempotent_function(
            data_keyword_argument="payload",
            config=self._config,
            persistence_store=layer,
            key_prefix=prefix,
        )
        def run(payload: dict[str, Any], handle: Handler) -> dict[str, Any]:
            return handle(payload)

        return run

    def __call__(
        self, payload: dict[str, Any], handle: Handler, context: Any = None
    ) -> dict[str, Any]:
        """`handle(payload)`, or the remembered result if this event was handled before.

        Pass the Lambda context: an invocation that times out mid-run then stops counting
        as "in progress" when Lambda gives up on it, instead of after a day.
        """
        run = self._built()
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            self._config.register_lambda_context(context)
        return run(payload=payload, handle=handle)


def idempotency_table(env: Mapping[str, str]) -> tuple[str, str | None] | None:
    """(table, region) from SETPOINT_IDEMPOTENCY_TABLE, else the state table; None when the
    state is kept in memory (CLI, demo) or not configured."""
    explicit = (env.get(ENV_IDEMPOTENCY_TABLE) or "").strip()
    if explicit:
        if explicit.startswith("dynamodb://"):
            location = parse_state_uri(explicit)
            return location.table or "", location.region
        if "://" in explicit:
            raise ConfigError(f"{ENV_IDEMPOTENCY_TABLE}={explicit!r}: give a table name")
        return explicit, None
    state = (env.get(ENV_STATE) or "").strip()
    if not state:
        return None
    location = parse_state_uri(state)
    if location.backend != "dynamodb" or not location.table:
        return None
    return location.table, location.region


def idempotency_from_env(
    env: Mapping[str, str] | None = None, clients: Any = None
) -> IdempotentEvents | None:
    """The idempotency layer the environment asks for, not yet connected; None for none.

    `clients` (a ClientCache) supplies the DynamoDB client, so AWS_ENDPOINT_URL and the
    session's region apply as for every other call.
    """
    env = os.environ if env is None else env
    found = idempotency_table(env)
    if found is None:
        return None
    table, region = found
    factory = (lambda: clients.client("dynamodb", region)) if clients is not None else None
    return IdempotentEvents(table, dynamodb_client=factory)


def run_idempotent(
    guard: IdempotentEvents | None, payload: dict[str, Any], handle: Handler, context: Any = None
) -> dict[str, Any]:
    """`handle(payload)` through `guard`, or directly when there is none."""
    if guard is None:
        return handle(payload)
    return guard(payload, handle, context)
