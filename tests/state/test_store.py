"""Both stores keep records whole and refuse writes based on a stale read."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.errors import ConfigError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Status
from chalicelib.notify.alert import MessageRef
from chalicelib.state import (
    ATTRIBUTE_DEFINITIONS,
    KEY_SCHEMA,
    TTL_ATTRIBUTE,
    DynamoStateStore,
    MemoryStateStore,
    StateConflictError,
    StateLocation,
    StateRecord,
    StateStore,
    StateStoreError,
    decide,
    parse_state_uri,
)
from tests.state.helpers import OPEN_22, REGION, T0, WANT_443, actor, drifted

TABLE = "setpoint-state"


def create_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTE_DEFINITIONS,
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_table(client)
    return client


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
    else:
        yield DynamoStateStore(TABLE, request.getfixturevalue("dynamodb"))


def full_record() -> StateRecord:
    record = decide(
        None, drifted(OPEN_22, WANT_443, actor=actor("alice")), now=T0, cause="event", reminder=None
    ).record
    assert record is not None
    return dataclasses.replace(
        record,
        last_actors=("arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:user/alice"),
        messages=(MessageRef("slack-bot:C0123", "1712.0001"), MessageRef("webhook:example", "m-1")),
        pending=True,
        unread="abc123",
    )


def test_round_trip_keeps_every_field(store: StateStore) -> None:
    record = full_record()
    store.put(record, expected_version=None)
    assert store.get(record.key) == record


def test_round_trip_with_sparse_fields(store: StateStore) -> None:
    record = dataclasses.replace(
        full_record(),
        account=None,
        resource_id=None,
        name="web",
        key="-#eu-west-1#security_group#web",
        status=Status.MISSING,
        last_actors=(),
        messages=(),
        last_changes=(),
        unread=None,
        pending=False,
    )
    store.put(record, expected_version=None)
    assert store.get(record.key) == record


def test_absent_record_reads_as_none(store: StateStore) -> None:
    assert store.get("123456789012#eu-west-1#security_group#sg-none") is None


def test_second_create_conflicts(store: StateStore) -> None:
    record = full_record()
    store.put(record, expected_version=None)
    with pytest.raises(StateConflictError):
        store.put(dataclasses.replace(record, fingerprint="other"), expected_version=None)
    stored = store.get(record.key)
    assert stored is not None and stored.fingerprint == record.fingerprint


def test_update_from_a_stale_version_conflicts(store: StateStore) -> None:
    record = full_record()
    store.put(record, expected_version=None)
    newer = dataclasses.replace(record, fingerprint="newer", version=2)
    store.put(newer, expected_version=1)
    with pytest.raises(StateConflictError):
        store.put(dataclasses.replace(record, fingerprint="stale", version=2), expected_version=1)
    stored = store.get(record.key)
    assert stored is not None and stored.fingerprint == "newer"


def test_update_of_a_deleted_row_conflicts(store: StateStore) -> None:
    record = full_record()
    with pytest.raises(StateConflictError):
        store.put(dataclasses.replace(record, version=2), expected_version=1)


def test_delete_is_conditional_on_version(store: StateStore) -> None:
    record = full_record()
    store.put(record, expected_version=None)
    with pytest.raises(StateConflictError):
        store.delete(record.key, expected_version=7)
    assert store.get(record.key) is not None
    store.delete(record.key, expected_version=1)
    assert store.get(record.key) is None


def test_dynamo_item_carries_an_expiry_90_days_after_its_last_update(dynamodb: Any) -> None:
    record = dataclasses.replace(full_record(), updated_at="2025-03-05T10:00:00+00:00")
    DynamoStateStore(TABLE, dynamodb).put(record, expected_version=None)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": record.key}})["Item"]
    expected = datetime.fromisoformat("2025-03-05T10:00:00+00:00") + timedelta(days=90)
    assert int(item[TTL_ATTRIBUTE]["N"]) == int(expected.timestamp())
    assert item["kind"] == {"S": SECURITY_GROUP.value}
    assert item["version"] == {"N": "1"}


def test_dynamo_other_failures_are_store_errors_not_conflicts(dynamodb: Any) -> None:
    store = DynamoStateStore("no-such-table", dynamodb)
    with pytest.raises(StateStoreError) as caught:
        store.get("k")
    assert not isinstance(caught.value, StateConflictError)
    assert caught.value.code == "ResourceNotFoundException"
    assert "no-such-table" in str(caught.value)


def test_dynamo_row_that_does_not_parse_is_a_store_error(dynamodb: Any) -> None:
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "k"}, "status": {"S": "sideways"}})
    with pytest.raises(StateStoreError, match="state row k"):
        DynamoStateStore(TABLE, dynamodb).get("k")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("memory://", StateLocation("memory")),
        ("dynamodb://setpoint-state", StateLocation("dynamodb", "setpoint-state")),
        (
            "dynamodb://Setpoint.State_1?region=eu-west-1",
            StateLocation("dynamodb", "Setpoint.State_1", "eu-west-1"),
        ),
    ],
)
def test_state_uri(uri: str, expected: StateLocation) -> None:
    assert parse_state_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "dynamo://t",
        "dynamodb://",
        "dynamodb://ab",
        "dynamodb://a b",
        "dynamodb://tbl?x=1",
        "dynamodb://tbl/extra",
        "memory://somewhere",
        "s3://bucket",
    ],
)
def test_bad_state_uri_is_a_config_error(uri: str) -> None:
    with pytest.raises(ConfigError, match="--state"):
        parse_state_uri(uri)


def test_location_opens_a_store(dynamodb: Any) -> None:
    assert isinstance(parse_state_uri("memory://").open(), MemoryStateStore)
    opened = parse_state_uri(f"dynamodb://{TABLE}").open(dynamodb)
    assert isinstance(opened, DynamoStateStore) and opened.table_name == TABLE
    with pytest.raises(ConfigError):
        parse_state_uri(f"dynamodb://{TABLE}").open()
