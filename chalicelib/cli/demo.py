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
from chalicelib.cli.importer import import_security_groups
from chalicelib.collectors.security_group import SecurityGroupCollector
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Finding
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


def build_estate(clients: ClientCache) -> dict[str, str]:
    """A small VPC with the groups a web service would have."""
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
    ec2.authorize_security_group_ingress(
        GroupId=ids["web"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "UserIdGroupPairs": [{"GroupId": ids["bastion"]}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ids["bastion"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "office"}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=ids["db"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": ids["web"]}],
            },
        ],
    )
    return ids


def cloudtrail_envelope(
    event_name: str,
    group_id: str,
    rule: dict[str, Any],
    user: str,
    access_key: str,
    response: dict[str, Any],
) -> dict[str, Any]:
    """The EventBridge envelope CloudTrail would deliver for this call (shape per AWS docs)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event_id = str(uuid.uuid4())
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEDEMOUSER01",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": access_key,
            "userName": user,
        },
        "eventTime": now,
        "eventSource": "ec2.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.17.60 md/command#ec2." + event_name.lower(),
        "requestParameters": {"groupId": group_id, "ipPermissions": {"items": [rule]}},
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id,
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
        "source": "aws.ec2",
        "account": ACCOUNT,
        "time": now,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def run_demo(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="setpoint-demo-"))
    here = Path.cwd()
    os.chdir(work)  # so spec paths read "policies/…", as in a user's repository
    try:
        with moto_server() as endpoint, webhook_receiver() as (webhook, received):
            return _story(Path("."), endpoint, webhook, received)
    finally:
        os.chdir(here)
        if args.keep:
            print(f"\n(demo files kept in {work})")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _story(work: Path, endpoint: str, webhook: str, received: list[dict[str, Any]]) -> int:
    say(f"1. moto's AWS on {endpoint}; a chat webhook on {webhook.split('/services')[0]}")
    clients = ClientCache()
    ids = build_estate(clients)
    print(
        f"VPC {ids['vpc']} with groups web {ids['web']}, bastion {ids['bastion']}, db {ids['db']}"
    )

    say("2. setpoint import: the specs, as a pull request would hold them")
    collector = SecurityGroupCollector(clients.factory("ec2"))
    count = import_security_groups(collector, [REGION], work / "policies", quiet=True)
    web_spec = work / "policies" / "security_groups" / REGION / "web.yaml"
    print(f"wrote {count} spec(s) (our three groups, and the VPCs' default groups)")
    print(f"--- {web_spec}")
    print(web_spec.read_text(encoding="utf-8"))

    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider("policies", clients),
        notifiers=[ConsoleNotifier(sys.stdout), SlackWebhookNotifier(webhook)],
        regions=[REGION],
        account=ACCOUNT,
    )
    before = sweep_findings(runtime)
    print(render_text_report(before, checked=len(before)))

    say("3. 02:13 — alice opens SSH to the world on web with the AWS CLI; no pull request")
    iam = clients.client("iam", REGION)
    iam.create_user(UserName="alice")
    key = iam.create_access_key(UserName="alice")["AccessKey"]
    session = __import__("boto3").session.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=REGION,
    )
    alice_ec2 = session.client("ec2", endpoint_url=endpoint)
    ssh_world = {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    result = alice_ec2.authorize_security_group_ingress(
        GroupId=ids["web"], IpPermissions=[ssh_world]
    )
    rule_id = result["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    record_rule = {
        "ipProtocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    envelope = cloudtrail_envelope(
        "AuthorizeSecurityGroupIngress",
        ids["web"],
        record_rule,
        "alice",
        key["AccessKeyId"],
        {
            "_return": True,
            "securityGroupRuleSet": {
                "items": [
                    {"groupId": ids["web"], "securityGroupRuleId": rule_id, "isEgress": False}
                ]
            },
        },
    )
    (work / "event.json").write_text(json.dumps(envelope, indent=2), encoding="utf-8")
    print(f"CloudTrail record {envelope['detail']['eventID']} → the Lambda's handler:")

    say("4. the alert (printed by the console notifier, posted to the webhook)")
    outcome = handle_cloudtrail_event(envelope, runtime)
    print(
        f"webhook received {len(received)} message(s); Slack header: "
        f"{received[-1]['blocks'][0]['text']['text'] if received else '-'}"
    )

    say("5. the scheduled sweep sees the same drift")
    swept = sweep_findings(runtime)
    print(render_text_report(swept, checked=len(swept)))

    say("6. bob reverts the change; the revoke event re-checks the group")
    ec2 = clients.client("ec2", REGION)
    ec2.revoke_security_group_ingress(GroupId=ids["web"], IpPermissions=[ssh_world])
    revert = cloudtrail_envelope(
        "RevokeSecurityGroupIngress",
        ids["web"],
        record_rule,
        "bob",
        "AKIAEXAMPLEDEMOBOB01",
        {"_return": True},
    )
    after = handle_cloudtrail_event(revert, runtime)
    for finding in after.findings:
        print(f"{finding.name} ({finding.id}): {finding.status.value}")

    say("7. a final sweep: back to normal")
    final = sweep_findings(runtime)
    print(render_text_report(final, checked=len(final)))
    drift_found = bool(outcome.findings) and any(f.is_problem for f in outcome.findings)
    code = exit_code(final)
    if not drift_found or code != EXIT_OK or len(received) < 1:
        print("demo FAILED: the drift was not reported, or did not clear")
        return 1
    print("\nDemo complete: drift alerted within one event, and cleared after the revert.")
    return EXIT_OK


def sweep_findings(runtime: Runtime) -> list[Finding]:
    """The sweep handler's comparison, shown here without posting the alert a second time."""
    return runtime.pipeline.sweep(runtime.specs(), ACCOUNT, list(runtime.regions)).findings
