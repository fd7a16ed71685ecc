"""`setpoint demo`: the whole loop against moto's HTTP server on 127.0.0.1.

Builds a small VPC, imports its specs, makes an unapproved change as a named IAM user,
feeds the matching CloudTrail record through the Lambda's own handler, shows the chat
message (printed, and received by a local webhook), sweeps, reverts, and shows the
group back in sync. Everything it starts, it stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from chalicelib.aws import ClientCache
from chalicelib.cli.common import EXIT_OK, exit_code
from chalicelib.cli.importer import EXPORTERS
from chalicelib.handlers import handle_cloudtrail_event, run_sweep
from chalicelib.model import Finding, Kind
from chalicelib.notify.alert import AlertKind
from chalicelib.notify.delivery import ConsoleNotifier, SlackWebhookNotifier
from chalicelib.report.text_report import render_text_report
from chalicelib.runtime import Runtime, build_pipeline, spec_provider

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account


def say(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}")


class _Receiver(BaseHTTPRequestHandler):
    """Stands in for a Slack incoming webhook: stores what it is sent, answers "ok"."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/demo", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's real HTTP server on a free loopback port, with the AWS settings pointed at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in _DEMO_ENV}
    os.environ.update(_DEMO_ENV | {"AWS_ENDPOINT_URL": endpoint})
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


_DEMO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ENDPOINT_URL": "",
}


BUCKET = "acme-audit-logs"
ROLE = "deploy"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _permission(port: int, **peer: Any) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer}


def build_estate(clients: ClientCache) -> dict[str, str]:
    """A small VPC with a web service's groups, an audit bucket, a deploy role, two people."""
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ids = {"vpc": vpc}
    for name, description in (
        ("web", "Public web tier"),
        ("bastion", "SSH jump host"),
        ("db", "PostgreSQL"),
    ):
        ids[name] = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc)[
            "GroupId"
        ]
    https = _permission(443, IpRanges=[{"CidrIp": "0.0.0.0/0"}], Ipv6Ranges=[{"CidrIpv6": "::/0"}])
    from_bastion = _permission(22, UserIdGroupPairs=[{"GroupId": ids["bastion"]}])
    office = _permission(22, IpRanges=[{"CidrIp": "203.0.113.0/24", "Description": "office"}])
    from_web = _permission(5432, UserIdGroupPairs=[{"GroupId": ids["web"]}])
    ec2.authorize_security_group_ingress(GroupId=ids["web"], IpPermissions=[https, from_bastion])
    ec2.authorize_security_group_ingress(GroupId=ids["bastion"], IpPermissions=[office])
    ec2.authorize_security_group_ingress(GroupId=ids["db"], IpPermissions=[from_web])

    s3 = clients.client("s3", REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    iam = clients.client("iam", REGION)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
    return ids


def cloudtrail_envelope(
    event_name: str,
    event_source: str,
    request: dict[str, Any],
    user: str,
    response: dict[str, Any] | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """The EventBridge envelope CloudTrail would deliver for this call (shape per AWS docs)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    service = event_source.split(".")[0]
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEDEMOUSER01",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLEDEMOKEY01",
            "userName": user,
        },
        "eventTime": now,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.23",
        "userAgent": f"aws-cli/2.17.60 md/command#{service}.{event_name.lower()}",
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{service}",
        "account": ACCOUNT,
        "time": now,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def run_demo(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="setpoint-demo-"))
    here = Path.cwd()
    os.chdir(work)  # so spec paths read "policies/…", as in a user's repository
    try:
        with moto_server() as endpoint, webhook_receiver() as (webhook, received):
            return _story(endpoint, webhook, received)
    finally:
        os.chdir(here)
        if args.keep:
            print(f"\n(demo files kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


_SSH_WORLD = _permission(22, IpRanges=[{"CidrIp": "0.0.0.0/0"}])
_SSH_RECORD = {
    "ipProtocol": "tcp",
    "fromPort": 22,
    "toPort": 22,
    "groups": {},
    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
    "ipv6Ranges": {},
    "prefixListIds": {},
}


def _story(endpoint: str, webhook: str, received: list[dict[str, Any]]) -> int:
    say(f"1. moto's AWS on {endpoint}; a chat webhook on {webhook.split('/services')[0]}")
    clients = ClientCache()
    ids = build_estate(clients)
    print(
        f"VPC {ids['vpc']} with groups web {ids['web']}, bastion {ids['bastion']}, db {ids['db']}"
    )
    print(f"bucket {BUCKET} (public access blocked, encrypted), role {ROLE}, users alice and bob")

    say("2. setpoint import: the specs, as a pull request would hold them")
    out = Path("policies")
    count = sum(
        exporter(clients, [REGION], out, frozenset(Kind))
        for exporter in dict.fromkeys(EXPORTERS.values())
    )
    web_spec = out / "security_groups" / REGION / "web.yaml"
    print(f"wrote {count} spec(s): groups (with the VPCs' default groups), the bucket, IAM")
    print(f"--- {web_spec}")
    print(web_spec.read_text(encoding="utf-8"))

    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(str(out), clients),
        notifiers=[ConsoleNotifier(sys.stdout), SlackWebhookNotifier(webhook)],
        regions=[REGION],
        account=ACCOUNT,
    )
    before = sweep_findings(runtime)
    print(render_text_report(before, checked=len(before)))

    say("3. 02:13 — alice opens SSH to the world on web with the AWS CLI; no pull request")
    ec2 = clients.client("ec2", REGION)
    result = ec2.authorize_security_group_ingress(GroupId=ids["web"], IpPermissions=[_SSH_WORLD])
    rule_id = result["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    envelope = cloudtrail_envelope(
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        {"groupId": ids["web"], "ipPermissions": {"items": [_SSH_RECORD]}},
        "alice",
        {
            "_return": True,
            "securityGroupRuleSet": {
                "items": [
                    {"groupId": ids["web"], "securityGroupRuleId": rule_id, "isEgress": False}
                ]
            },
        },
    )
    Path("event.json").write_text(json.dumps(envelope, indent=2), encoding="utf-8")
    print(f"CloudTrail record {envelope['detail']['eventID']} → the Lambda's handler:")

    say("4. the alert (printed by the console notifier, posted to the webhook)")
    outcome = handle_cloudtrail_event(envelope, runtime)
    header = received[-1]["blocks"][0]["text"]["text"] if received else "-"
    print(f"webhook received {len(received)} message(s); Slack header: {header}")

    say("5. EventBridge delivers the same record again, and the hourly sweep runs: both quiet")
    again = handle_cloudtrail_event(envelope, runtime)
    swept = run_sweep(runtime)
    print(render_text_report(swept.findings, checked=swept.checked))
    quiet = len(received) == 1
    print(
        f"duplicate event: {again.deduplicated} known drift, {len(again.alerts)} alert(s); "
        f"webhook still holds {len(received)} message(s)"
    )

    say("6. bob reverts the change; the revoke event closes the alert")
    ec2.revoke_security_group_ingress(GroupId=ids["web"], IpPermissions=[_SSH_WORLD])
    revert = cloudtrail_envelope(
        "RevokeSecurityGroupIngress",
        "ec2.amazonaws.com",
        {"groupId": ids["web"], "ipPermissions": {"items": [_SSH_RECORD]}},
        "bob",
        {"_return": True},
    )
    closed = handle_cloudtrail_event(revert, runtime)
    normal = [a for a in closed.alerts if a.kind is AlertKind.BACK_TO_NORMAL]

    say("7. the same loop for a bucket and a role: made public, made to trust a stranger")
    alerts = _bucket_and_role(clients, runtime)

    say("8. the next sweep: back to normal for the bucket and the role, then all in sync")
    final = run_sweep(runtime)
    print(render_text_report(final.findings, checked=final.checked))
    drift_found = any(f.is_problem for f in outcome.findings)
    ok = drift_found and quiet and normal and alerts >= 2 and exit_code(final.findings) == EXIT_OK
    if not ok:
        print("demo FAILED: a drift was not reported once, or did not clear")
        return 1
    print(
        f"\nDemo complete: {len(received)} messages in all — each drift alerted once, "
        'nothing repeated, and each closed with "back to normal".'
    )
    return EXIT_OK


def _bucket_and_role(clients: ClientCache, runtime: Runtime) -> int:
    """Alice makes the audit bucket public and lets another account assume the deploy role."""
    s3 = clients.client("s3", REGION)
    iam = clients.client("iam", REGION)
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            }
        ],
    }
    s3.delete_public_access_block(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(public))
    stranger = json.loads(json.dumps(EC2_TRUST))
    stranger["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(stranger))
    events = [
        cloudtrail_envelope(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            {"bucketName": BUCKET, "bucketPolicy": public, "policy": [""]},
            "alice",
        ),
        cloudtrail_envelope(
            "UpdateAssumeRolePolicy",
            "iam.amazonaws.com",
            {"roleName": ROLE, "policyDocument": json.dumps(stranger)},
            "alice",
            region="us-east-1",  # IAM is global; its events arrive in us-east-1
        ),
    ]
    alerts = 0
    for event in events:
        found = handle_cloudtrail_event(event, runtime).findings
        alerts += sum(1 for f in found if f.is_problem)
    # the fix: the pull-request state again
    s3.delete_bucket_policy(Bucket=BUCKET)
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(EC2_TRUST))
    print("bob restores the bucket's public access block and the role's trust policy")
    return alerts


def sweep_findings(runtime: Runtime) -> list[Finding]:
    """The sweep handler's comparison, shown here without posting the alert a second time."""
    return runtime.pipeline.sweep(runtime.specs(), ACCOUNT, list(runtime.regions)).findings
