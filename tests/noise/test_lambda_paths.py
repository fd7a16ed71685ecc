"""Ignore rules and exceptions where no one runs `setpoint check`: the event path, the
sweep's shards, a spec push, and specs read from S3 (a pushed `.setpointignore`,
`SETPOINT_IGNORE`). What `check` silences must not reach chat from the Lambda either."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.model import Status
from chalicelib.runtime import spec_provider, sweep_service
from chalicelib.specs.bundle import validated_bundle
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import build_catalog, parse_ignore_text
from chalicelib.specs.parse import parse_file
from chalicelib.specs.s3_source import S3SpecSource
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.worker import sweep_in_process
from tests.chat_server import ChatServer
from tests.conftest import REGION, authorize_record, make_vpc_with_web
from tests.state.world import T0, Clock, make_runtime

WEB = (
    "kind: security_group\nname: web\ndescription: Public web\n"
    "ingress:\n  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"
)
SSH_WORLD = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
}


def _catalog(spec: str = WEB, ignore: str | None = None) -> SpecCatalog:
    files = [parse_file("policies/web.yaml", spec)]
    if ignore is not None:
        files.append(parse_ignore_text("policies/.setpointignore", ignore))
    return build_catalog(files)


def _exception(until: str) -> str:
    return (
        "exceptions:\n"
        "  - change: {op: add, path: ingress, actual: {proto: tcp, ports: '22'}}\n"
        f"    until: {until}\n"
        "    reason: vendor support session, INC-4711\n"
    )


@pytest.fixture
def ssh_open(ec2: Any) -> dict[str, str]:
    """`web` as specced, then SSH opened to the world by hand."""
    made = make_vpc_with_web(ec2)
    ec2.authorize_security_group_ingress(GroupId=made["web"], IpPermissions=[SSH_WORLD])
    return made


def _ec2_reads(clients: ClientCache) -> list[str]:
    calls: list[str] = []
    clients.client("ec2", REGION).meta.events.register(
        "before-call.ec2.*", lambda model, **_: calls.append(model.name)
    )
    return calls


def test_an_ignored_group_is_not_read_and_nobody_hears_of_it(
    ssh_open: dict[str, str], chat_server: ChatServer
) -> None:
    clients = ClientCache()
    runtime = make_runtime(
        chat_server.url, _catalog(ignore=f"security_group:{ssh_open['web']}\n"), clients=clients
    )
    reads = _ec2_reads(clients)

    outcome = handle_cloudtrail_event(authorize_record(ssh_open["web"]), runtime)

    assert outcome.findings == [] and outcome.errors == []
    assert reads == []  # "Ignored resources are not read"
    assert chat_server.received == []


def test_a_negated_rule_brings_the_group_back_to_the_event_path(
    ssh_open: dict[str, str], chat_server: ChatServer
) -> None:
    runtime = make_runtime(
        chat_server.url, _catalog(ignore="security_group:*\n!security_group:web\n")
    )

    handle_cloudtrail_event(authorize_record(ssh_open["web"]), runtime)

    assert chat_server.alerts() == ["new:drifted"]


def test_a_tag_rule_applies_after_the_read(ec2: Any, chat_server: ChatServer) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    k8s = ec2.create_security_group(
        GroupName="k8s-elb-a1b2",
        Description="owned by the controller",
        VpcId=vpc,
        TagSpecifications=[
            {
                "ResourceType": "security-group",
                "Tags": [{"Key": "kubernetes.io/cluster/prod", "Value": "owned"}],
            }
        ],
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=k8s, IpPermissions=[SSH_WORLD])
    runtime = make_runtime(
        chat_server.url, _catalog(ignore="tag:kubernetes.io/cluster/prod=own*\n")
    )

    outcome = handle_cloudtrail_event(authorize_record(k8s), runtime)

    # an unmanaged group open to the world, but the cluster owns it: quiet
    assert outcome.findings == [] and chat_server.received == []


def test_a_pasted_exception_keeps_the_event_quiet_until_it_expires_then_says_which(
    ssh_open: dict[str, str], chat_server: ChatServer
) -> None:
    clock = Clock(T0)
    until = (T0 + timedelta(days=2)).date().isoformat()
    runtime = make_runtime(chat_server.url, _catalog(WEB + _exception(until)), clock=clock)

    (accepted,) = handle_cloudtrail_event(authorize_record(ssh_open["web"]), runtime).findings
    assert accepted.status is Status.IN_SYNC and len(accepted.excepted) == 1
    assert chat_server.received == []

    clock.advance(timedelta(days=3).total_seconds())
    (expired,) = handle_cloudtrail_event(authorize_record(ssh_open["web"]), runtime).findings

    assert expired.status is Status.DRIFTED
    assert chat_server.alerts() == ["new:drifted"]
    assert f"expired {until} (vendor support session, INC-4711)" in json.dumps(
        chat_server.received[0]
    )


def test_a_pushed_bundle_carries_the_ignore_file_to_the_lambda(
    ssh_open: dict[str, str], chat_server: ChatServer, tmp_path: Path
) -> None:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "web.yaml").write_text(WEB)
    (root / ".setpointignore").write_text(
        f"# by hand, reviewed\nsecurity_group:{ssh_open['web']}\n"
    )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="specs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="specs", Key="prod/bundle.json", Body=validated_bundle(root).body())

    catalog = S3SpecSource(s3, "s3://specs/prod").load()
    runtime = make_runtime(chat_server.url, catalog)
    outcome = handle_cloudtrail_event(authorize_record(ssh_open["web"]), runtime)

    (rule,) = catalog.ignore_rules
    assert str(rule.source).endswith("policies/.setpointignore:2")
    assert catalog.files == ("policies/web.yaml",)  # the rules are not counted as a spec
    assert outcome.findings == [] and chat_server.received == []


def test_an_ignore_object_beside_per_file_specs_is_read(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="specs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="specs", Key="prod/web.yaml", Body=WEB.encode())
    s3.put_object(Bucket="specs", Key="prod/.setpointignore", Body=b"security_group:sg-0*\n")
    s3.put_object(Bucket="specs", Key="prod/team/.setpointignore", Body=b"not read: not the root\n")

    catalog = S3SpecSource(s3, "s3://specs/prod").load()

    assert [r.id_glob for r in catalog.ignore_rules] == ["sg-0*"]


def test_setpoint_ignore_adds_rules_to_s3_specs_and_a_bad_one_names_itself(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="specs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="specs", Key="prod/web.yaml", Body=WEB.encode())
    clients = ClientCache()

    catalog = spec_provider(
        "s3://specs/prod", clients, ignore="security_group:sg-legacy*; tag:team=data"
    )()

    assert [(r.kind, r.id_glob, r.tag_key) for r in catalog.ignore_rules] == [
        ("security_group", "sg-legacy*", None),
        (None, None, "team"),
    ]
    with pytest.raises(ConfigError, match=r"SETPOINT_IGNORE rule 2.*unknown kind 'security_grop'"):
        spec_provider("s3://specs/prod", clients, ignore="s3_bucket:logs-*;security_grop:sg-1")


def test_the_sweep_alerts_none_of_what_the_rules_and_exceptions_silence(
    ssh_open: dict[str, str], ec2: Any, chat_server: ChatServer
) -> None:
    stray = ec2.create_security_group(
        GroupName="legacy-bastion", Description="by hand", VpcId=ssh_open["vpc"]
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=stray, IpPermissions=[SSH_WORLD])
    until = (T0 + timedelta(days=2)).date().isoformat()
    catalog = _catalog(WEB + _exception(until), ignore="security_group:legacy-*\n")
    runtime = make_runtime(chat_server.url, catalog, clock=Clock(T0))
    service = sweep_service(runtime, SweepSettings(regions=(REGION,)))

    swept = sweep_in_process(service)

    by_name = {f.name: f for f in swept.findings}
    assert "legacy-bastion" not in by_name  # ignored by name, whatever its drift
    assert by_name["web"].status is Status.IN_SYNC and len(by_name["web"].excepted) == 1
    alerts = [m for m in chat_server.received if m.get("type") != "sweep_digest"]
    assert all(m.get("name") not in ("web", "legacy-bastion") for m in alerts), alerts
