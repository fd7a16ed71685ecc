"""Import, then check, on moto: nothing to report; then the changes a reviewer must see."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.cli.main import main
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.pipeline import build_load_balancer_pipeline
from chalicelib.kinds.registry import deletes
from chalicelib.model import Actor, ResourceRef, Status, is_gone
from chalicelib.pipeline import Pipeline
from chalicelib.specs.loading import load_directory
from tests.conftest import REGION, SAMPLES


def build_estate(ec2: Any, elbv2: Any, acm: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for cidr, zone in (("10.30.1.0/24", "a"), ("10.30.2.0/24", "b"))
    ]
    web = ec2.create_security_group(GroupName="web-lb", Description="lb", VpcId=vpc)["GroupId"]
    admin = ec2.create_security_group(GroupName="admin", Description="ssh", VpcId=vpc)["GroupId"]
    cert = acm.request_certificate(DomainName="web.example.com")["CertificateArn"]
    lb = elbv2.create_load_balancer(
        Name="web-public",
        Subnets=subnets,
        SecurityGroups=[web],
        Scheme="internet-facing",
        Type="application",
        Tags=[{"Key": "team", "Value": "web"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="web-targets", Protocol="HTTP", Port=8080, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    https = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
    )["Listeners"][0]["ListenerArn"]
    http = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb,
        Attributes=[
            {"Key": "deletion_protection.enabled", "Value": "true"},
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
        ],
    )
    return {"lb": lb, "tg": tg, "https": https, "http": http, "web": web, "admin": admin}


@pytest.fixture
def estate(aws: None) -> tuple[Any, dict[str, str]]:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    ids = build_estate(
        boto3.client("ec2", region_name=REGION), elbv2, boto3.client("acm", region_name=REGION)
    )
    return elbv2, ids


@pytest.fixture
def imported(estate: tuple[Any, dict[str, str]], tmp_path: Path) -> Path:
    specs = tmp_path / "policies"
    args = ["import", "--out", str(specs), "--region", REGION, "--kinds", "load_balancer"]
    assert main(args) == 0
    return specs


def _check(specs: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    args = ["--specs", str(specs), "--region", REGION, "--kinds", "load_balancer"]
    code = main(["check", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_import_then_check_reports_nothing(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _check(imported, capsys)
    assert report["findings"] == []
    assert report["summary"]["checked"] == 1 and report["summary"]["in_sync"] == 1
    assert code == 0
    assert main(["validate", "--specs", str(imported)]) == 0


def test_imported_spec_reads_like_the_load_balancer(imported: Path) -> None:
    text = (imported / "load_balancers" / REGION / "web-public.yaml").read_text()
    assert "scheme: internet-facing" in text and "- web-lb" in text
    assert "ssl_policy: ELBSecurityPolicy-TLS13-1-2-2021-06" in text
    assert "forward: web-targets" in text
    assert "protocol: HTTPS" in text and "status_code: HTTP_301" in text
    assert "deletion_protection.enabled: true" in text and "team: web" in text


def test_out_of_band_changes_are_found_with_what_a_reviewer_must_see(
    estate: tuple[Any, dict[str, str]], imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elbv2, ids = estate
    elbv2.modify_listener(ListenerArn=ids["https"], SslPolicy="ELBSecurityPolicy-2016-08")
    elbv2.modify_listener(
        ListenerArn=ids["http"], DefaultActions=[{"Type": "forward", "TargetGroupArn": ids["tg"]}]
    )
    elbv2.set_security_groups(LoadBalancerArn=ids["lb"], SecurityGroups=[ids["web"], ids["admin"]])
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=ids["lb"],
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
    )
    code, report = _check(imported, capsys)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["status"] == "drifted" and finding["id"] == ids["lb"]
    summaries = {c["path"]: c["summary"] for c in finding["changes"]}
    assert summaries == {
        "security_groups": f"security group admin ({ids['admin']}) attached — not in spec",
        "listeners.80.default_action": (
            "listener HTTP:80: forward to web-targets (in spec: redirect to "
            "HTTPS://#{host}:443/#{path}?#{query} (HTTP_301)); plaintext on an "
            "internet-facing load balancer, forwarding instead of redirecting"
        ),
        "listeners.443.ssl_policy": (
            "listener HTTPS:443: TLS policy ELBSecurityPolicy-2016-08 allows TLS 1.0-1.2 "
            "(in spec: ELBSecurityPolicy-TLS13-1-2-2021-06, TLS 1.2-1.3) — older TLS "
            "versions than the spec allows"
        ),
        "attributes.deletion_protection.enabled": (
            "deletion_protection.enabled is off (in spec: on)"
        ),
    }
    opened = [c["path"] for c in finding["changes"] if c.get("world_open")]
    assert opened == ["listeners.80.default_action"]


def test_a_deleted_load_balancer_is_missing_and_a_new_one_unmanaged(
    estate: tuple[Any, dict[str, str]], imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elbv2, ids = estate
    subnets = elbv2.describe_load_balancers(LoadBalancerArns=[ids["lb"]])["LoadBalancers"][0][
        "AvailabilityZones"
    ]
    elbv2.create_load_balancer(
        Name="hand-made", Subnets=[z["SubnetId"] for z in subnets], Scheme="internal"
    )
    elbv2.delete_load_balancer(LoadBalancerArn=ids["lb"])
    code, report = _check(imported, capsys)
    assert code == 1
    assert {f["name"]: f["status"] for f in report["findings"]} == {
        "web-public": "missing",
        "hand-made": "unmanaged",
    }


def test_an_event_ref_by_arn_is_compared_and_a_deleted_one_is_missing(
    estate: tuple[Any, dict[str, str]], imported: Path
) -> None:
    elbv2, ids = estate
    catalog = load_directory(imported)
    pipeline = build_load_balancer_pipeline(ClientCache())
    ref = ResourceRef(LOAD_BALANCER, "123456789012", REGION, id=ids["lb"], name="web-public")
    (finding,) = pipeline.evaluate_ref(ref, catalog)
    assert finding.status is Status.IN_SYNC
    elbv2.delete_load_balancer(LoadBalancerArn=ids["lb"])
    (gone,) = pipeline.evaluate_ref(ref, catalog)
    assert gone.status is Status.MISSING and gone.spec and "web-public.yaml" in gone.spec
    # keyed by name like the sweep's `missing`, so one record, whichever path saw it first
    assert (gone.id, gone.name, gone.region) == (None, "web-public", REGION)


def test_deleting_a_specced_lb_is_missing_and_closes_its_arn_record_as_gone(
    estate: tuple[Any, dict[str, str]], imported: Path
) -> None:
    elbv2, ids = estate
    catalog = load_directory(imported)
    pipeline = Pipeline([build_load_balancer_pipeline(ClientCache())], deletes=deletes)
    elbv2.delete_load_balancer(LoadBalancerArn=ids["lb"])
    ref = ResourceRef(LOAD_BALANCER, "123456789012", REGION, id=ids["lb"], name="web-public")
    actor = Actor(arn=None, event_name="DeleteLoadBalancer", event_time=None, event_id="e1")
    findings = pipeline.evaluate([ref], catalog, actor)
    assert [(f.status, f.id) for f in findings] == [
        (Status.MISSING, None),
        (Status.MISSING, ids["lb"]),
    ]
    assert is_gone(findings[1])


def test_a_sweep_covers_only_its_regions(
    estate: tuple[Any, dict[str, str]], imported: Path
) -> None:
    catalog = load_directory(imported)
    pipeline = build_load_balancer_pipeline(ClientCache())
    # the shard for another region neither reads nor reports this region's specs
    assert pipeline.sweep(catalog, "123456789012", ["us-east-1"]).findings == []
    (finding,) = pipeline.sweep(catalog, "123456789012", [REGION]).findings
    assert finding.status is Status.IN_SYNC and finding.name == "web-public"


def test_explain_a_tls_downgrade_event_names_the_versions_and_the_actor(
    estate: tuple[Any, dict[str, str]],
    imported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    elbv2, ids = estate
    elbv2.modify_listener(ListenerArn=ids["https"], SslPolicy="ELBSecurityPolicy-2016-08")
    record = json.loads(
        (SAMPLES / "elasticloadbalancing" / "ModifyListener__setpoint1.json").read_text()
    )
    record["awsRegion"] = REGION
    record["requestParameters"]["listenerArn"] = ids["https"]  # moto's, in the record's shape
    event = tmp_path / "event.json"
    event.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["explain", str(event), "--specs", str(imported)]) == 1
    out = capsys.readouterr().out
    assert "ELBSecurityPolicy-2016-08 allows TLS 1.0-1.2" in out
    assert "arn:aws:iam::123456789012:user/example-user" in out


def test_an_ignored_load_balancer_is_listed_but_never_read_further(
    estate: tuple[Any, dict[str, str]], imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither its listeners nor its attributes are read; its spec is not `missing`, the
    unspecced one not `unmanaged`; both are counted as ignored. Requests are counted with a
    botocore `before-call` handler on the pipeline's own clients."""
    elbv2, ids = estate
    subnets = elbv2.describe_load_balancers(LoadBalancerArns=[ids["lb"]])["LoadBalancers"][0][
        "AvailabilityZones"
    ]
    elbv2.create_load_balancer(
        Name="k8s-ingress-a1", Subnets=[z["SubnetId"] for z in subnets], Scheme="internal"
    )
    (imported / ".setpointignore").write_text("tag:team=web\nload_balancer:k8s-*\n")
    catalog = load_directory(imported)
    clients = ClientCache()
    asked: list[tuple[str, str]] = []
    clients.client("elbv2", REGION).meta.events.register(
        "before-call",
        lambda model, params, **_: asked.append((model.name, str(params))),
    )
    result = Pipeline([build_load_balancer_pipeline(clients)]).sweep(
        catalog, "123456789012", [REGION]
    )
    assert result.findings == []  # no missing spec, no unmanaged one
    assert sorted(str(f.name) for f in result.ignored) == ["k8s-ingress-a1", "web-public"]
    assert "DescribeLoadBalancers" in {name for name, _ in asked}  # the counter sees calls
    per_resource = [name for name, _ in asked if name != "DescribeLoadBalancers"]
    assert per_resource == ["DescribeTags"]  # one batch for both, then nothing of theirs
    code, report = _check(imported, capsys)
    assert (code, report["summary"]["ignored"], report["findings"]) == (0, 2, [])
