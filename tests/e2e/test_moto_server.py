"""End to end: the installed CLI as a separate process, against moto's real HTTP server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.chat_server import closed_port

pytestmark = pytest.mark.e2e
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def env_for(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SETPOINT_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    return env


def setpoint(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", *args],
        env=env_for(endpoint),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _account_trail(endpoint: str) -> None:
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, **keys)
    s3.create_bucket(
        Bucket="e2e-trail-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    cloudtrail = boto3.client("cloudtrail", region_name=REGION, endpoint_url=endpoint, **keys)
    cloudtrail.create_trail(
        Name="e2e-trail", S3BucketName="e2e-trail-logs", IsMultiRegionTrail=True
    )
    cloudtrail.start_logging(Name="e2e-trail")


def test_import_check_and_a_hand_made_change_over_http(endpoint: str, tmp_path: Path) -> None:
    ec2 = boto3.client(
        "ec2",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    gid = ec2.create_security_group(GroupName="e2e-api", Description="api", VpcId=vpc)["GroupId"]
    _account_trail(endpoint)  # without one, the guard reports that no change would be heard
    specs = tmp_path / "policies"

    imported = setpoint(endpoint, "import", "--out", str(specs), "--region", REGION)
    assert imported.returncode == 0, imported.stderr
    clean = setpoint(endpoint, "check", "--specs", str(specs), "--region", REGION)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    ec2.authorize_security_group_ingress(
        GroupId=gid, IpProtocol="tcp", FromPort=3389, ToPort=3389, CidrIp="0.0.0.0/0"
    )
    drift = setpoint(
        endpoint, "check", "--specs", str(specs), "--region", REGION, "--format", "json"
    )
    assert drift.returncode == 1, drift.stderr
    report = json.loads(drift.stdout)
    (finding,) = report["findings"]
    assert finding["id"] == gid
    assert finding["changes"][0]["summary"] == "ingress tcp/3389 from 0.0.0.0/0 — not in spec"


def test_unreachable_endpoint_is_an_error_exit_not_a_traceback(tmp_path: Path) -> None:
    specs = tmp_path / "policies"
    specs.mkdir()
    with closed_port() as port:  # refuses connections while the CLI runs
        result = setpoint(
            f"http://127.0.0.1:{port}", "check", "--specs", str(specs), "--region", REGION
        )
    assert result.returncode == 2
    assert "error: AWS:" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_runs_the_whole_loop_and_exits_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli.main", "demo"],
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SETPOINT_"))},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "+ ingress tcp/22 from 0.0.0.0/0 — not in spec" in out
    assert "Who: arn:aws:iam::123456789012:user/alice" in out
    alert = re.search(
        r"Slack received 1 message\(s\): #team-web \(the team=web tag chose it\), "
        r"ts (\S+): Drift: security group web",
        out,
    )
    assert alert, out[-3000:]
    ts = alert.group(1)
    assert "Slack still holds 1 message(s)" in out  # the duplicate and the sweep stay quiet
    # back to normal went into the alert's thread: thread_ts is the first alert's ts
    assert re.search(
        rf"Slack #team-web, in the thread of ts {re.escape(ts)} \(the alert's\), also sent to "
        r"the channel: Back to normal: security group web \(sg-\w+\) matches its spec again "
        r"— fixed by arn:aws:iam::123456789012:user/bob",
        out,
    )
    chat = out.split("== 9.")[1]
    tops = re.findall(r"^  \[(\S+)\] Drift: ", chat, re.M)
    replies = re.findall(r"^    └ \[\S+, thread (\S+)\] Back to normal: ", chat, re.M)
    assert tops[0] == ts and len(tops) == 3 and replies == tops  # each alert closed in its thread
    assert out.rstrip().endswith('each closed with "back to normal" in its thread.')
