"""`setpoint demo`: the whole loop against moto's HTTP server on 127.0.0.1.

Builds a small VPC, imports its specs, makes an unapproved change as a named IAM user,
feeds the matching CloudTrail record through the Lambda's own handler, shows the chat
message (printed, and posted by the Slack bot notifier to a local stand-in for Slack's
Web API), replays the event and sweeps (both quiet), reverts, and shows "back to normal"
landing in the alert's thread. Everything it starts, it stops.
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
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from chalicelib.aws import ClientCache
from chalicelib.cli.common import EXIT_OK, exit_code
from chalicelib.cli.importer import EXPORTERS
from chalicelib.handlers import handle_cloudtrail_event, run_sweep
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.model import Finding
from chalicelib.notify.alert import AlertKind
from chalicelib.notify.config import notifier_from_config
from chalicelib.notify.delivery import ConsoleNotifier
from chalicelib.report.text_report import render_text_report
from chalicelib.runtime import Runtime, build_pipeline, spec_provider
from chalicelib.specs.sink import SpecSink

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account


def say(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}")


@dataclass
class LocalChat:
    """What the local chat server was sent: Web API posts (`messages`, each with the `ts`
    it was given) and incoming-webhook posts (`webhook`)."""

    base: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    webhook: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def api_base(self) -> str:
        return f"{self.base}/api"

    @property
    def webhook_url(self) -> str:
        return f"{self.base}/services/T000/B000/demo"

    def post_message(self, body: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        """chat.postMessage as Slack answers it: `ok`, the channel and the new message's ts."""
        if not authorization or not authorization.startswith("Bearer xox"):
            return {"ok": False, "error": "not_authed"}
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            return {"ok": False, "error": "channel_not_found"}
        thread_ts = body.get("thread_ts")
        with self._lock:
            parents = {m["ts"] for m in self.messages if m["channel"] == channel}
            if thread_ts is not None and thread_ts not in parents:
                return {"ok": False, "error": "thread_not_found"}
            ts = f"{int(time.time())}.{len(self.messages) + 1:06d}"
            self.messages.append({**body, "ts": ts})
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text")}}

    def in_channel(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel and "thread_ts" not in m]

    def replies(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("thread_ts") == message["ts"]]


class _ChatHandler(BaseHTTPRequestHandler):
    """Stands in for Slack: `POST /api/chat.postMessage` answers like the Web API, any
    other POST like an incoming webhook ("ok")."""

    chat: ClassVar[LocalChat]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path.rstrip("/").endswith("/chat.postMessage"):
            answer = self.chat.post_message(body, self.headers.get("Authorization"))
            self._reply("application/json; charset=utf-8", json.dumps(answer).encode())
            return
        self.chat.webhook.append(body)
        self._reply("text/plain", b"ok")

    def _reply(self, content_type: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def local_chat() -> Iterator[LocalChat]:
    """A local Slack stand-in on a free loopback port, for the demo and tests."""
    chat = LocalChat()
    handler = type("ChatHandler", (_ChatHandler,), {"chat": chat})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chat.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield chat
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Slack incoming webhook stand-in: its URL, and the bodies it receives."""
    with local_chat() as chat:
        yield chat.webhook_url, chat.webhook


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's real HTTP server on a free loopback port, with the AWS settings pointed at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # a proxy from the user's environment must not swallow calls to 127.0.0.1
    loopback = ",".join(
        filter(None, [os.environ.get("NO_PROXY") or os.environ.get("no_proxy"), "127.0.0.1"])
    )
    settings = _DEMO_ENV | {
        "AWS_ENDPOINT_URL": endpoint,
        "NO_PROXY": loopback,
        "no_proxy": loopback,
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
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
    """A small VPC with a web service's groups (each tagged with its team), an audit
    bucket, the account's trail (logging into it, in every region), a deploy role, two
    people."""
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ids = {"vpc": vpc}
    for name, description in (
        ("web", "Public web tier"),
        ("bastion", "SSH jump host"),
        ("db", "PostgreSQL"),
    ):
        ids[name] = ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=vpc,
            TagSpecifications=[
                {"ResourceType": "security-group", "Tags": [{"Key": "team", "Value": name}]}
            ],
        )["GroupId"]
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
    # without a logging trail Setpoint hears of no change: the guard would say so
    cloudtrail = clients.client("cloudtrail", REGION)
    cloudtrail.create_trail(Name="account-trail", S3BucketName=BUCKET, IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="account-trail")
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
        with moto_server() as endpoint, local_chat() as chat:
            return _story(endpoint, chat)
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


CHANNEL = "#security-alerts"
TEAM_CHANNELS = {"web": "#team-web"}
DEMO_TOKEN = "xoxb-demo-local-only"  # the local chat checks its form, nothing more


def demo_notifiers(chat: LocalChat) -> dict[str, Any]:
    """The Slack bot as SETPOINT_NOTIFIERS configures it, pointed at the local chat: the
    `team` tag picks the channel, everything else goes to #security-alerts."""
    return {
        "type": "slack_bot",
        "token": DEMO_TOKEN,
        "channel": CHANNEL,
        "channel_tag": "team",
        "channels": TEAM_CHANNELS,
        "api_base": chat.api_base,
    }


def _story(endpoint: str, chat: LocalChat) -> int:
    say(f"1. moto's AWS on {endpoint}; a stand-in for Slack's Web API on {chat.base}")
    clients = ClientCache()
    ids = build_estate(clients)
    print(
        f"VPC {ids['vpc']} with groups web {ids['web']}, bastion {ids['bastion']}, db {ids['db']}"
        " (each tagged team=<its name>)"
    )
    print(f"bucket {BUCKET} (public access blocked, encrypted), role {ROLE}, users alice and bob")

    say("2. setpoint import: the specs, as a pull request would hold them")
    out = Path("policies")
    sink = SpecSink.open(out)
    count = sum(
        exporter(clients, [REGION], sink, frozenset(ALL_KINDS))
        for exporter in dict.fromkeys(EXPORTERS.values())
    )
    web_spec = out / "security_groups" / REGION / "web.yaml"
    print(f"wrote {count} spec(s): groups (with the VPCs' default groups), the bucket, IAM")
    print(f"--- {web_spec}")
    print(web_spec.read_text(encoding="utf-8"))

    config = demo_notifiers(chat)
    print("chat: the Slack bot notifier, configured as SETPOINT_NOTIFIERS would be:")
    print(json.dumps({**config, "api_base": "<the local stand-in>/api"}))
    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(str(out), clients),
        notifiers=[ConsoleNotifier(sys.stdout), notifier_from_config(config)],
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

    say("4. the alert (printed by the console notifier, posted to Slack by the bot)")
    outcome = handle_cloudtrail_event(envelope, runtime)
    alert = chat.messages[0] if chat.messages else None
    if alert is not None:
        chosen_by = {channel: team for team, channel in TEAM_CHANNELS.items()}
        why = (
            f" (the team={chosen_by[alert['channel']]} tag chose it)"
            if alert["channel"] in chosen_by
            else ""
        )
        print(
            f"Slack received {len(chat.messages)} message(s): {alert['channel']}{why}, "
            f"ts {alert['ts']}: {_first_line(alert)}"
        )

    say("5. EventBridge delivers the same record again, and the hourly sweep runs: both quiet")
    again = handle_cloudtrail_event(envelope, runtime)
    swept = run_sweep(runtime)
    print(render_text_report(swept.findings, checked=swept.checked))
    quiet = len(chat.messages) == 1
    print(
        f"duplicate event: {again.deduplicated} known drift, {len(again.alerts)} alert(s); "
        f"Slack still holds {len(chat.messages)} message(s)"
    )

    say("6. bob reverts the change; the revoke event closes the alert, in its thread")
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
    replies = chat.replies(alert) if alert is not None else []
    for reply in replies:
        print(
            f"Slack {reply['channel']}, in the thread of ts {reply['thread_ts']} (the alert's)"
            f"{', also sent to the channel' if reply.get('reply_broadcast') else ''}: "
            f"{_first_line(reply)}"
        )

    say("7. the same loop for a bucket and a role: made public, made to trust a stranger")
    alerts = _bucket_and_role(clients, runtime)

    say("8. the next sweep: back to normal for the bucket and the role, then all in sync")
    final = run_sweep(runtime)
    print(render_text_report(final.findings, checked=final.checked))

    say("9. Slack, as the channels show it: each alert, and its end in its thread")
    print(render_chat(chat))
    threads = [m for m in chat.messages if "thread_ts" not in m]
    closed_in_thread = all(
        [_first_line(r).startswith("Back to normal") for r in chat.replies(m)] == [True]
        for m in threads
    )
    drift_found = any(f.is_problem for f in outcome.findings)
    ok = (
        drift_found
        and quiet
        and normal
        and replies
        and alerts >= 2
        and len(threads) == 1 + alerts
        and closed_in_thread
        and exit_code(final.findings) == EXIT_OK
    )
    if not ok:
        print("demo FAILED: a drift was not reported once, or did not clear in its thread")
        return 1
    print(
        f"\nDemo complete: {len(chat.messages)} Slack messages in all — {len(threads)} alerts, "
        'each said once, nothing repeated, and each closed with "back to normal" in its thread.'
    )
    return EXIT_OK


def _first_line(message: dict[str, Any]) -> str:
    return str(message.get("text") or "").splitlines()[0] if message.get("text") else "-"


def render_chat(chat: LocalChat) -> str:
    """The channels as a person scrolls them: top-level messages, replies indented."""
    lines: list[str] = []
    for channel in dict.fromkeys(m["channel"] for m in chat.messages):
        lines.append(channel)
        for message in chat.in_channel(channel):
            lines.append(f"  [{message['ts']}] {_first_line(message)}")
            for reply in chat.replies(message):
                lines.append(
                    f"    └ [{reply['ts']}, thread {reply['thread_ts']}] {_first_line(reply)}"
                )
    return "\n".join(lines)


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
