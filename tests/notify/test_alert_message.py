from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.model import Change, Status
from chalicelib.notify.alert import Alert, AlertKind, MessageRef
from chalicelib.notify.alert_message import (
    alert_headline,
    format_duration,
    render_alert_json,
    render_alert_slack,
    render_alert_text,
)
from chalicelib.notify.message import render_slack, render_text
from tests.notify.alert_samples import (
    ALL,
    APPLIED,
    BACK,
    CHANGED,
    FIRST,
    GONE,
    NEW,
    PENDING,
    REMINDER,
    SINCE,
)
from tests.report.samples import DRIFTED, UNMANAGED

RESOURCE = (
    'Resource: security group sg-0abc "jenkins", vpc vpc-0123, us-east-1, account 123456789012'
)
ALICE_LINES = (
    "Who: arn:aws:sts::123456789012:assumed-role/Admin/alice"
    " (role arn:aws:iam::123456789012:role/Admin) via console\n"
    "When: 2024-05-01T10:00:00Z (AuthorizeSecurityGroupIngress)\n"
    "From: 203.0.113.7, aws-cli/2.15.0 Python/3.11"
)
BOB_LINES = (
    "arn:aws:sts::123456789012:assumed-role/Ops/bob\n"
    "When: 2024-05-01T12:13:00Z ({event})\n"
    "From: 198.51.100.9, terraform/1.8"
)
FULL_DRIFT = (
    "⚠ Open to the world: 1 rule here accepts traffic from any address.\n"
    "Changes:\n"
    "  + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world\n"
    "    ↳ revert: aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc"
    ' --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,'
    '"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]\'\n'
    "  - ingress tcp/443 from 10.0.0.0/8 — in spec, missing live\n"
    '  ~ tags.team "platform" -> "ops"\n'
    "Spec: policies/security_groups/jenkins.yaml:3"
)
RE = "re: alert a1b2c3 at 2024-05-01T10:00:00Z"


def _texts(payload: Any) -> Iterator[str]:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _texts(item)


def test_new_reads_exactly_like_todays_message():
    assert render_alert_text(NEW) == render_text(DRIFTED)
    assert render_alert_slack(NEW) == render_slack(DRIFTED)


def test_new_shows_its_own_id_so_follow_ups_can_cite_it():
    assert render_alert_text(NEW, ref="f00d").endswith("\nAlert id: f00d")
    context = render_alert_slack(NEW, ref="f00d")["blocks"][-1]
    assert context["type"] == "context"
    assert context["elements"][-1]["text"] == "Alert `f00d`"


def test_changed_golden_says_what_is_new_and_what_went_away_then_the_whole_drift():
    assert render_alert_text(CHANGED) == (
        "Drift changed: security group jenkins (sg-0abc) departs from its spec differently"
        " since the last alert\n"
        f"{RE}\n"
        f"{RESOURCE}\n"
        f"{ALICE_LINES}\n"
        "⚠ Open to the world: 2 rules here accept traffic from any address.\n"
        "Since the last alert:\n"
        "  new:       + ingress tcp/3389 from 0.0.0.0/0 — not in spec  ⚠ open to the world\n"
        "  no longer: - ingress tcp/443 from 10.0.0.0/8 — in spec, missing live\n"
        "Changes:\n"
        "  + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world\n"
        "    ↳ revert: aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc"
        ' --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,'
        '"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]\'\n'
        "  + ingress tcp/3389 from 0.0.0.0/0 — not in spec  ⚠ open to the world\n"
        '  ~ tags.team "platform" -> "ops"\n'
        "Spec: policies/security_groups/jenkins.yaml:3\n"
        "CloudTrail event: 0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"
    )


def test_changed_matches_changes_by_value_not_wording():
    reworded = replace(DRIFTED.changes[0], summary="ingress 443/tcp from 10/8 is missing")
    alert = replace(CHANGED, previous_changes=(reworded, *DRIFTED.changes[1:]))
    since = render_alert_text(alert).split("Since the last alert:\n")[1].split("Changes:")[0]
    assert "new:" in since and "3389" in since
    assert "no longer:" in since and "443" in since  # the value is gone, whatever the words


def test_reminder_golden():
    assert render_alert_text(REMINDER) == (
        f"Reminder: security group jenkins (sg-0abc) still drifted since {SINCE}\n"
        f"{RE}\n"
        f"{RESOURCE}\n"
        f"{ALICE_LINES}\n"
        f"Off since: {SINCE}, for 1d 2h\n"
        f"{FULL_DRIFT}\n"
        "CloudTrail event: 0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"
    )


def test_back_to_normal_golden_names_the_fixer_and_how_long():
    assert render_alert_text(BACK) == (
        "Back to normal: security group jenkins (sg-0abc) matches its spec again"
        " — fixed by arn:aws:sts::123456789012:assumed-role/Ops/bob after 2h 13m\n"
        f"{RE}\n"
        f"{RESOURCE}\n"
        "Fixed by: " + BOB_LINES.format(event="RevokeSecurityGroupIngress") + "\n"
        f"Off since: {SINCE}, for 2h 13m\n"
        "Spec: policies/security_groups/jenkins.yaml:3\n"
        "CloudTrail event: ev-fix-0001"
    )


def test_back_to_normal_without_fixer_or_duration_still_reads():
    alert = replace(BACK, fixed_by=None, finding=replace(BACK.finding, actor=None))
    alert = replace(alert, duration_seconds=None)
    assert alert_headline(alert) == (
        "Back to normal: security group jenkins (sg-0abc) matches its spec again"
    )


def test_pending_apply_golden_is_calm_and_lists_the_changes():
    assert render_alert_text(PENDING) == (
        "Pending apply: the spec for security group jenkins (sg-0abc) changed;"
        " the cloud does not match it yet\n"
        f"{RESOURCE}\n"
        f"{FULL_DRIFT}"
    )
    assert "Drift" not in render_alert_text(PENDING)


def test_applied_golden():
    assert render_alert_text(APPLIED) == (
        "Applied: security group jenkins (sg-0abc) now matches its updated spec\n"
        f"{RE}\n"
        f"{RESOURCE}\n"
        "Applied by: " + BOB_LINES.format(event="RevokeSecurityGroupIngress") + "\n"
        "Spec: policies/security_groups/jenkins.yaml:3\n"
        "CloudTrail event: ev-fix-0001"
    )


def test_gone_golden():
    assert render_alert_text(GONE) == (
        "Gone: unmanaged security group legacy-bastion (sg-0def) was deleted\n"
        f"{RE}\n"
        'Resource: security group sg-0def "legacy-bastion", vpc vpc-0456, eu-west-1,'
        " account 123456789012\n"
        "Deleted by: " + BOB_LINES.format(event="DeleteSecurityGroup") + "\n"
        "CloudTrail event: ev-fix-0001"
    )


@pytest.mark.parametrize("alert", [a for a in ALL if a.thread])
def test_a_threaded_follow_up_does_not_cite(alert):
    assert "re: alert" not in render_alert_text(alert, threaded=True)
    assert not any("re: alert" in t for t in _texts(render_alert_slack(alert, threaded=True)))


def test_cite_names_the_notifiers_own_message_and_falls_back_to_the_first():
    two = replace(BACK, thread=(MessageRef("slack-bot:C1", "171.1"), FIRST))
    assert "re: alert 171.1 at" in render_alert_text(two)
    assert "re: alert a1b2c3 at" in render_alert_text(two, cite="a1b2c3")
    assert "re: alert" not in render_alert_text(replace(BACK, thread=()))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (7980, "2h 13m"),
        (7200, "2h"),
        (93600, "1d 2h"),
        (86400 * 3, "3d"),
        (-5, "0s"),
    ],
)
def test_format_duration(seconds, expected):
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("status", "still"),
    [
        (Status.UNMANAGED, "still unmanaged"),
        (Status.MISSING, "still missing"),
        (Status.UNKNOWN, "still unreadable"),
    ],
)
def test_reminder_says_what_it_still_is(status, still):
    alert = replace(REMINDER, finding=replace(DRIFTED, status=status))
    assert alert_headline(alert).endswith(f"{still} since {SINCE}")


@pytest.mark.parametrize("alert", ALL)
def test_slack_header_and_fallback_start_with_the_headline(alert):
    payload = render_alert_slack(alert)
    header = payload["blocks"][0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    title = alert_headline(alert).split(" — ")[0]
    assert header["text"]["text"].endswith(title.replace(">", "&gt;"))
    assert payload["text"].startswith(alert_headline(alert).replace(">", "&gt;"))
    assert payload["unfurl_links"] is False


def test_slack_changed_has_a_since_section_and_the_full_list():
    sections = [b["text"]["text"] for b in render_alert_slack(CHANGED)["blocks"] if b.get("text")]
    since = next(s for s in sections if s.startswith("*Since the last alert*"))
    assert "new:       + ingress tcp/3389" in since and "no longer: - ingress tcp/443" in since
    assert any(s.startswith("*3 changes*") for s in sections)


def test_slack_back_to_normal_says_fixed_by_and_has_no_change_list():
    payload = render_alert_slack(BACK)
    fields = [f["text"] for b in payload["blocks"] for f in b.get("fields", [])]
    assert any(
        f.startswith("*Fixed by*\n`arn:aws:sts::123456789012:assumed-role/Ops/bob`") for f in fields
    )
    assert not any("changes*" in t for t in _texts(payload))
    assert payload["blocks"][0]["text"]["text"] == (
        ":white_check_mark: Back to normal: security group jenkins (sg-0abc) matches its spec again"
    )
    assert payload["blocks"][1]["text"]["text"] == (
        "Fixed by `arn:aws:sts::123456789012:assumed-role/Ops/bob` after *2h 13m*"
    )
    assert payload["blocks"][2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"re: alert a1b2c3 at {SINCE}"}],
    }


HOSTILE = "<!channel> *pwn* `x` <http://evil|click>"


@pytest.mark.parametrize("alert", ALL)
def test_cloud_text_cannot_ping_or_link_in_any_alert(alert):
    finding = replace(alert.finding, name=HOSTILE)
    hostile = replace(alert, finding=finding, since="<!here>")
    for text in _texts(render_alert_slack(hostile, ref="r")):
        assert "<!channel>" not in text and "<!here>" not in text and "<http" not in text


def test_slack_limits_hold_for_a_huge_changed_alert():
    many = tuple(
        Change("add", "ingress", None, {"n": i}, f"ingress tcp/{i} from 10.{i}.0.0/16 " + "x" * 80)
        for i in range(400)
    )
    alert = replace(CHANGED, finding=replace(DRIFTED, changes=many, name="n" * 400))
    payload = render_alert_slack(alert)
    assert len(payload["blocks"]) <= 50
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    for block in payload["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    assert len(payload["text"]) <= 3000
    since = next(
        b["text"]["text"]
        for b in payload["blocks"]
        if b.get("text", {}).get("text", "").startswith("*Since")
    )
    assert "more changes" in since


def test_json_carries_the_alert_and_the_finding():
    body = render_alert_json(CHANGED, ref="f00d")
    assert body["id"] == "sg-0abc" and body["status"] == "drifted"
    alert = body["alert"]
    assert alert["kind"] == "changed" and alert["id"] == "f00d" and alert["re"] == "a1b2c3"
    assert alert["since"] == SINCE
    assert [c["actual"]["ports"] for c in alert["new_changes"]] == ["3389"]
    assert [c["expected"]["ports"] for c in alert["gone_changes"]] == ["443"]
    assert body["headline"] == alert_headline(CHANGED)
    assert body["text"] == render_alert_text(CHANGED, ref="f00d")


def test_json_back_to_normal_names_who_ended_it():
    alert = render_alert_json(BACK)["alert"]
    assert alert["ended_by"]["arn"].endswith("/Ops/bob")
    assert alert["duration_seconds"] == 7980
    assert render_alert_json(NEW)["alert"]["re"] is None


def test_unmanaged_changed_headline():
    alert = Alert(AlertKind.CHANGED, UNMANAGED, previous_changes=())
    assert alert_headline(alert) == (
        "Unmanaged security group legacy-bastion (sg-0def) changed since the last alert"
    )
