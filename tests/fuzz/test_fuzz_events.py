"""Every fixture CloudTrail record, mutated, through the event Lambda's path and `explain`'s.

What runs in CI: `EXAMPLES["event_handler"]` (4,000; 21 to 34 s measured) payloads through
`handle_cloudtrail_event` (the function the event Lambdas call) on moto, with the
repository's policies/ as specs and the chat stand-in as a Slack and a JSON webhook, so a
routed record is re-read, compared, alerted and delivered; and `EXAMPLES["event_file"]`
(1,500; 12 to 22 s) event files through `read_event_file` and the same handler, as `setpoint
explain` reads them. Time and memory measured for the record in docs/security.md
("Fuzzing").

Each payload is a fixture with up to four mutations (`mutations.mutated`), wrapped as a raw
record, an EventBridge envelope or a log file. The outcome must be an answer: findings,
skips, or errors classified as `malformed_event: ...` naming the field. Nothing escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from chalicelib.errors import ConfigError
from chalicelib.events.event_file import read_event_file
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.notify.delivery import notifier_for
from chalicelib.runtime import Runtime
from chalicelib.specs.loading import load_directory
from tests.chat_server import PROXY_VARIABLES, ChatServer, running_chat
from tests.conftest import REGION
from tests.fuzz.mutations import (
    ROOT,
    cloudtrail_fixtures,
    fuzz_settings,
    load_json,
    mutated,
    texts,
)
from tests.runtime_builder import build_runtime
from tests.state.world import ACCOUNT, Clock

SEEDS = [load_json(path) for path in cloudtrail_fixtures()]
# the record inside each fixture (some fixtures are EventBridge envelopes)
RECORDS = [seed.get("detail", seed) if isinstance(seed, dict) else seed for seed in SEEDS]


def test_the_seeds_are_every_fixture_record() -> None:
    assert len(SEEDS) >= 100, len(SEEDS)
    assert all(isinstance(record, dict) and "eventName" in record for record in RECORDS)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Runtime, ChatServer]]:
    """One moto account and one chat for every example (alert state carries over, as in
    a warm Lambda)."""
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", *PROXY_VARIABLES):
            patch.delenv(key, raising=False)
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            patch.setenv(key, value)
        with mock_aws(), running_chat() as chat:
            catalog = load_directory(ROOT / "policies")
            runtime = build_runtime(
                specs=lambda: catalog,
                # Block Kit (escaping, size budgets) and the JSON body both rendered
                notifiers=[
                    notifier_for(
                        chat.base + "/services/T0/B0/hook",
                        fmt,
                        sleep=lambda _: None,
                        max_attempts=1,
                    )
                    for fmt in ("slack", "json")
                ],
                regions=[REGION],
                account=ACCOUNT,
                clock=Clock(),
            )
            yield runtime, chat


@st.composite
def payloads(draw: Any) -> Any:
    record = draw(mutated(draw(st.sampled_from(RECORDS))))
    wrapping = draw(st.sampled_from(["raw", "envelope", "log", "log_mixed"]))
    if wrapping == "envelope":
        return {
            "version": "0",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2",
            "account": draw(st.sampled_from(["123456789012", "", 123456789012]) | texts),
            "region": draw(st.sampled_from([REGION, "us-east-1", ""]) | texts),
            "detail": record,
        }
    if wrapping == "log":
        return {"Records": [record]}
    if wrapping == "log_mixed":
        return {"Records": [draw(st.sampled_from(RECORDS)), record]}
    return record


def assert_an_answer(outcome: Any) -> None:
    """Findings, skips or classified errors: never a crash, never an unnamed failure."""
    for error in outcome.errors:
        assert error.split(":", 1)[0] in ("malformed_event", "delivery_failed"), error
        assert len(error) > len("malformed_event: "), error
    for finding in outcome.findings:
        assert finding.status in Status
        if finding.status is Status.UNKNOWN:
            assert finding.reason, finding
    for skipped in outcome.skipped:
        assert skipped.detail


@fuzz_settings("event_handler")
@given(payloads())
def test_a_mutated_record_is_answered_by_the_event_handler(
    world: tuple[Runtime, ChatServer], payload: Any
) -> None:
    runtime, _chat = world
    assert_an_answer(handle_cloudtrail_event(payload, runtime))


def test_the_mutations_reach_the_collectors_and_the_chat(
    world: tuple[Runtime, ChatServer],
) -> None:
    """Not vacuous: unmutated fixture records are routed, read and alerted."""
    runtime, chat = world
    before = len(chat.received)
    routed = 0
    for record in RECORDS:
        outcome = handle_cloudtrail_event(record, runtime)
        assert_an_answer(outcome)
        routed += bool(outcome.findings)
    assert routed >= 20, routed
    assert len(chat.received) > before


@st.composite
def event_files(draw: Any) -> str:
    """An event file's text: a mutated payload, or JSON text broken where parsing is
    fragile (deep nesting, lone surrogate escapes, integers past the digit limit)."""
    payload = draw(payloads())
    trick = draw(st.sampled_from(["none", "deep", "surrogate", "digits", "cut", "bom"]))
    try:
        text = json.dumps(payload, indent=draw(st.sampled_from([None, 2])))
    except RecursionError:  # nested past what json can write: the deep case below
        text, trick = "", "deep"
    if trick == "deep":
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        text = '{"eventName": "X", "requestParameters": ' + "[" * depth + "]" * depth + "}"
    elif trick == "surrogate":
        text = text.replace('"eventName"', '"\\udc00eventName"', 1).replace(
            "amazonaws.com", "amazon\\ud800aws.com"
        )
    elif trick == "digits":
        text = text.replace('"eventName"', '"n": ' + "9" * 5000 + ', "eventName"', 1)
    elif trick == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif trick == "bom":
        text = "\ufeff" + text
    return text


@fuzz_settings("event_file")
@given(event_files())
def test_a_mutated_event_file_is_read_or_refused_by_name(
    world: tuple[Runtime, ChatServer], tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.getbasetemp() / "event.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        payload = read_event_file(str(path))
    except ConfigError as error:
        assert str(error).startswith(str(path)), error
        return
    runtime, _chat = world
    assert_an_answer(handle_cloudtrail_event(payload, runtime))


def test_fixture_paths_are_inside_the_repository() -> None:
    assert all(Path(p).is_relative_to(ROOT) for p in cloudtrail_fixtures())
