"""Small JSON rows beside the alert records: what alert-storm control must remember.

A coalescing window per resource (`coalesce#…`) and a counter per minute of new alerts
(`storm#…`) live in the state table under their own key prefixes, as the settle windows
do. Each row is `{pk, body, version, expires_at}`: `body` is a JSON object (fields are
only ever added, so older code still reads newer rows), `version` makes every write
conditional (two Lambdas folding into the same window both count, neither twice), and
TTL removes the row a day after it stops mattering.

Needs dynamodb:GetItem, PutItem and DeleteItem on the table (the state store's own).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.state.errors import StateConflictError, StateStoreError
from chalicelib.state.store import (
    KEY_ATTRIBUTE,
    TTL_ATTRIBUTE,
    DynamoStateStore,
    StateStore,
    call_table,
    version_condition,
)

DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True)
class Row:
    body: dict[str, Any]
    version: int


class RowStore(Protocol):
    def read(self, key: str) -> Row | None: ...

    def write(self, key: str, body: dict[str, Any], expected: int | None, expires: datetime) -> Row:
        """Write `body` if the stored version is `expected` (None: only if absent);
        StateConflictError otherwise. Returns the row as written."""

    def remove(self, key: str) -> None: ...


class MemoryRowStore:
    """Rows in a dict behind a lock (CLI, tests): DynamoDB's conditional semantics."""

    def __init__(self) -> None:
        self._rows: dict[str, Row] = {}
        self._lock = threading.Lock()

    def read(self, key: str) -> Row | None:
        with self._lock:
            row = self._rows.get(key)
        return None if row is None else Row(json.loads(json.dumps(row.body)), row.version)

    def write(self, key: str, body: dict[str, Any], expected: int | None, expires: datetime) -> Row:
        with self._lock:
            current = self._rows.get(key)
            if (current.version if current else None) != expected:
                raise StateConflictError(f"{key}: changed since version {expected}")
            row = Row(json.loads(json.dumps(body)), (expected or 0) + 1)
            self._rows[key] = row
            return row

    def remove(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)


class DynamoRowStore:
    """Rows as items in the state table (schema in the module docstring)."""

    def __init__(self, table_name: str, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self._client = dynamodb_client

    def read(self, key: str) -> Row | None:
        item = self._call(
            "get_item",
            key,
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        try:
            body = json.loads(item["body"]["S"])
            version = int(item["version"]["N"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateStoreError(f"state row {key} cannot be read: {exc!r}") from exc
        if not isinstance(body, dict):
            raise StateStoreError(f"state row {key} cannot be read: body is not an object")
        return Row(body, version)

    def write(self, key: str, body: dict[str, Any], expected: int | None, expires: datetime) -> Row:
        version = (expected or 0) + 1
        self._call(
            "put_item",
            key,
            TableName=self.table_name,
            Item={
                KEY_ATTRIBUTE: {"S": key},
                "body": {"S": json.dumps(body, sort_keys=True, ensure_ascii=False)},
                "version": {"N": str(version)},
                TTL_ATTRIBUTE: {"N": str(int(expires.astimezone(UTC).timestamp()))},
            },
            **version_condition(expected),
        )
        return Row(body, version)

    def remove(self, key: str) -> None:
        self._call("delete_item", key, TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": key}})

    def _call(self, operation: str, key: str, **kwargs: Any) -> dict[str, Any]:
        return call_table(self._client, self.table_name, operation, key, **kwargs)


def change_row(
    rows: RowStore,
    key: str,
    edit: Callable[[dict[str, Any] | None], dict[str, Any] | None],
    expires: datetime,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
) -> tuple[Row | None, Row | None]:
    """Read, `edit` the body (None: leave it as it is), write conditionally; on a lost
    race read and edit again. Returns (the row before, the row after)."""
    for _ in range(attempts):
        before = rows.read(key)
        body = edit(json.loads(json.dumps(before.body)) if before else None)
        if body is None:
            return before, before
        try:
            return before, rows.write(key, body, before.version if before else None, expires)
        except StateConflictError:
            continue
    raise StateConflictError(f"{key}: still contended after {attempts} attempts")


_MEMORY: weakref.WeakKeyDictionary[Any, MemoryRowStore] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


def rows_for(store: StateStore) -> RowStore:
    """The row store beside `store`: the same DynamoDB table, or one memory store per
    state store kept in memory (rows last as long as the records)."""
    if isinstance(store, DynamoStateStore):
        return DynamoRowStore(store.table_name, store.client)
    with _MEMORY_LOCK:
        rows = _MEMORY.get(store)
        if rows is None:
            rows = _MEMORY[store] = MemoryRowStore()
        return rows
