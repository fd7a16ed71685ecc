"""Hand-built findings shared by the report and notify tests: one per status."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.kinds.iam import IAM_ROLE
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Actor, Change, Finding, Status

ACCOUNT = "123456789012"

OPEN_SSH = Change(
    op="add",
    path="ingress",
    expected=None,
    actual={"proto": "tcp", "ports": "22", "cidr": "0.0.0.0/0"},
    summary="ingress tcp/22 from 0.0.0.0/0 — not in spec",
    world_open=True,
    revert=(
        "aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0abc "
        """--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"""
        """"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'"""
    ),
    accept="add to ingress: {proto: tcp, ports: '22', cidr: 0.0.0.0/0}",
)
LOST_HTTPS = Change(
    op="remove",
    path="ingress",
    expected={"proto": "tcp", "ports": "443", "cidr": "10.0.0.0/8"},
    actual=None,
    summary="ingress tcp/443 from 10.0.0.0/8 — in spec, missing live",
)
TEAM_TAG = Change(
    op="modify",
    path="tags.team",
    expected="platform",
    actual="ops",
    summary='tags.team "platform" -> "ops"',
)

ALICE = Actor(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice",
    event_name="AuthorizeSecurityGroupIngress",
    event_time="2024-05-01T10:00:00Z",
    event_id="0b1c2d3e-aaaa-bbbb-cccc-1234567890ab",
    source_ip="203.0.113.7",
    user_agent="aws-cli/2.15.0 Python/3.11",
    identity_type="AssumedRole",
    session_issuer=f"arn:aws:iam::{ACCOUNT}:role/Admin",
    via="console",
    account=ACCOUNT,
    region="us-east-1",
)

DRIFTED = Finding(
    kind=SECURITY_GROUP,
    id="sg-0abc",
    name="jenkins",
    account=ACCOUNT,
    region="us-east-1",
    status=Status.DRIFTED,
    changes=(LOST_HTTPS, OPEN_SSH, TEAM_TAG),
    spec="policies/security_groups/jenkins.yaml:3",
    actor=ALICE,
    vpc_id="vpc-0123",
)
UNMANAGED = Finding(
    kind=SECURITY_GROUP,
    id="sg-0def",
    name="legacy-bastion",
    account=ACCOUNT,
    region="eu-west-1",
    status=Status.UNMANAGED,
    # an unmanaged group is told to revoke what is open and to write a spec, never to
    # "accept" a rule into a spec it does not have
    changes=(
        replace(
            OPEN_SSH,
            revert=(OPEN_SSH.revert or "")
            .replace("us-east-1", "eu-west-1")
            .replace("0abc", "0def"),
            accept="write a spec: setpoint import --only sg-0def",
        ),
    ),
    vpc_id="vpc-0456",
)
MISSING = Finding(
    kind=S3_BUCKET,
    id=None,
    name="audit-logs",
    account=ACCOUNT,
    region="us-east-1",
    status=Status.MISSING,
    spec="policies/s3_buckets/audit.yaml:1",
    reason="no bucket named audit-logs in account 123456789012",
)
UNKNOWN = Finding(
    kind=IAM_ROLE,
    id=f"arn:aws:iam::{ACCOUNT}:role/deploy",
    name="deploy",
    account=ACCOUNT,
    region="global",
    status=Status.UNKNOWN,
    spec="policies/iam_roles/deploy.yaml:1",
    reason="AccessDenied on iam:GetRole",
)
IN_SYNC = Finding(
    kind=SECURITY_GROUP,
    id="sg-0aaa",
    name="web",
    account=ACCOUNT,
    region="us-east-1",
    status=Status.IN_SYNC,
    spec="policies/security_groups/web.yaml:1",
    actor=ALICE,
    vpc_id="vpc-0123",
)

ALL = (IN_SYNC, UNKNOWN, MISSING, UNMANAGED, DRIFTED)
