"""Short-lived marks per resource: "settling until T" and "a re-check is due at T".

They live next to the alert records (same table, keys with their own prefix), are written
conditionally so two Lambdas cannot both open the same window, and expire on their own:
DynamoDB's TTL deletes them a day after they close, and a closed one counts as absent long
before that (TTL deletion is lazy, so every read compares `until` with the clock).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.model import Kind
from chalicelib.state.errors import StateConflictError
from chalicelib.state.store import (
    KEY_ATTRIBUTE,
    TTL_ATTRIBUTE,
    DynamoStateStore,
    StateStore,
    call_table,
)

SETTLE = "settle"
RECHECK = "recheck"
# rows outlive their window by this much, then TTL removes them
LINGER = timedelta(days=1)


def window_key(
    purpose: str,
    kind: Kind,
    account: str | None,
    region: str,
    resource_id: str | None,
    name: str | None,
) -> str:
    """`settle#account#kind#id`: ids (sg-…, bucket names, ARNs) are unique without a region;
    a resource known only by name is scoped by its region as well."""
    who = account or "-"
    if resource_id:
        return f"{purpose}#{who}#{kind.value}#{resource_id}"
    return f"{purpose}#{who}#{region}#{kind.value}#{name or '?'}"


class WindowStore(Protocol):
    def open_until(self, key: str, now: datetime) -> datetime | None:
        """The end of the window at `key` if it is still open at `now`, else None."""

    def claim(self, key: str, until: datetime, *, unless_open_after: datetime) -> bool:
        """Set the window to end at `until`, unless one already stays open past
        `unless_open_after`; True when this call wrote it."""

    def release(self, key: str, until: datetime) -> None:
        """Remove the window this caller claimed (ending at `until`), if it is still ours."""

    def close(self, key: str) -> None:
        """End the window at `key` now, whoever opened it (what it waited for came)."""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _epoch(moment: datetime) -> int:
    return int(_utc(moment).timestamp())


class MemoryWindowStore:
    """Windows in a dict behind a lock: one process (CLI, tests)."""

    def __init__(self) -> None:
        self._until: dict[str, int] = {}
        self._lock = threading.Lock()

    def open_until(self, key: str, now: datetime) -> datetime | None:
        with self._lock:
            until = self._until.get(key)
        if until is None or until <= _epoch(now):
            return None
        return datetime.fromtimestamp(until, UTC)

    def claim(self, key: str, until: datetime, *, unless_open_after: datetime) -> bool:
        with self._lock:
            current = self._until.get(key)
            if current is not None and current >= _epoch(unless_open_after):
                return False
            self._until[key] = _epoch(until)
            return True

    def release(self, key: str, until: datetime) -> None:
        with self._lock:
            if self._until.get(key) == _epoch(until):
                del self._until[key]

    def close(self, key: str) -> None:
        with self._lock:
            self._until.pop(key, None)


class DynamoWindowStore:
    """Windows as items `{pk, until, expires_at}` in the state table.

    Needs dynamodb:GetItem, PutItem and DeleteItem on the table (the state store's own).
    """

    def __init__(self, table_name: str, dynamodb_client: Any) -> None:
        self.table_name = table_name
        self._client = dynamodb_client

    def open_until(self, key: str, now: datetime) -> datetime | None:
        response = self._call(
            "get_item",
            key,
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            ConsistentRead=True,
        )
        item = response.get("Item") or {}
        raw = item.get("until", {}).get("N")
        if raw is None or int(raw) <= _epoch(now):
            return None
        return datetime.fromtimestamp(int(raw), UTC)

    def claim(self, key: str, until: datetime, *, unless_open_after: datetime) -> bool:
        try:
            self._call(
                "put_item",
                key,
                TableName=self.table_name,
                Item={
                    KEY_ATTRIBUTE: {"S": key},
                    "until": {"N": str(_epoch(until))},
                    TTL_ATTRIBUTE: {"N": str(_epoch(_utc(until) + LINGER))},
                },
                ConditionExpression=f"attribute_not_exists({KEY_ATTRIBUTE}) OR #until < :after",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":after": {"N": str(_epoch(unless_open_after))}},
            )
        except StateConflictError:  # another writer's window stands
            return False
        return True

    def release(self, key: str, until: datetime) -> None:
        with contextlib.suppress(StateConflictError):  # someone moved it on: theirs now
            self._call(
                "delete_item",
                key,
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": key}},
                ConditionExpression="#until = :mine",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":mine": {"N": str(_epoch(until))}},
            )

    def close(self, key: str) -> None:
        self._call("delete_item", key, TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": key}})

    def _call(self, operation: str, key: str, **kwargs: Any) -> dict[str, Any]:
        return call_table(self._client, self.table_name, operation, key, **kwargs)


_MEMORY: weakref.WeakKeyDictionary[Any, MemoryWindowStore] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


def windows_for(store: StateStore) -> WindowStore:
    """The window store that lives beside `store`: the same DynamoDB table, or (for a store
    kept in memory) one memory store per state store, so windows last as long as records."""
    if isinstance(store, DynamoStateStore):
        return DynamoWindowStore(store.table_name, store.client)
    with _MEMORY_LOCK:
        windows = _MEMORY.get(store)
        if windows is None:
            windows = _MEMORY[store] = MemoryWindowStore()
        return windows
