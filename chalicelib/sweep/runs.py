"""Knowing when a fanned-out sweep is over: a per-run counter in the state table.

The scheduler writes one run item (`remaining` = the number of shards). Each shard puts
its summary in an item of its own and then decrements the counter with one conditional
UpdateItem that also adds its index to a `done` set, so an SQS redelivery of a shard
that already counted does not count twice. The shard that takes `remaining` to zero
claims the digest (a second conditional write: of two shards racing, one wins), reads
every summary back and posts it.

Items (same table as the alert state; `pk` keys, `expires_at` TTL):
`sweep-run#<run>`: total, remaining (N), done (SS), started_at, digest_claimed (S);
`sweep-run#<run>#<index>`: summary (S, JSON);
`swept#<account>#<region>#<family>`: the shard's last complete sweep (`SweptMark`), one
write per shard, so the next sweep can tell since when its resources were seen in sync.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.state.errors import StateStoreError
from chalicelib.state.store import KEY_ATTRIBUTE, TTL_ATTRIBUTE
from chalicelib.sweep.digest import ShardSummary

RUN_TTL = timedelta(days=3)
_CONFLICT = "ConditionalCheckFailedException"
BATCH_GET_LIMIT = 100


@dataclass(frozen=True)
class SweptMark:
    """A shard swept completely: when it started reading, against which specs (their
    `SpecCatalog.version`), and what it covered (kinds by value; regions, "global" for
    IAM). A resource of it with no alert record was in sync at that moment."""

    shard: str
    started_at: str  # ISO 8601, UTC
    specs: str
    kinds: tuple[str, ...]
    regions: tuple[str, ...]


def swept_key(shard_id: str) -> str:
    """`swept#account#region#family` for the shard id `account/region/family`."""
    return "swept#" + shard_id.replace("/", "#")


def run_key(run_id: str) -> str:
    return f"sweep-run#{run_id}"


def shard_key(run_id: str, index: int) -> str:
    return f"sweep-run#{run_id}#{index}"


class SweepRunStore(Protocol):
    def start(self, run_id: str, total: int, started_at: str) -> None: ...

    def finish_shard(self, run_id: str, index: int, summary: ShardSummary, now: str) -> bool:
        """Record a shard as done; True when this caller must post the run's digest."""

    def release(self, run_id: str) -> None:
        """Give the digest claim back (posting failed), so a retry can post it."""

    def summaries(self, run_id: str, total: int) -> list[ShardSummary]: ...

    def mark_swept(self, mark: SweptMark) -> None:
        """Remember a shard's complete sweep (replacing the one before)."""

    def last_swept(self, shard_id: str) -> SweptMark | None:
        """The shard's last complete sweep; None when none is remembered. Raises
        StateStoreError when it cannot be read."""


class MemoryRunStore:
    """The same rules in one process (tests, runs without a table)."""

    def __init__(self) -> None:
        self._runs: dict[str, dict[str, Any]] = {}
        self._summaries: dict[tuple[str, int], ShardSummary] = {}
        self._swept: dict[str, SweptMark] = {}
        self._lock = threading.Lock()

    def start(self, run_id: str, total: int, started_at: str) -> None:
        with self._lock:
            self._runs[run_id] = {"remaining": total, "done": set(), "claimed": False}

    def finish_shard(self, run_id: str, index: int, summary: ShardSummary, now: str) -> bool:
        with self._lock:
            self._summaries[(run_id, index)] = summary
            run = self._runs.get(run_id)
            if run is None:
                return False
            if index not in run["done"]:
                run["done"].add(index)
                run["remaining"] -= 1
            if run["remaining"] <= 0 and not run["claimed"]:
                run["claimed"] = True
                return True
            return False

    def release(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._runs:
                self._runs[run_id]["claimed"] = False

    def summaries(self, run_id: str, total: int) -> list[ShardSummary]:
        with self._lock:
            return [
                self._summaries[(run_id, i)] for i in range(total) if (run_id, i) in self._summaries
            ]

    def mark_swept(self, mark: SweptMark) -> None:
        with self._lock:
            self._swept[mark.shard] = mark

    def last_swept(self, shard_id: str) -> SweptMark | None:
        with self._lock:
            return self._swept.get(shard_id)


class DynamoRunStore:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: Any,
        *,
        ttl: timedelta = RUN_TTL,
        epoch: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = dynamodb_client
        self._ttl = ttl
        self._epoch = epoch
        self._sleep = sleep

    def _expires(self) -> dict[str, str]:
        return {"N": str(int(self._epoch() + self._ttl.total_seconds()))}

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self._client, operation)(
                TableName=self.table_name, **kwargs
            )
            return response
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == _CONFLICT:
                raise
            raise StateStoreError(
                f"state table {self.table_name}: {operation} failed ({code})", code
            ) from exc
        except BotoCoreError as exc:
            raise StateStoreError(
                f"state table {self.table_name}: {operation} failed: {exc}"
            ) from exc

    def start(self, run_id: str, total: int, started_at: str) -> None:
        self._call(
            "put_item",
            Item={
                KEY_ATTRIBUTE: {"S": run_key(run_id)},
                "total": {"N": str(total)},
                "remaining": {"N": str(total)},
                "started_at": {"S": started_at},
                TTL_ATTRIBUTE: self._expires(),
            },
        )

    def finish_shard(self, run_id: str, index: int, summary: ShardSummary, now: str) -> bool:
        self._call(
            "put_item",
            Item={
                KEY_ATTRIBUTE: {"S": shard_key(run_id, index)},
                "summary": {"S": json.dumps(summary.to_json(), separators=(",", ":"))},
                TTL_ATTRIBUTE: self._expires(),
            },
        )
        key = {KEY_ATTRIBUTE: {"S": run_key(run_id)}}
        try:
            answer = self._call(
                "update_item",
                Key=key,
                UpdateExpression="ADD remaining :minus, done :index",
                ConditionExpression="attribute_exists(pk) AND NOT contains(done, :one)",
                ExpressionAttributeValues={
                    ":minus": {"N": "-1"},
                    ":index": {"SS": [str(index)]},
                    ":one": {"S": str(index)},
                },
                ReturnValues="UPDATED_NEW",
            )
            remaining = int(answer["Attributes"]["remaining"]["N"])
        except ClientError:
            # counted before (a redelivery), or the run item is gone (expired, never made)
            item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
            if item is None:
                return False
            remaining = int(item["remaining"]["N"])
        if remaining > 0:
            return False
        try:
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="SET digest_claimed = :now",
                ConditionExpression="attribute_not_exists(digest_claimed) AND remaining <= :zero",
                ExpressionAttributeValues={":now": {"S": now}, ":zero": {"N": "0"}},
            )
        except ClientError:
            return False  # another shard claimed it
        return True

    def release(self, run_id: str) -> None:
        self._call(
            "update_item",
            Key={KEY_ATTRIBUTE: {"S": run_key(run_id)}},
            UpdateExpression="REMOVE digest_claimed",
        )

    def summaries(self, run_id: str, total: int) -> list[ShardSummary]:
        """Every shard summary of the run, in shard order (BatchGetItem, 100 keys a call)."""
        found: dict[str, ShardSummary] = {}
        keys = [{KEY_ATTRIBUTE: {"S": shard_key(run_id, i)}} for i in range(total)]
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            found.update(self._batch(keys[start : start + BATCH_GET_LIMIT]))
        return [found[k] for i in range(total) if (k := shard_key(run_id, i)) in found]

    def mark_swept(self, mark: SweptMark) -> None:
        self._call(
            "put_item",
            Item={
                KEY_ATTRIBUTE: {"S": swept_key(mark.shard)},
                "shard": {"S": mark.shard},
                "started_at": {"S": mark.started_at},
                "specs": {"S": mark.specs},
                # JSON lists: DynamoDB refuses an empty set (IAM's shard has no regions)
                "kinds": {"S": json.dumps(list(mark.kinds))},
                "regions": {"S": json.dumps(list(mark.regions))},
                TTL_ATTRIBUTE: self._expires(),
            },
        )

    def last_swept(self, shard_id: str) -> SweptMark | None:
        key = {KEY_ATTRIBUTE: {"S": swept_key(shard_id)}}
        item = self._call("get_item", Key=key).get("Item")
        if item is None:
            return None
        try:
            mark = SweptMark(
                shard=item["shard"]["S"],
                started_at=item["started_at"]["S"],
                specs=item["specs"]["S"],
                kinds=_strings(json.loads(item["kinds"]["S"])),
                regions=_strings(json.loads(item["regions"]["S"])),
            )
            datetime.fromisoformat(mark.started_at)
        except (KeyError, TypeError, ValueError) as exc:
            raise StateStoreError(
                f"state table {self.table_name}: item {swept_key(shard_id)} is malformed "
                f"({type(exc).__name__}: {exc})",
                "MalformedItem",
            ) from exc
        if mark.shard != shard_id:
            raise StateStoreError(
                f"state table {self.table_name}: item {swept_key(shard_id)} names shard "
                f"{mark.shard!r}",
                "MalformedItem",
            )
        return mark

    def _batch(self, keys: Sequence[dict[str, Any]]) -> dict[str, ShardSummary]:
        found: dict[str, ShardSummary] = {}
        pending: list[dict[str, Any]] = list(keys)
        for attempt in range(8):
            if not pending:
                break
            answer = self._call_batch(pending)
            for item in answer.get("Responses", {}).get(self.table_name, []):
                summary = ShardSummary.from_json(json.loads(item["summary"]["S"]))
                found[item[KEY_ATTRIBUTE]["S"]] = summary
            unprocessed = answer.get("UnprocessedKeys", {}).get(self.table_name, {})
            pending = list(unprocessed.get("Keys", []))
            if pending:
                self._sleep(min(2.0, 0.05 * 2**attempt))
        if pending:
            raise StateStoreError(
                f"state table {self.table_name}: "
                f"{len(pending)} sweep summaries unread after retries"
            )
        return found

    def _call_batch(self, keys: Sequence[dict[str, Any]]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._client.batch_get_item(
                RequestItems={self.table_name: {"Keys": list(keys), "ConsistentRead": True}}
            )
            return response
        except (ClientError, BotoCoreError) as exc:
            raise StateStoreError(
                f"state table {self.table_name}: BatchGetItem failed: {exc}"
            ) from exc


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(value)
