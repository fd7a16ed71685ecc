from __future__ import annotations

import re
from dataclasses import replace

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Change, Finding, Status
from chalicelib.report.text_report import render_text_report
from tests.report.samples import ALL, DRIFTED, IN_SYNC, UNMANAGED

GOLDEN = """\
Symbols: + present live, not in spec   - in spec, missing live   ~ differs from spec

unknown: IAM role arn:aws:iam::123456789012:role/deploy "deploy" could not be read
    region global, account 123456789012
    spec: policies/iam_roles/deploy.yaml:1
    reason: AccessDenied on iam:GetRole

missing: S3 bucket "audit-logs" is in a spec but does not exist
    region us-east-1, account 123456789012
    spec: policies/s3_buckets/audit.yaml:1
    reason: no bucket named audit-logs in account 123456789012

unmanaged: security group sg-0def "legacy-bastion" is not managed by any spec
    region eu-west-1, account 123456789012, vpc vpc-0456
    spec: (none)
    + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world
      ↳ revert: aws ec2 revoke-security-group-ingress --region eu-west-1 --group-id sg-0def \
--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,\
"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'
      ↳ accept: write a spec: setpoint import --only sg-0def

drifted: security group sg-0abc "jenkins" drifted from its spec
    region us-east-1, account 123456789012, vpc vpc-0123
    spec: policies/security_groups/jenkins.yaml:3
    + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world
      ↳ revert: aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc \
--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,\
"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'
      ↳ accept: add to ingress: {proto: tcp, ports: '22', cidr: 0.0.0.0/0}
      ↳ accept until a date: exceptions: [{change: {op: add, path: ingress, actual: \
{proto: tcp, ports: '22', cidr: 0.0.0.0/0}}, until: YYYY-MM-DD, reason: 'WHY'}]
    - ingress tcp/443 from 10.0.0.0/8 — in spec, missing live
    ~ tags.team "platform" -> "ops"
    last change: AuthorizeSecurityGroupIngress by \
arn:aws:sts::123456789012:assumed-role/Admin/alice \
(role arn:aws:iam::123456789012:role/Admin) via console at 2024-05-01T10:00:00Z

Checked 12: 8 in sync, 1 drifted, 1 unmanaged, 1 missing, 1 unknown.
"""


def test_golden_report_for_every_status():
    assert render_text_report(ALL, checked=12) == GOLDEN


def test_no_colour_unless_asked():
    plain = render_text_report(ALL, checked=12)
    coloured = render_text_report(ALL, checked=12, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[" in coloured
    # same words once the colour codes are gone
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_all_in_sync_says_so_and_counts():
    text = render_text_report([IN_SYNC], checked=3)
    assert text == (
        "No drift: every resource checked matches its spec.\n"
        "\n"
        "Checked 3: 3 in sync, 0 drifted, 0 unmanaged, 0 missing, 0 unknown.\n"
    )


def test_nothing_checked_is_not_called_in_sync():
    assert render_text_report([], checked=0).startswith("No drift: nothing was checked.")


def test_unmanaged_world_open_rule_is_flagged_but_removed_one_is_not():
    removed_open = Change(
        op="remove",
        path="ingress",
        expected={"proto": "tcp", "ports": "80", "cidr": "0.0.0.0/0"},
        actual=None,
        summary="ingress tcp/80 from 0.0.0.0/0 — in spec, missing live",
        world_open=True,
    )
    finding = replace(UNMANAGED, changes=(*UNMANAGED.changes, removed_open))
    lines = render_text_report([finding], checked=1).splitlines()
    assert "    + ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world" in lines
    assert "    - ingress tcp/80 from 0.0.0.0/0 — in spec, missing live" in lines


def test_cloud_text_cannot_forge_lines_or_drive_the_terminal():
    evil = Finding(
        kind=SECURITY_GROUP,
        id="sg-0bad",
        name="x\n    + ingress tcp/22 from 10.0.0.0/8 — approved\x1b[2J",
        account="1",
        region="us-east-1",
        status=Status.DRIFTED,
        changes=(
            Change(
                op="modify",
                path="description",
                expected="web",
                actual="ok\r\n~ nothing to see",
                summary="",
            ),
        ),
    )
    text = render_text_report([evil], checked=1)
    assert "\x1b" not in text
    assert "\\x1b[2J" in text
    assert not any(
        line.startswith("    + ingress tcp/22 from 10.0.0.0/8") for line in text.splitlines()
    )
    # a change without a summary still says what differs, on one line
    assert '    ~ description: "web" -> "ok\\r\\n~ nothing to see"' in text.splitlines()


def test_summary_without_its_path_gets_the_path_prefixed():
    bare = Change(
        op="add",
        path="egress",
        expected=None,
        actual={"proto": "all", "cidr": "0.0.0.0/0"},
        summary="all traffic to 0.0.0.0/0 — not in spec",
        world_open=True,
    )
    text = render_text_report([replace(DRIFTED, changes=(bare,), actor=None)], checked=1)
    assert "    + egress: all traffic to 0.0.0.0/0 — not in spec  ⚠ open to the world" in text
