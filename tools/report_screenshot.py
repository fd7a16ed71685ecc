"""`make screenshot`: the demo estate's sweep report, as headless Chromium shows it.

The estate of `setpoint demo` (moto in process): specs imported, then changes made by hand
that no event announces (SSH opened to the world, a tag changed, the audit bucket made
public, a group created outside any spec). The scheduled sweep finds them, asks CloudTrail's
history who made them, alerts, posts its digest and writes its report to S3, exactly as
the Lambda does. moto does not implement `LookupEvents`, so the history is answered here
from the records those calls would have left (the response shape LookupEvents returns).

Writes the PNG (docs/img/report.png by default) and prints the looked-up alert and the
digest, the text README shows beside the picture.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto import mock_aws

from chalicelib.aws import ClientCache
from chalicelib.cli.demo import (
    _SSH_RECORD,
    _SSH_WORLD,
    ACCOUNT,
    BUCKET,
    REGION,
    build_estate,
    cloudtrail_envelope,
)
from chalicelib.cli.importer import EXPORTERS
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.notify.delivery import ConsoleNotifier
from chalicelib.runtime import Runtime, build_pipeline, spec_provider, sweep_service
from chalicelib.specs.sink import SpecSink
from chalicelib.sweep.lookup import CloudTrailLookup
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.worker import sweep_in_process
from tests.browser import screenshot

ROOT = Path(__file__).resolve().parents[1]
SWEPT_AT = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
# the demo's settings: moto, with credentials that can reach no account
_MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ENDPOINT_URL": None,
    "AWS_PROFILE": None,
}


@contextmanager
def in_moto() -> Iterator[None]:
    """moto in process, the environment put back afterwards."""
    saved = {name: os.environ.get(name) for name in _MOTO_ENV}
    for name, value in _MOTO_ENV.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        with mock_aws():
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class History:
    """CloudTrail's event history for the estate: `lookup_events` by ResourceName,
    newest first, in the response shape the real call has."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def add(self, resource: str, envelope: Mapping[str, Any], when: datetime) -> None:
        record = dict(envelope["detail"])
        record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.records.append((resource, record))

    def lookup_events(self, **params: Any) -> dict[str, Any]:
        name = params["LookupAttributes"][0]["AttributeValue"]
        found = [r for resource, r in self.records if resource == name]
        found.sort(key=lambda r: str(r["eventTime"]), reverse=True)
        return {
            "Events": [
                {
                    "EventId": r["eventID"],
                    "EventName": r["eventName"],
                    "ReadOnly": "false",
                    "EventTime": datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")),
                    "EventSource": r["eventSource"],
                    "Username": r["userIdentity"]["userName"],
                    "Resources": [{"ResourceName": name}],
                    "CloudTrailEvent": json.dumps(r),
                }
                for r in found
            ]
        }


def changes_by_hand(clients: ClientCache, ids: Mapping[str, str], history: History) -> None:
    """What people did outside any pull request, while no event reached Setpoint."""
    ec2 = clients.client("ec2", REGION)
    s3 = clients.client("s3", REGION)
    ec2.authorize_security_group_ingress(GroupId=ids["web"], IpPermissions=[_SSH_WORLD])
    history.add(
        ids["web"],
        cloudtrail_envelope(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            {"groupId": ids["web"], "ipPermissions": {"items": [_SSH_RECORD]}},
            "alice",
        ),
        SWEPT_AT - timedelta(days=41, hours=5),
    )
    ec2.create_tags(Resources=[ids["db"]], Tags=[{"Key": "team", "Value": "data"}])
    history.add(
        ids["db"],
        cloudtrail_envelope(
            "CreateTags",
            "ec2.amazonaws.com",
            {
                "resourcesSet": {"items": [{"resourceId": ids["db"]}]},
                "tagSet": {"items": [{"key": "team", "value": "data"}]},
            },
            "bob",
        ),
        SWEPT_AT - timedelta(days=3, hours=2),
    )
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
    history.add(
        BUCKET,
        cloudtrail_envelope(
            "PutBucketPolicy",
            "s3.amazonaws.com",
            {"bucketName": BUCKET, "bucketPolicy": public, "policy": [""]},
            "alice",
        ),
        SWEPT_AT - timedelta(hours=9),
    )
    vpc = ids["vpc"]
    legacy = ec2.create_security_group(GroupName="legacy-rdp", Description="temp", VpcId=vpc)
    rdp = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389}
    ec2.authorize_security_group_ingress(
        GroupId=legacy["GroupId"], IpPermissions=[{**rdp, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    history.add(
        legacy["GroupId"],
        cloudtrail_envelope(
            "CreateSecurityGroup",
            "ec2.amazonaws.com",
            {"groupName": "legacy-rdp", "groupDescription": "temp", "vpcId": vpc},
            "bob",
            {"_return": True, "groupId": legacy["GroupId"]},
        ),
        SWEPT_AT - timedelta(days=12),
    )


def sweep_the_demo_estate(work: Path) -> tuple[str, str]:
    """(the report's HTML as the sweep wrote it to S3, what chat heard)."""
    with in_moto():
        clients = ClientCache()
        ids = build_estate(clients)
        sink = SpecSink.open(work / "policies")
        with redirect_stdout(io.StringIO()):  # the importer's progress lines
            for exporter in dict.fromkeys(EXPORTERS.values()):
                exporter(clients, [REGION], sink, frozenset(ALL_KINDS))
        history = History()
        changes_by_hand(clients, ids, history)
        chat = io.StringIO()
        here = Path.cwd()
        os.chdir(work)  # spec paths read "policies/…", as in a user's repository
        try:
            runtime = Runtime(
                clients=clients,
                pipeline=build_pipeline(clients),
                specs=spec_provider("policies", clients),
                notifiers=[ConsoleNotifier(chat)],
                regions=[REGION],
                account=ACCOUNT,
                clock=lambda: SWEPT_AT,
            )
            settings = SweepSettings(regions=(REGION,), lookup_hours=90 * 24, report_bucket=BUCKET)
            service = sweep_service(runtime, settings)
            service.lookup = CloudTrailLookup(lambda account, region: history, sleep=lambda _: None)
            sweep_in_process(service)
        finally:
            os.chdir(here)
        s3 = clients.client("s3", REGION)
        page = s3.get_object(Bucket=BUCKET, Key="reports/latest.html")["Body"].read()
        return page.decode("utf-8"), chat.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "img" / "report.png")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=1370)
    parser.add_argument("--html", type=Path, help="also keep the report page here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="setpoint-screenshot-") as tmp:
        work = Path(tmp)
        page, chat = sweep_the_demo_estate(work)
        html_file = args.html or work / "report.html"
        html_file.write_text(page, encoding="utf-8")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(html_file, args.output, args.width, args.height)
    print(chat.rstrip())
    print(f"\nwrote {args.output} ({args.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
