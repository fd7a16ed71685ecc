"""Settle windows and pending re-checks: conditional, expiring, in memory and on DynamoDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.state import DynamoStateStore, MemoryStateStore
from chalicelib.state.windows import (
    DynamoWindowStore,
    MemoryWindowStore,
    WindowStore,
    window_key,
    windows_for,
)
from tests.state.helpers import T0
from tests.state.world import TABLE, state_table

KEY = window_key("settle", SECURITY_GROUP, "123456789012", "eu-west-1", "sg-0abc", "web")


@pytest.fixture(params=["memory", "dynamodb"])
def windows(request: pytest.FixtureRequest) -> WindowStore:
    if request.param == "memory":
        return MemoryWindowStore()
    request.getfixturevalue("aws")
    return DynamoWindowStore(TABLE, state_table())


def test_a_window_is_open_until_its_end(windows: WindowStore) -> None:
    end = T0 + timedelta(seconds=90)
    assert windows.open_until(KEY, T0) is None
    assert windows.claim(KEY, end, unless_open_after=T0)
    assert windows.open_until(KEY, T0 + timedelta(seconds=89)) == end
    assert windows.open_until(KEY, end) is None  # closed, even before TTL removes the row


def test_an_open_window_is_claimed_once(windows: WindowStore) -> None:
    end = T0 + timedelta(seconds=90)
    assert windows.claim(KEY, end, unless_open_after=T0)
    later = T0 + timedelta(seconds=5)
    assert not windows.claim(KEY, later + timedelta(seconds=90), unless_open_after=later)
    assert windows.open_until(KEY, later) == end


def test_a_window_due_too_soon_is_moved_on(windows: WindowStore) -> None:
    windows.claim(KEY, T0 + timedelta(seconds=90), unless_open_after=T0)
    now = T0 + timedelta(seconds=60)
    moved = now + timedelta(seconds=90)
    assert windows.claim(KEY, moved, unless_open_after=now + timedelta(seconds=45))
    assert windows.open_until(KEY, now) == moved


def test_release_removes_only_the_callers_window(windows: WindowStore) -> None:
    mine = T0 + timedelta(seconds=90)
    windows.claim(KEY, mine, unless_open_after=T0)
    windows.release(KEY, T0 + timedelta(seconds=30))  # not ours: stays
    assert windows.open_until(KEY, T0) == mine
    windows.release(KEY, mine)
    assert windows.open_until(KEY, T0) is None


def test_keys_name_ids_without_regions_and_names_with_them() -> None:
    assert KEY == "settle#123456789012#security_group#sg-0abc"
    by_name = window_key("settle", SECURITY_GROUP, None, "eu-west-1", None, "web")
    assert by_name == "settle#-#eu-west-1#security_group#web"


def test_windows_live_beside_the_state(aws: None) -> None:
    client = state_table()
    dynamo = windows_for(DynamoStateStore(TABLE, client))
    assert isinstance(dynamo, DynamoWindowStore) and dynamo.table_name == TABLE
    memory = MemoryStateStore()
    assert windows_for(memory) is windows_for(memory)
    assert windows_for(memory) is not windows_for(MemoryStateStore())


def test_window_rows_expire_a_day_after_they_close(aws: None) -> None:
    client = state_table()
    DynamoWindowStore(TABLE, client).claim(KEY, T0 + timedelta(seconds=90), unless_open_after=T0)
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": KEY}})["Item"]
    closes = int((T0 + timedelta(seconds=90)).timestamp())
    assert int(item["until"]["N"]) == closes
    assert int(item["expires_at"]["N"]) == closes + 86400
