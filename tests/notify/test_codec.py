"""Alerts survive the trip through JSON (the outbox's body), and bad bodies say what is wrong."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.model import Actor, Change, Excepted, Finding, Kind, Revert
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.codec import (
    MalformedAlertError,
    alert_from_data,
    alert_to_data,
    decode_alert,
    encode_alert,
    from_data,
    to_data,
)
from tests.notify.alert_samples import ALL, CHANGED

# kinds are names, not an enum: a finding is about one of the registered ones
st.register_type_strategy(Kind, st.sampled_from(ALL_KINDS))

# What `Change.expected` / `actual` hold: JSON values (finite numbers; lists, not tuples).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
changes = st.builds(Change, expected=json_values, actual=json_values)


def every_field(cls: type, **given_fields: Any) -> st.SearchStrategy[Any]:
    """Build `cls` with a value drawn for every field, defaults included, so a field added
    to the model later (and the codec's handling of it) is covered without editing this."""
    inferred = {f.name: ... for f in dataclasses.fields(cls) if f.name not in given_fields}
    return st.builds(cls, **inferred, **given_fields)


actors = every_field(Actor)
excepted = st.builds(Excepted, change=changes)
findings = every_field(
    Finding,
    changes=st.lists(changes, max_size=3).map(tuple),
    actor=st.none() | actors,
    excepted=st.lists(excepted, max_size=2).map(tuple),
    reverts=st.lists(st.builds(Revert, change=changes), max_size=2).map(tuple),
)
alerts = every_field(
    Alert,
    finding=findings,
    previous_changes=st.lists(changes, max_size=2).map(tuple),
    fixed_by=st.none() | actors,
    thread=st.lists(st.builds(MessageRef), max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(alerts)
def test_any_alert_round_trips_through_json(alert: Alert) -> None:
    text = encode_alert(alert)
    assert text.isascii()  # SQS refuses some code points; escaped JSON has none
    assert decode_alert(text) == alert


@pytest.mark.parametrize("alert", ALL, ids=lambda a: a.kind.value)
def test_every_sample_alert_round_trips(alert: Alert) -> None:
    assert decode_alert(encode_alert(alert)) == alert


def test_the_body_is_versioned_and_names_every_field() -> None:
    data = json.loads(encode_alert(CHANGED))
    assert data["format_version"] == "1"
    assert data["alert"]["kind"] == "changed"
    assert data["alert"]["thread"] == [{"notifier": "webhook:hooks.slack.com", "ref": "a1b2c3"}]
    assert {f.name for f in dataclasses.fields(Finding)} == set(data["alert"]["finding"])


@dataclass(frozen=True)
class Later:
    """A model after a field was added: what the next deployment might read or write."""

    name: str
    tags: Any = field(default_factory=dict)
    labels: tuple[tuple[str, str], ...] = ()
    scopes: frozenset[str] = frozenset()


def test_a_new_field_travels_without_editing_the_codec() -> None:
    value = Later("web", {"team": "web"}, (("env", "prod"),), frozenset({"b", "a"}))
    assert from_data(Later, json.loads(json.dumps(to_data(value))), "x") == value


def test_a_body_written_before_a_field_existed_takes_its_default() -> None:
    assert from_data(Later, {"name": "web"}, "x") == Later("web")


def test_an_unknown_key_from_a_newer_writer_is_ignored() -> None:
    data = alert_to_data(CHANGED)
    data["alert"]["finding"]["colour"] = "blue"
    assert alert_from_data(data) == CHANGED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "body is not JSON"),
        ("[]", "expected a JSON object, got a list"),
        ('{"format_version": "2", "alert": {}}', "format_version: expected '1', got '2'"),
        ('{"format_version": "1"}', "alert: missing"),
        ('{"format_version": "1", "alert": {"kind": "new"}}', "alert.finding: missing"),
    ],
)
def test_a_malformed_body_is_a_clear_error(body: str, message: str) -> None:
    with pytest.raises(MalformedAlertError, match=message):
        decode_alert(body)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("kind",), "panic", "alert.kind: expected one of 'new', "),
        (("finding", "status"), None, "alert.finding.status: expected one of"),
        (("finding", "changes"), {"op": "add"}, "alert.finding.changes: expected a list"),
        (("finding", "changes", 0, "op"), "delete", r"alert.finding.changes\[0\].op: expected one"),
        (("duration_seconds",), "1h", "alert.duration_seconds: expected int, got a string"),
        (("duration_seconds",), True, "alert.duration_seconds: expected int"),
        (("thread", 0), ["webhook", "a1"], r"alert.thread\[0\]: expected an object \(MessageRef\)"),
        (("finding", "changes", 0, "world_open"), "yes", "world_open: expected bool"),
    ],
)
def test_a_wrong_field_is_named_by_its_path(path: tuple[Any, ...], value: Any, message: str):
    data = alert_to_data(CHANGED)
    target = data["alert"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(MalformedAlertError, match=message):
        alert_from_data(data)


def test_next_steps_travel_through_the_outbox_and_old_bodies_decode_without_them() -> None:
    # `Change` equality ignores next steps (advice, not identity), so compare them directly
    change = Change(
        "add", "ingress", None, {"proto": "tcp"}, "tcp/22", revert="aws ec2 x", accept="add y"
    )
    alert = dataclasses.replace(
        CHANGED, finding=dataclasses.replace(CHANGED.finding, changes=(change,))
    )
    (back,) = decode_alert(encode_alert(alert)).finding.changes
    assert (back.revert, back.accept) == ("aws ec2 x", "add y")
    data = alert_to_data(alert)
    for key in ("revert", "accept"):
        del data["alert"]["finding"]["changes"][0][key]
    (old,) = alert_from_data(data).finding.changes
    assert (old.revert, old.accept) == (None, None)
