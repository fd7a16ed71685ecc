"""What the fuzz tests found, each pinned as the input a user (or a pipeline) would send."""

from __future__ import annotations

import pytest

from chalicelib.errors import SpecError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.sources.terraform.state import parse_state
from chalicelib.specs.parse import parse_file
from tests.chat_server import ChatServer
from tests.conftest import sample
from tests.state.world import make_runtime, specs


def test_a_record_with_a_made_up_region_is_unknown_without_a_read(
    aws: None, chat_server: ChatServer
) -> None:
    """A published DeleteTrail record whose awsRegion was scrambled ("megov-westwest-1r"):
    the read went to an endpoint that does not exist (moto raised KeyError, AWS a DNS
    failure after retries). Now nothing is read and the finding says why."""
    runtime = make_runtime(chat_server.url, specs())
    outcome = handle_cloudtrail_event(sample("cloudtrail/DeleteTrail__1"), runtime)
    (finding,) = outcome.findings
    assert finding.status is Status.UNKNOWN
    assert "region 'megov-westwest-1r' is not an AWS region name" in (finding.reason or "")
    assert finding.actor is not None and finding.actor.event_name == "DeleteTrail"


@pytest.mark.parametrize("kind", ["iam_role", "iam_user", "iam_group", "iam_policy"])
def test_an_iam_spec_without_a_name_is_a_validation_error(kind: str) -> None:
    """The builder read data["name"] after the schema had reported it missing: KeyError."""
    body = {
        "iam_role": "trust_policy: {Version: '2012-10-17', Statement: []}\n",
        "iam_policy": "document: {Version: '2012-10-17', Statement: []}\n",
    }.get(kind, "")
    parsed = parse_file("policies/iam/x.yaml", f"kind: {kind}\n{body}")
    assert [(e.line, e.field, e.message) for e in parsed.errors] == [
        (1, "name", "missing required field 'name'")
    ]


def test_a_control_character_is_an_error_with_its_line() -> None:
    (error,) = parse_file("policies/web.yaml", "kind: security_group\nname: web\x1f\n").errors
    assert (error.line, error.message) == (
        2,
        "invalid YAML: character U+001F: control characters are not allowed",
    )


def test_a_lone_surrogate_in_spec_text_is_an_error_with_its_line() -> None:
    """A bundle is JSON: `"\\ud800"` in it reached libyaml as a str it cannot encode."""
    (error,) = parse_file("policies/web.yaml", "kind: security_group\nname: w\ud800b\n").errors
    assert error.line == 2 and "lone surrogate U+D800" in error.message


@pytest.mark.parametrize(
    ("text", "says", "field"),
    [
        ('{"version": 4, "resources": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper", None),
        ('{"version": 4, "resources": ' + "[" * 70 + "]" * 70 + "}", "nested deeper", "resources"),
        ('{"version": 4, "serial": ' + "7" * 5000 + "}", "4,300 digits", None),
        ('{"version": 4, "resources": [{"type": "aws_s3_bucket\\ud800"}]}', "lone surrogate", None),
    ],
)
def test_a_state_json_cannot_hold_is_a_spec_error_naming_it(
    text: str, says: str, field: str | None
) -> None:
    """RecursionError and ValueError escaped from json.loads; deep or unencodable values
    went on to the mappings and the reports."""
    with pytest.raises(SpecError, match=says) as caught:
        parse_state("states/prod.tfstate", text)
    assert caught.value.file == "states/prod.tfstate"
    if field is not None:
        assert (caught.value.field or "").startswith(field)
