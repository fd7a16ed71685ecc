"""The "via" label says who vouches for it: CloudTrail ("via console") or only the user
agent, which any caller can set ("user agent says terraform").

A review sent `userAgent: "Terraform/1.7"` from a plain script and every alert called the
change "via terraform", as if a pipeline had made it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.events.actor import actor_from_record
from chalicelib.events.record import parse_payload
from chalicelib.model import Actor
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.alert_message import render_alert_slack, render_alert_text
from chalicelib.notify.message import render_slack, render_text
from chalicelib.notify.teams import render_alert_teams
from chalicelib.report.json_report import finding_to_dict
from chalicelib.report.text_report import render_finding_block
from tests.report.samples import DRIFTED


def actor(user_agent: str | None, **fields: Any) -> Actor:
    record = {"eventName": "AuthorizeSecurityGroupIngress", "userAgent": user_agent, **fields}
    (parsed,) = parse_payload(record)
    return actor_from_record(parsed)


def rendered(who: Actor) -> dict[str, str]:
    """Every place an actor is shown, as text."""
    finding = replace(DRIFTED, actor=who)
    alert = Alert(AlertKind.NEW, finding)
    return {
        "text": render_text(finding),
        "slack": json.dumps(render_slack(finding), ensure_ascii=False),
        "alert text": render_alert_text(alert),
        "alert slack": json.dumps(render_alert_slack(alert), ensure_ascii=False),
        "teams": json.dumps(render_alert_teams(alert), ensure_ascii=False),
        "report": "\n".join(render_finding_block(finding)),
    }


@pytest.mark.parametrize(
    ("user_agent", "tool"),
    [
        ("Boto3/1.34 Terraform/1.7", "terraform"),
        ("cloudformation.amazonaws.com", "cloudformation"),
        ("console.ec2.amazonaws.com", "console"),
    ],
)
def test_a_tool_named_only_by_the_user_agent_is_what_the_user_agent_says(
    user_agent: str, tool: str
) -> None:
    who = actor(user_agent)
    assert who.via == tool
    assert who.via_label == f"(user agent says {tool})"
    for where, text in rendered(who).items():
        assert f"user agent says {tool}" in text, where
        assert f"via {tool}" not in text, where
    assert finding_to_dict(replace(DRIFTED, actor=who))["actor"]["via_source"] == "user_agent"


@pytest.mark.parametrize(
    ("user_agent", "fields", "tool"),
    [
        (None, {"userIdentity": {"invokedBy": "cloudformation.amazonaws.com"}}, "cloudformation"),
        ("AWS Internal", {"sessionCredentialFromConsole": "true"}, "console"),
        (
            "console.ec2.amazonaws.com",
            {"userIdentity": {"sessionContext": {"sessionCredentialFromConsole": "true"}}},
            "console",
        ),
    ],
)
def test_a_tool_cloudtrail_records_is_via_that_tool(
    user_agent: str | None, fields: dict[str, Any], tool: str
) -> None:
    who = actor(user_agent, **fields)
    assert who.via_label == f"via {tool}"
    for where, text in rendered(who).items():
        assert f"via {tool}" in text, where
        assert "user agent says" not in text, where
    assert finding_to_dict(replace(DRIFTED, actor=who))["actor"]["via_source"] == "cloudtrail"


def test_no_tool_no_label() -> None:
    who = actor("aws-cli/2.15")
    assert (who.via, who.via_source, who.via_label) == (None, None, None)
