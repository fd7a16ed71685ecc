"""The per-run counter: every shard counted once, exactly one digest, on DynamoDB (moto)."""

from __future__ import annotations

import threading

import boto3
import pytest

from chalicelib.state import DynamoStateStore
from chalicelib.sweep.digest import ShardSummary
from chalicelib.sweep.runs import DynamoRunStore, MemoryRunStore, SweepRunStore
from tests.sweep.conftest import TABLE

NOW = "2026-11-26T12:00:00+00:00"


def summary(index: int) -> ShardSummary:
    return ShardSummary(f"shard-{index}", {"checked": index, "in_sync": index})


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest, state_table: DynamoStateStore) -> SweepRunStore:
    if request.param == "memory":
        return MemoryRunStore()
    return DynamoRunStore(TABLE, boto3.client("dynamodb", region_name="eu-west-1"))


def test_only_the_last_shard_is_told_to_post(store: SweepRunStore) -> None:
    store.start("r", 3, NOW)
    assert store.finish_shard("r", 0, summary(0), NOW) is False
    assert store.finish_shard("r", 2, summary(2), NOW) is False
    assert store.finish_shard("r", 1, summary(1), NOW) is True
    assert [s.shard for s in store.summaries("r", 3)] == ["shard-0", "shard-1", "shard-2"]


def test_a_redelivered_shard_is_not_counted_twice(store: SweepRunStore) -> None:
    store.start("r", 2, NOW)
    assert store.finish_shard("r", 0, summary(0), NOW) is False
    assert store.finish_shard("r", 0, summary(0), NOW) is False  # SQS delivered it again
    assert store.finish_shard("r", 1, summary(1), NOW) is True
    assert store.finish_shard("r", 1, summary(1), NOW) is False  # already claimed


def test_a_released_claim_lets_the_retry_post(store: SweepRunStore) -> None:
    store.start("r", 1, NOW)
    assert store.finish_shard("r", 0, summary(0), NOW) is True
    store.release("r")  # chat was down
    assert store.finish_shard("r", 0, summary(0), NOW) is True


def test_racing_last_shards_post_one_digest(store: SweepRunStore) -> None:
    total = 12
    store.start("r", total, NOW)
    told: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda i=i: told.append(store.finish_shard("r", i, summary(i), NOW))
        )
        for i in range(total)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert told.count(True) == 1


def test_summaries_of_a_large_run_are_read_in_batches(state_table: DynamoStateStore) -> None:
    store = DynamoRunStore(TABLE, boto3.client("dynamodb", region_name="eu-west-1"))
    total = 230  # BatchGetItem takes 100 keys a call
    store.start("big", total, NOW)
    for index in range(total):
        store.finish_shard("big", index, summary(index), NOW)
    assert [s.counts["checked"] for s in store.summaries("big", total)] == list(range(total))
