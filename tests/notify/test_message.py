from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Actor, Change, Finding, Status
from chalicelib.notify.message import (
    headline,
    render_json,
    render_slack,
    render_text,
)
from chalicelib.report.json_report import finding_to_dict
from tests.report.samples import ALICE, DRIFTED, IN_SYNC, MISSING, UNKNOWN, UNMANAGED


def _texts(payload: Any) -> Iterator[str]:
    """Every string Slack will display or parse: all `text` values, at any depth."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _texts(item)


def _blocks(payload: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in payload["blocks"] if b["type"] == kind]


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        (DRIFTED, "Drift: security group jenkins (sg-0abc) departs from its spec"),
        (UNMANAGED, "Unmanaged: security group legacy-bastion (sg-0def) has no spec"),
        (
            MISSING,
            "Missing: spec policies/s3_buckets/audit.yaml:1 names S3 bucket audit-logs,"
            " which does not exist",
        ),
        (UNKNOWN, "Unknown: could not read IAM role deploy: AccessDenied on iam:GetRole"),
        (IN_SYNC, "Back to normal: security group web (sg-0aaa) matches its spec again"),
    ],
)
def test_headline_per_status(finding, expected):
    assert headline(finding) == expected
    assert render_text(finding).splitlines()[0] == expected
    header = _blocks(render_slack(finding), "header")[0]["text"]
    assert header["type"] == "plain_text"
    assert header["text"].endswith(expected)


def test_drifted_text_golden():
    assert render_text(DRIFTED) == (
        "Drift: security group jenkins (sg-0abc) departs from its spec\n"
        'Resource: security group sg-0abc "jenkins", vpc vpc-0123, us-east-1,'
        " account 123456789012\n"
        "Who: arn:aws:sts::123456789012:assumed-role/Admin/alice"
        " (role arn:aws:iam::123456789012:role/Admin) via console\n"
        "When: 2024-05-01T10:00:00Z (AuthorizeSecurityGroupIngress)\n"
        "From: 203.0.113.7, aws-cli/2.15.0 Python/3.11\n"
        "⚠ Open to the world: 1 rule here accepts traffic from any address.\n"
        "Changes:\n"
        "  + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world\n"
        "    ↳ revert: aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc"
        ' --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,'
        '"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]\'\n'
        "  - ingress tcp/443 from 10.0.0.0/8 — in spec, missing live\n"
        '  ~ tags.team "platform" -> "ops"\n'
        "Spec: policies/security_groups/jenkins.yaml:3\n"
        "To accept it until a date, add to the spec: exceptions: [{change: {op: add, "
        "path: ingress, actual: {proto: tcp, ports: '22', cidr: 0.0.0.0/0}}, "
        "until: YYYY-MM-DD, reason: 'WHY'}]\n"
        "CloudTrail event: 0b1c2d3e-aaaa-bbbb-cccc-1234567890ab"
    )


def test_missing_and_unknown_text_give_the_reason():
    assert "Reason: no bucket named audit-logs in account 123456789012" in render_text(MISSING)
    assert "AccessDenied on iam:GetRole" in render_text(UNKNOWN)


def test_unmanaged_text_shows_its_open_rules_and_no_spec():
    text = render_text(UNMANAGED)
    assert "  + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world" in text
    assert "Spec: none" in text


def test_slack_drifted_layout():
    payload = render_slack(DRIFTED)
    assert payload["text"].startswith("Drift: security group jenkins (sg-0abc)")
    types = [b["type"] for b in payload["blocks"]]
    assert types[0] == "header" and types[-1] == "context"
    resource, actor = _blocks(payload, "section")[:2]
    resource_texts = [f["text"] for f in resource["fields"]]
    assert resource_texts == [
        "*Security group*\n`sg-0abc`",
        "*Name*\n`jenkins`",
        "*VPC*\n`vpc-0123`",
        "*Region*\n`us-east-1`",
        "*Account*\n`123456789012`",
    ]
    who, when, where = (f["text"] for f in actor["fields"])
    assert "`arn:aws:sts::123456789012:assumed-role/Admin/alice`" in who
    assert "role `arn:aws:iam::123456789012:role/Admin`" in who
    assert "via console" in who
    assert "`2024-05-01T10:00:00Z`" in when and "AuthorizeSecurityGroupIngress" in when
    assert "`203.0.113.7`" in where and "aws-cli/2.15.0" in where
    accept, context_block = _blocks(payload, "context")
    # the exception that accepts the world-open change for a while, to paste (docs/noise.md)
    assert accept["elements"][0]["text"].startswith("To accept it until a date, add to the spec:")
    assert (
        "{op: add, path: ingress, actual: {proto: tcp, ports: '22'" in accept["elements"][0]["text"]
    )
    context = " ".join(e["text"] for e in context_block["elements"])
    assert "`policies/security_groups/jenkins.yaml:3`" in context
    assert "`0b1c2d3e-aaaa-bbbb-cccc-1234567890ab`" in context


def test_slack_changes_code_block_and_world_open_alarm():
    sections = [b["text"]["text"] for b in _blocks(render_slack(DRIFTED), "section") if "text" in b]
    alarm = next(s for s in sections if s.startswith(":rotating_light:"))
    assert "Open to the world" in alarm and "tcp/22 from 0.0.0.0/0" in alarm
    changes = next(s for s in sections if "```" in s)
    assert changes.startswith("*3 changes*\n```\n")
    body = changes.split("```")[1].strip("\n").splitlines()
    assert body == [
        "+ ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world",
        "  ↳ revert: aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc"
        ' --ip-permissions \'[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,'
        '"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]\'',
        "- ingress tcp/443 from 10.0.0.0/8 — in spec, missing live",
        '~ tags.team "platform" -&gt; "ops"',
    ]


def test_slack_without_world_open_rules_raises_no_alarm():
    calm = replace(DRIFTED, changes=DRIFTED.changes[0:1] + DRIFTED.changes[2:])
    assert not any(":rotating_light:" in t for t in _texts(render_slack(calm)))


def test_slack_unmanaged_missing_unknown_in_sync():
    unmanaged = render_slack(UNMANAGED)
    assert any("+ ingress tcp/22 from 0.0.0.0/0" in t for t in _texts(unmanaged))
    assert "No spec manages this resource" in json.dumps(unmanaged)
    assert not _blocks(unmanaged, "section")[0].get("text")  # no actor -> no who/when
    missing = render_slack(MISSING)
    assert any(t.startswith("*Reason*\nno bucket named audit-logs") for t in _texts(missing))
    unknown = render_slack(UNKNOWN)
    assert any("AccessDenied on iam:GetRole" in t for t in _texts(unknown))
    back = render_slack(IN_SYNC)
    assert ":white_check_mark: Back to normal" in back["blocks"][0]["text"]["text"]
    assert not any("```" in t for t in _texts(back))


EVIL = "<!channel> <http://x|y>"


def test_cloud_text_is_escaped_in_every_slack_field():
    evil_actor = replace(
        ALICE,
        arn=f"arn:aws:sts::1:assumed-role/{EVIL}",
        session_issuer=EVIL,
        user_agent=EVIL,
        source_ip=EVIL,
        event_id=EVIL,
        event_name=EVIL,
        via=EVIL,
    )
    evil_change = Change(
        op="add", path="ingress", expected=None, actual=None, summary=EVIL, world_open=True
    )
    finding = Finding(
        kind=SECURITY_GROUP,
        id="sg-0bad",
        name=EVIL,
        account="1",
        region="us-east-1",
        status=Status.DRIFTED,
        changes=(evil_change,),
        spec=f"policies/{EVIL}.yaml",
        actor=evil_actor,
        reason=EVIL,
        vpc_id=EVIL,
    )
    texts = list(_texts(render_slack(finding)))
    assert len(texts) > 10
    for text in texts:
        assert "<" not in text and ">" not in text, text
    joined = "\n".join(texts)
    assert joined.count("&lt;!channel&gt;") >= 10
    assert "&lt;http://x|y&gt;" in joined


def test_backticks_in_names_cannot_break_out_of_code():
    finding = replace(
        UNMANAGED, name="a` *bold* `b", changes=(replace(UNMANAGED.changes[0], summary="x ```y"),)
    )
    for text in _texts(render_slack(finding)):
        if "`" in text:
            assert text.count("`") % 2 == 0, text


def _many_changes(count: int) -> tuple[Change, ...]:
    return tuple(
        Change(
            op="add",
            path="ingress",
            expected=None,
            actual={"proto": "tcp", "ports": str(1000 + i), "cidr": "10.0.0.0/8"},
            summary=f"ingress tcp/{1000 + i} from 10.0.0.0/8 — not in spec",
            world_open=(i % 50 == 49),
        )
        for i in range(count)
    )


def test_slack_limits_with_200_changes():
    payload = render_slack(replace(DRIFTED, changes=_many_changes(200), name="n" * 400))
    assert len(payload["blocks"]) <= 50
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    for block in payload["blocks"]:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10
        assert len(block.get("elements", [])) <= 10
    changes = next(t for t in _texts(payload) if t.startswith("*200 changes*"))
    shown = changes.split("```")[1].strip("\n").splitlines()
    assert 20 < len(shown) < 200
    assert changes.endswith(f"\n… and {200 - len(shown)} more changes")
    # the world-open ones come first, so truncation cannot hide them
    assert all("open to the world" in line for line in shown[:4])
    alarm = next(t for t in _texts(payload) if t.startswith(":rotating_light:"))
    assert "4 rules here accept traffic from any address" in alarm


def test_next_steps_never_push_a_change_out_of_the_slack_section():
    plain = _many_changes(200)
    advised = tuple(replace(c, revert="aws ec2 revoke " + "x" * 150) for c in plain)

    def shown(changes: tuple[Change, ...]) -> list[str]:
        payload = render_slack(replace(DRIFTED, changes=changes))
        text = next(t for t in _texts(payload) if t.startswith("*200 changes*"))
        assert len(text) <= 3000
        return text.split("```")[1].strip("\n").splitlines()

    without, with_steps = shown(plain), shown(advised)
    assert [line for line in with_steps if "↳" not in line] == without
    assert not any("↳" in line for line in with_steps)  # no room left: steps dropped first


def test_a_few_changes_each_show_their_next_step_in_slack():
    advised = tuple(
        replace(c, revert=f"aws ec2 revoke {i}") for i, c in enumerate(_many_changes(3))
    )
    payload = render_slack(replace(DRIFTED, changes=advised))
    text = next(t for t in _texts(payload) if t.startswith("*3 changes*"))
    assert sum("↳ revert: aws ec2 revoke" in line for line in text.splitlines()) == 3


def test_one_huge_change_is_cut_not_dropped():
    huge = Change(op="modify", path="description", expected="a", actual="b" * 10_000, summary="")
    payload = render_slack(replace(DRIFTED, changes=(huge,)))
    changes = next(t for t in _texts(payload) if "```" in t)
    assert len(changes) <= 3000
    assert "~ description:" in changes and "…" in changes


def test_header_truncates_long_names_with_an_ellipsis():
    header = render_slack(replace(DRIFTED, name="<" * 300))["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert "&l…" not in header and "&lt…" not in header


def test_fallback_text_always_present_and_escaped():
    for finding in (DRIFTED, UNMANAGED, MISSING, UNKNOWN, IN_SYNC):
        text = render_slack(finding)["text"]
        assert text and "<" not in text and len(text) <= 3000


def test_render_json_is_the_contract_dict_plus_text():
    out = render_json(DRIFTED)
    assert {k: v for k, v in out.items() if k not in ("headline", "text")} == finding_to_dict(
        DRIFTED
    )
    assert out["text"] == render_text(DRIFTED)
    assert out["headline"] == headline(DRIFTED)
    assert json.loads(json.dumps(out)) == out


def test_actor_without_arn_or_time_still_renders():
    anonymous = Actor(arn=None, event_name="PutBucketPolicy", event_time=None, event_id=None)
    finding = replace(MISSING, actor=anonymous)
    assert "Who: an unknown principal" in render_text(finding)
    assert "When: (time not recorded) (PutBucketPolicy)" in render_text(finding)
    assert render_slack(finding)["blocks"]


def test_open_to_the_world_wording_fits_buckets_too() -> None:
    from chalicelib.model import Change, Finding, Status

    change = Change("add", "policy", None, {}, "policy: Allow s3:GetObject to everyone", True)
    finding = Finding(
        S3_BUCKET, "logs", "logs", "123456789012", "eu-west-1", Status.DRIFTED, (change,)
    )
    assert "1 change here opens it to anyone on the internet" in render_text(finding)
    assert "traffic" not in render_text(finding)
