"""Where state records live: in memory (CLI, tests) or in a DynamoDB table (Lambda).

Every write is conditional on the version the writer read, so of two Lambdas deciding
about the same resource at once, one wins and the other re-reads and re-decides.

DynamoDB table (the deployment template creates it):

* partition key `pk` (S) = the record key, `account#region#kind#id`; no sort key.
* `PAY_PER_REQUEST` billing is plenty; TTL enabled on `expires_at` (N, epoch seconds,
  `ttl` after the record's last update), so rows of forgotten resources disappear.
* other attributes: `kind`, `account`, `region`, `resource_id`, `name`, `status`,
  `fingerprint`, `first_seen`, `last_alert_at`, `updated_at`, `unread` (S; optional ones
  omitted when empty), `pending` (BOOL), `version` (N), and JSON strings `last_actors`
  (ARNs, newest first), `messages` ([{notifier, ref}]) and `last_changes`
  ([{op, path, expected, actual, summary, world_open}]).

The Lambda needs dynamodb:GetItem, PutItem and DeleteItem on the table.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError
from chalicelib.kinds.registry import kind_named
from chalicelib.model import Actor, Change, Status
from chalicelib.notify.alert import MessageRef
from chalicelib.notify.codec import MalformedAlertError, from_data, to_data
from chalicelib.state.errors import StateConflictError, StateStoreError
from chalicelib.state.fingerprint import plain
from chalicelib.state.record import StateRecord, parse_iso

KEY_ATTRIBUTE = "pk"
TTL_ATTRIBUTE = "expires_at"
KEY_SCHEMA = [{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}]
ATTRIBUTE_DEFINITIONS = [{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}]
DEFAULT_TTL = timedelta(days=90)
_CONFLICT = "ConditionalCheckFailedException"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


class StateStore(Protocol):
    """Records by key, written only if nobody else wrote since they were read."""

    def get(self, key: str) -> StateRecord | None: ...

    def put(self, record: StateRecord, expected_version: int | None) -> None:
        """Write `record`; `expected_version` None means "only if there is no row yet".

        Raises StateConflictError when the stored version is not the expected one.
        """

    def delete(self, key: str, expected_version: int | None) -> None:
        """Delete the row if its version is `expected_version` (None: unconditionally)."""


class MemoryStateStore:
    """A dict behind a lock: the same conditional semantics as DynamoDB, in one process."""

    def __init__(self) -> None:
        self._rows: dict[str, StateRecord] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StateRecord | None:
        with self._lock:
            return self._rows.get(key)

    def put(self, record: StateRecord, expected_version: int | None) -> None:
        with self._lock:
            self._check(record.key, expected_version, creating=True)
            self._rows[record.key] = record

    def delete(self, key: str, expected_version: int | None) -> None:
        with self._lock:
            if expected_version is not None:
                self._check(key, expected_version, creating=False)
            self._rows.pop(key, None)

    def _check(self, key: str, expected_version: int | None, *, creating: bool) -> None:
        current = self._rows.get(key)
        if expected_version is None:
            if current is not None:
                raise StateConflictError(f"{key}: already exists")
        elif current is None or current.version != expected_version:
            raise StateConflictError(f"{key}: changed since version {expected_version}")

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)


class DynamoStateStore:
    """Records as DynamoDB items (schema in the module docstring), conditional writes."""

    def __init__(
        self, table_name: str, dynamodb_client: Any, *, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self.table_name = table_name
        self._client = dynamodb_client
        self._ttl = ttl

    @property
    def client(self) -> Any:
        """The DynamoDB client, for stores that share the table (settle windows)."""
        return self._client

    def get(self, key: str) -> StateRecord | None:
        response = self._call(
            "get_item",
            key,
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return decode_item(item) if item else None

    def put(self, record: StateRecord, expected_version: int | None) -> None:
        self._call(
            "put_item",
            record.key,
            TableName=self.table_name,
            Item=encode_item(record, self._ttl),
            **version_condition(expected_version),
        )

    def delete(self, key: str, expected_version: int | None) -> None:
        condition = version_condition(expected_version) if expected_version is not None else {}
        self._call(
            "delete_item",
            key,
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            **condition,
        )

    def _call(self, operation: str, key: str, **kwargs: Any) -> dict[str, Any]:
        return call_table(self._client, self.table_name, operation, key, **kwargs)


def call_table(
    client: Any, table_name: str, operation: str, key: str, **kwargs: Any
) -> dict[str, Any]:
    """One call on the state table, for every store that keeps rows there (alert records,
    settle windows, coalescing rows): a condition that did not hold is StateConflictError,
    any other failure StateStoreError naming the table, the call and the key."""
    try:
        response: dict[str, Any] = getattr(client, operation)(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == _CONFLICT:
            raise StateConflictError(f"{key}: written by someone else first", code) from exc
        raise StateStoreError(
            f"state table {table_name}: {operation} {key} failed ({code})", code
        ) from exc
    except BotoCoreError as exc:
        raise StateStoreError(f"state table {table_name}: {operation} {key} failed: {exc}") from exc
    return response


def version_condition(expected_version: int | None) -> dict[str, Any]:
    """A put that wins only over the version it read (None: only where there was none)."""
    if expected_version is None:
        return {"ConditionExpression": f"attribute_not_exists({KEY_ATTRIBUTE})"}
    return {
        "ConditionExpression": "#version = :expected",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
    }


def _json(value: Any) -> dict[str, str]:
    return {"S": json.dumps(plain(value), ensure_ascii=False, default=str, sort_keys=True)}


def encode_item(record: StateRecord, ttl: timedelta = DEFAULT_TTL) -> dict[str, Any]:
    """The DynamoDB item for a record; it expires `ttl` after its last update."""
    expires = int((parse_iso(record.updated_at) + ttl).timestamp())
    item: dict[str, Any] = {
        KEY_ATTRIBUTE: {"S": record.key},
        "kind": {"S": record.kind.value},
        "region": {"S": record.region},
        "status": {"S": record.status.value},
        "fingerprint": {"S": record.fingerprint},
        "first_seen": {"S": record.first_seen},
        "last_alert_at": {"S": record.last_alert_at},
        "updated_at": {"S": record.updated_at},
        "last_actors": _json(list(record.last_actors)),
        "messages": _json([{"notifier": m.notifier, "ref": m.ref} for m in record.messages]),
        "last_changes": _json(
            [
                {
                    "op": c.op,
                    "path": c.path,
                    "expected": c.expected,
                    "actual": c.actual,
                    "summary": c.summary,
                    "world_open": c.world_open,
                }
                for c in record.last_changes
            ]
        ),
        "pending": {"BOOL": record.pending},
        "version": {"N": str(record.version)},
        TTL_ATTRIBUTE: {"N": str(expires)},
    }
    optional = {
        "account": record.account,
        "resource_id": record.resource_id,
        "name": record.name,
        "unread": record.unread,
    }
    item.update({k: {"S": v} for k, v in optional.items() if v})
    if record.last_actor is not None:
        item["last_actor"] = _json(to_data(record.last_actor))
    return item


def decode_item(item: dict[str, Any]) -> StateRecord:
    """The record an item holds; a row that does not parse is a StateStoreError."""
    key = item.get(KEY_ATTRIBUTE, {}).get("S", "?")
    try:

        def text(name: str) -> str | None:
            value = item.get(name)
            return value["S"] if value else None

        def required(name: str) -> str:
            value = text(name)
            if value is None:
                raise KeyError(name)
            return value

        def loads(name: str) -> list[Any]:
            data = json.loads(required(name))
            if not isinstance(data, list):
                raise ValueError(f"{name} is not a list")
            return data

        return StateRecord(
            key=required(KEY_ATTRIBUTE),
            kind=kind_named(required("kind")),
            account=text("account"),
            region=required("region"),
            resource_id=text("resource_id"),
            name=text("name"),
            status=Status(required("status")),
            fingerprint=required("fingerprint"),
            first_seen=required("first_seen"),
            last_alert_at=required("last_alert_at"),
            updated_at=required("updated_at"),
            last_actors=tuple(str(a) for a in loads("last_actors")),
            messages=tuple(
                MessageRef(str(m["notifier"]), str(m["ref"])) for m in loads("messages")
            ),
            last_changes=tuple(
                Change(
                    op=c["op"],
                    path=c["path"],
                    expected=c.get("expected"),
                    actual=c.get("actual"),
                    summary=c.get("summary", ""),
                    world_open=bool(c.get("world_open", False)),
                )
                for c in loads("last_changes")
            ),
            pending=bool(item.get("pending", {}).get("BOOL", False)),
            unread=text("unread"),
            version=int(item["version"]["N"]),
            last_actor=_actor(text("last_actor")),
        )
    except (KeyError, TypeError, ValueError, MalformedAlertError) as exc:
        raise StateStoreError(f"state row {key} cannot be read: {exc!r}") from exc


def _actor(text: str | None) -> Actor | None:
    return from_data(Actor, json.loads(text), "last_actor") if text else None


@dataclass(frozen=True)
class StateLocation:
    """Where `--state URI` points: `memory://` or `dynamodb://TABLE[?region=R]`."""

    backend: Literal["memory", "dynamodb"]
    table: str | None = None
    region: str | None = None

    def open(self, dynamodb_client: Any = None) -> StateStore:
        """A store for this location; DynamoDB needs the client (built by the caller)."""
        if self.backend == "memory":
            return MemoryStateStore()
        if dynamodb_client is None or self.table is None:
            raise ConfigError(f"state dynamodb://{self.table}: needs a DynamoDB client")
        return DynamoStateStore(self.table, dynamodb_client)


def parse_state_uri(uri: str) -> StateLocation:
    """`memory://` or `dynamodb://TABLE[?region=R]`; anything else is a ConfigError."""
    parsed = urllib.parse.urlsplit(uri.strip())
    if parsed.scheme == "memory" and not parsed.netloc and parsed.path in ("", "/"):
        return StateLocation("memory")
    if parsed.scheme == "dynamodb":
        table = parsed.netloc
        if not _TABLE_NAME.match(table) or parsed.path not in ("", "/"):
            raise ConfigError(
                f"--state {uri!r}: the table name must be 3-255 letters, digits, '_', '-' or '.'"
            )
        query = urllib.parse.parse_qs(parsed.query)
        unknown = sorted(set(query) - {"region"})
        if unknown:
            raise ConfigError(f"--state {uri!r}: unknown option {', '.join(unknown)}")
        region = query.get("region", [None])[-1]
        return StateLocation("dynamodb", table, region)
    raise ConfigError(f"--state {uri!r}: use memory:// or dynamodb://TABLE")
