from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.model import Change, Status
from chalicelib.state import fingerprint
from tests.state.helpers import (
    OPEN_22,
    OPEN_22_SWEEP_WORDING,
    OPEN_3389,
    WANT_443,
    actor,
    drifted,
    finding,
    unknown,
)


def test_same_drift_worded_differently_by_event_and_sweep_has_one_fingerprint() -> None:
    from_event = drifted(OPEN_22, actor=actor("alice"))
    from_sweep = drifted(OPEN_22_SWEEP_WORDING, spec="policies/security_groups/web.yaml")
    assert fingerprint(from_event) == fingerprint(from_sweep)


def test_actor_does_not_change_the_fingerprint() -> None:
    assert fingerprint(drifted(OPEN_22, actor=actor("alice"))) == fingerprint(
        drifted(OPEN_22, actor=actor("bob"))
    )


def test_an_extra_rule_is_a_different_drift() -> None:
    assert fingerprint(drifted(OPEN_22)) != fingerprint(drifted(OPEN_22, OPEN_3389))


def test_status_is_part_of_the_drift() -> None:
    assert fingerprint(drifted(OPEN_22)) != fingerprint(finding(Status.UNMANAGED, OPEN_22))


def test_expected_and_actual_values_count() -> None:
    wider = dataclasses.replace(OPEN_22, actual={**OPEN_22.actual, "ports": "22-23"})
    assert fingerprint(drifted(OPEN_22)) != fingerprint(drifted(wider))
    assert fingerprint(drifted(WANT_443)) != fingerprint(
        drifted(dataclasses.replace(WANT_443, op="modify"))
    )


def test_sets_and_lists_in_values_are_canonical() -> None:
    as_set = Change("modify", "tags", {"a", "b"}, ("b", "c"), "x")
    as_list = Change("modify", "tags", ["a", "b"], ["b", "c"], "y")
    assert fingerprint(drifted(as_set)) == fingerprint(drifted(as_list))


def test_each_unknown_reason_is_its_own_fingerprint() -> None:
    denied = unknown("AccessDenied on DescribeSecurityGroups")
    throttled = unknown("Throttling past retries")
    assert fingerprint(denied) != fingerprint(throttled)
    assert fingerprint(denied) == fingerprint(unknown("AccessDenied on DescribeSecurityGroups"))


def test_fingerprint_is_a_long_hex_string() -> None:
    value = fingerprint(drifted(OPEN_22))
    assert len(value) >= 16
    int(value, 16)


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
changes = st.builds(
    Change,
    op=st.sampled_from(["add", "remove", "modify"]),
    path=st.sampled_from(["ingress", "egress", "tags", "description", "policy"]),
    expected=json_values,
    actual=json_values,
    summary=st.text(max_size=20),
)


@settings(max_examples=150)
@given(
    st.lists(changes, min_size=1, max_size=6).flatmap(
        lambda cs: st.tuples(st.just(cs), st.permutations(cs))
    )
)
def test_order_of_changes_never_matters(pair: tuple[list[Change], list[Change]]) -> None:
    original, shuffled = pair
    assert fingerprint(drifted(*original)) == fingerprint(drifted(*shuffled))


@settings(max_examples=100)
@given(st.lists(changes, min_size=1, max_size=5), changes)
def test_adding_a_change_not_already_there_changes_the_fingerprint(
    base: list[Change], extra: Change
) -> None:
    from chalicelib.state import change_key

    if change_key(extra) in {change_key(c) for c in base}:
        return
    assert fingerprint(drifted(*base)) != fingerprint(drifted(*base, extra))
