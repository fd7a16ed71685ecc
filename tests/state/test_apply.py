"""apply_finding against real stores: one alert per drift, even when Lambdas race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib.model import Status
from chalicelib.notify.alert import AlertKind, MessageRef
from chalicelib.state import (
    Decision,
    DynamoStateStore,
    MemoryStateStore,
    StateConflictError,
    StateRecord,
    StateStore,
    apply_finding,
    record_key,
    release,
    remember_messages,
)
from tests.state.helpers import OPEN_22, OPEN_3389, REGION, SG, T0, actor, drifted, finding, in_sync
from tests.state.test_store import TABLE, create_table

REF = (MessageRef("slack-bot:C1", "1712.0001"),)


class OneCallAtATime:
    """A DynamoDB client whose calls do not overlap.

    DynamoDB applies each conditional write atomically; moto checks the condition and then
    stores the item without a lock, so two threads can both pass `attribute_not_exists`.
    Serialising single calls restores what AWS guarantees and nothing more: a get and the
    put that follows it still interleave with other threads, which is the race under test.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                return method(**kwargs)

        return call


@pytest.fixture(params=["memory", "dynamodb"])
def make_store(request: pytest.FixtureRequest) -> Callable[[], StateStore]:
    if request.param == "memory":
        return MemoryStateStore
    request.getfixturevalue("aws")
    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client)
    return lambda: DynamoStateStore(TABLE, OneCallAtATime(client))


class ReadTogether:
    """A store whose first `parties` reads all return before any of them may write.

    That is the race that matters: every Lambda reads "no record", then each tries to claim.
    """

    def __init__(self, inner: StateStore, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=10)
        self.gets = 0
        self.lock = threading.Lock()
        self.parties = parties

    def get(self, key: str) -> StateRecord | None:
        record = self.inner.get(key)
        if not key.endswith(SG):
            return record  # the name-keyed lookup that follows a miss
        with self.lock:
            self.gets += 1
            first_round = self.gets <= self.parties
        if first_round:
            self.barrier.wait()
        return record

    def put(self, record: StateRecord, expected_version: int | None) -> None:
        self.inner.put(record, expected_version)

    def delete(self, key: str, expected_version: int | None) -> None:
        self.inner.delete(key, expected_version)


def apply(store: StateStore, f: Any, minutes: int = 0, cause: Any = "event") -> Decision:
    return apply_finding(
        store, f, now=T0 + timedelta(minutes=minutes), cause=cause, reminder=timedelta(hours=4)
    )


def kinds(decisions: list[Decision]) -> list[AlertKind]:
    return [d.alert.kind for d in decisions if d.alert is not None]


@pytest.mark.parametrize("parties", [2, 6])
def test_lambdas_racing_on_one_new_drift_post_it_once(
    make_store: Callable[[], StateStore], parties: int
) -> None:
    store = ReadTogether(make_store(), parties)
    findings = [drifted(OPEN_22, actor=actor(f"user{i}")) for i in range(parties)]
    with ThreadPoolExecutor(parties) as pool:
        decisions = list(pool.map(lambda f: apply(store, f), findings))
    assert kinds(decisions) == [AlertKind.NEW]
    stored = store.inner.get(record_key(findings[0]))
    assert stored is not None and stored.status is Status.DRIFTED


def test_lambdas_racing_on_a_fix_post_back_to_normal_once(
    make_store: Callable[[], StateStore],
) -> None:
    inner = make_store()
    apply(inner, drifted(OPEN_22))
    store = ReadTogether(inner, 2)
    with ThreadPoolExecutor(2) as pool:
        decisions = list(pool.map(lambda _: apply(store, in_sync(), minutes=5), range(2)))
    assert kinds(decisions) == [AlertKind.BACK_TO_NORMAL]
    assert inner.get(record_key(in_sync())) is None


def test_story_of_one_drift(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    opened = apply(store, drifted(OPEN_22, actor=actor("alice")))
    assert opened.alert is not None and opened.alert.kind is AlertKind.NEW
    assert opened.record is not None and opened.starts_thread
    remember_messages(store, opened.record, REF)

    duplicate = apply(store, drifted(OPEN_22, actor=actor("alice")), minutes=1)
    swept = apply(store, drifted(OPEN_22), minutes=2, cause="sweep")
    assert duplicate.alert is None and swept.alert is None

    changed = apply(store, drifted(OPEN_22, OPEN_3389, actor=actor("bob")), minutes=3)
    assert changed.alert is not None and changed.alert.kind is AlertKind.CHANGED
    assert changed.alert.thread == REF

    reminded = apply(store, drifted(OPEN_22, OPEN_3389), minutes=3 + 4 * 60, cause="sweep")
    assert reminded.alert is not None and reminded.alert.kind is AlertKind.REMINDER

    closed = apply(store, in_sync(actor=actor("carol")), minutes=300)
    assert closed.alert is not None and closed.alert.kind is AlertKind.BACK_TO_NORMAL
    assert closed.alert.thread == REF and closed.alert.duration_seconds == 300 * 60
    assert store.get(record_key(in_sync())) is None


def test_a_duplicate_writes_nothing(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    apply(store, drifted(OPEN_22, actor=actor("alice")))
    before = store.get(record_key(drifted(OPEN_22)))
    apply(store, drifted(OPEN_22, actor=actor("alice")), minutes=1)
    assert store.get(record_key(drifted(OPEN_22))) == before


def test_missing_found_by_name_closes_once_the_group_exists(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    by_name = finding(Status.MISSING, id=None, reason="the spec names a group that does not exist")
    opened = apply(store, by_name, cause="sweep")
    assert opened.alert is not None and opened.alert.kind is AlertKind.NEW
    assert opened.record is not None and opened.record.key.endswith("#web")
    remember_messages(store, opened.record, REF)

    created = apply(store, in_sync(actor=actor("ops", "CreateSecurityGroup")), minutes=10)
    assert created.alert is not None and created.alert.kind is AlertKind.BACK_TO_NORMAL
    assert created.alert.thread == REF
    assert store.get(opened.record.key) is None

    again = apply(store, by_name, minutes=20, cause="sweep")
    assert again.alert is not None and again.alert.kind is AlertKind.NEW


def test_drift_of_a_group_first_known_by_name_moves_to_its_id(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    by_name = finding(Status.MISSING, id=None, reason="the spec names a group that does not exist")
    apply(store, by_name, cause="sweep")
    created = apply(store, drifted(OPEN_22), minutes=10)
    assert created.alert is not None and created.alert.kind is AlertKind.CHANGED
    assert store.get(record_key(by_name)) is None
    moved = store.get(record_key(drifted(OPEN_22)))
    assert moved is not None and moved.resource_id == SG


def test_remember_messages_survives_a_concurrent_quiet_write(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    opened = apply(store, drifted(OPEN_22, actor=actor("alice")))
    assert opened.record is not None
    apply(store, drifted(OPEN_22, actor=actor("bob")), minutes=1)  # another Lambda, same drift
    stored = remember_messages(store, opened.record, REF)
    assert stored is not None and stored.messages == REF
    current = store.get(opened.record.key)
    assert current is not None and current.messages == REF
    assert current.last_actors[0].endswith("user/bob")


def test_remember_messages_gives_up_when_the_drift_is_over(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    opened = apply(store, drifted(OPEN_22))
    assert opened.record is not None
    apply(store, in_sync(), minutes=1)
    assert remember_messages(store, opened.record, REF) is None
    assert store.get(opened.record.key) is None


def test_release_lets_a_retry_alert_again(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    claimed = apply(store, drifted(OPEN_22))
    assert release(store, claimed)  # the post failed
    retried = apply(store, drifted(OPEN_22), minutes=1)
    assert retried.alert is not None and retried.alert.kind is AlertKind.NEW

    closed = apply(store, in_sync(), minutes=2)
    assert closed.alert is not None and release(store, closed)
    retried_close = apply(store, in_sync(), minutes=3)
    assert retried_close.alert is not None
    assert retried_close.alert.kind is AlertKind.BACK_TO_NORMAL


def test_release_after_someone_else_wrote_changes_nothing(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    claimed = apply(store, drifted(OPEN_22))
    apply(store, drifted(OPEN_22, OPEN_3389), minutes=1)
    assert not release(store, claimed)
    current = store.get(record_key(drifted(OPEN_22)))
    assert current is not None and current.last_changes == (OPEN_22, OPEN_3389)


class AlwaysLoses(MemoryStateStore):
    def put(self, record: StateRecord, expected_version: int | None) -> None:
        raise StateConflictError("lost")


def test_endless_contention_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(StateConflictError, match="3 attempts"):
        apply(AlwaysLoses(), drifted(OPEN_22))
