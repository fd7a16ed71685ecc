"""Load balancers from Terraform state: the specs a user gets, clear errors, moto round trips.

Fixture provenance: tests/fixtures/terraform/lb.tfstate follows a public format-4 state
written by AWS provider v5 (Terraform 1.x; `aws_lb` with `access_logs`/`connection_logs`
blocks, `aws_lb_listener` with `default_action` blocks holding empty `forward`/`redirect`
lists, `target_group_arn: ""` on a redirect, `certificate_arn: null` on HTTP), with
attribute names from terraform-provider-aws website/docs/r/lb.html.markdown,
lb_listener.html.markdown and lb_listener_certificate.html.markdown. The NLB carries the
provider v6 `region` attribute; the OIDC listener's client secret is marked sensitive as
the provider does. Names, ids and the account (moto's 123456789012) are made up.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.cli.main import main
from chalicelib.errors import SpecError
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.family import FAMILY
from chalicelib.kinds.load_balancer.model import LoadBalancerSpec
from chalicelib.kinds.load_balancer.pipeline import build_load_balancer_pipeline
from chalicelib.model import Status
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.sources.terraform.model import TfInstance
from chalicelib.sources.terraform.state import parse_state
from chalicelib.specs.loading import build_catalog

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "terraform" / "lb.tfstate"
ORIGIN = "edge/lb.tfstate"
ACCOUNT = "123456789012"
TLS13 = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def declare(text: str) -> list[Any]:
    assert FAMILY.terraform is not None
    return list(FAMILY.terraform().declare(parse_state(ORIGIN, text)))


def specs(text: str | None = None) -> dict[str, LoadBalancerSpec]:
    out = declare(text if text is not None else FIXTURE.read_text())
    parsed = declared_file("terraform:edge", out)
    assert parsed.errors == ()
    catalog = build_catalog([parsed])
    return {spec.name: spec for spec in catalog.by_kind[LOAD_BALANCER]}


def edited(name: str, **attributes: Any) -> str:
    """The fixture with some attributes of the resource called `name` replaced."""
    state: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text()))
    resource = next(r for r in state["resources"] if r["name"] == name)
    resource["instances"][0]["attributes"].update(attributes)
    return json.dumps(state)


def listener(spec: LoadBalancerSpec, port: int) -> Any:
    assert spec.listeners is not None
    return next(item for item in spec.listeners if item.port == port)


# ------------------------------------------------------------------------- mapping


def test_the_mapping_reads_load_balancers_listeners_and_their_certificates() -> None:
    assert FAMILY.terraform is not None
    assert FAMILY.terraform().types == {
        "aws_lb",
        "aws_alb",
        "aws_lb_listener",
        "aws_alb_listener",
        "aws_lb_listener_certificate",
        "aws_alb_listener_certificate",
    }


def test_an_application_load_balancer_with_what_its_listeners_declare() -> None:
    web = specs()["web-public"]
    assert str(web.source) == f"{ORIGIN}: module.edge.aws_lb.this"
    assert (web.region, web.account, web.type, web.scheme) == (
        "eu-west-1",
        ACCOUNT,
        "application",
        "internet-facing",
    )
    assert web.security_groups == ("sg-072d57058808b322b",)
    assert web.attributes == {
        "deletion_protection.enabled": True,
        "routing.http.drop_invalid_header_fields.enabled": True,
        "access_logs.s3.enabled": False,
    }
    assert web.tags == {"team": "web"}
    assert [item.port for item in web.listeners or ()] == [80, 443, 8443]
    http = listener(web, 80)
    assert http.default_action.describe() == (
        "redirect to HTTPS://#{host}:443/#{path}?#{query} (HTTP_301)"
    )
    https = listener(web, 443)
    assert https.ssl_policy == TLS13
    assert https.default_action.target_groups == ("web-targets",)
    # the listener's own certificate and the aws_lb_listener_certificate's
    assert len(https.certificates) == 2
    # authenticate-oidc comes first; the listener is compared by what it ends in
    assert listener(web, 8443).default_action.describe() == "forward to admin-targets"


def test_a_v6_network_load_balancer_takes_its_region_attribute_and_weighted_forward() -> None:
    ingest = specs()["ingest"]
    assert ingest.region == "us-west-2" and ingest.scheme == "internal"
    assert ingest.type == "network" and ingest.security_groups == ()
    # no HTTP routing attribute on a network load balancer
    assert "routing.http.drop_invalid_header_fields.enabled" not in ingest.attributes
    tls = listener(ingest, 6514)
    assert tls.protocol == "TLS" and tls.ssl_policy == TLS13
    assert tls.default_action.target_groups == ("ingest-blue", "ingest-green")


def test_without_a_region_attribute_the_region_comes_from_the_arn() -> None:
    text = edited("ingest", region=None)
    assert specs(text)["ingest"].region == "us-west-2"


def test_listeners_of_a_load_balancer_in_no_state_make_a_listeners_only_spec() -> None:
    state = json.loads(FIXTURE.read_text())
    state["resources"] = [r for r in state["resources"] if r["type"] != "aws_lb"]
    built = specs(json.dumps(state))
    web = built["web-public"]
    assert str(web.source) == f"{ORIGIN}: module.edge.aws_lb_listener.http"
    assert web.scheme is None and web.security_groups is None and web.tags is None
    assert [item.port for item in web.listeners or ()] == [80, 443, 8443]


def test_a_gateway_load_balancer_and_its_listeners_are_left_out() -> None:
    text = edited("ingest", load_balancer_type="gateway")
    assert set(specs(text)) == {"web-public"}


def test_two_listeners_on_one_port_is_an_error_naming_both() -> None:
    text = edited("admin", port=443)
    errors = [str(e) for e in declare(text) if isinstance(e, SpecError)]
    assert errors == [
        f"{ORIGIN}: module.edge.aws_lb_listener.admin: port: port 443 is also"
        f" {ORIGIN}: module.edge.aws_lb_listener.https's"
    ]


def test_a_listener_without_a_terminal_action_is_an_error_that_prints_no_secret() -> None:
    state = json.loads(FIXTURE.read_text())
    admin = next(r for r in state["resources"] if r["name"] == "admin")
    actions = admin["instances"][0]["attributes"]["default_action"]
    admin["instances"][0]["attributes"]["default_action"] = actions[:1]
    out = declare(json.dumps(state))
    (error,) = [str(e) for e in out if isinstance(e, SpecError)]
    assert error == (
        f"{ORIGIN}: module.edge.aws_lb_listener.admin: default_action:"
        " no forward, redirect or fixed-response default action"
    )
    assert "s3cr3t" not in error
    # the load balancer is not declared with a listener missing
    assert all(isinstance(item, SpecError) or item.data["name"] != "web-public" for item in out)


def test_a_value_the_state_marks_sensitive_is_refused_but_the_oidc_secret_is_not_read() -> None:
    state = json.loads(FIXTURE.read_text())
    https = next(r for r in state["resources"] if r["name"] == "https")
    https["instances"][0]["sensitive_attributes"] = [[{"type": "get_attr", "value": "ssl_policy"}]]
    out = declare(json.dumps(state))
    (error,) = [str(e) for e in out if isinstance(e, SpecError)]
    assert error == (
        f"{ORIGIN}: module.edge.aws_lb_listener.https: ssl_policy: ssl_policy is marked"
        " sensitive in the state; Setpoint does not read sensitive values"
    )
    assert TLS13 not in error
    # the admin listener's sensitive client secret sits in a block the mapping never reads
    assert "s3cr3t" not in json.dumps([getattr(d, "data", {}) for d in out])
    assert not [e for e in declare(FIXTURE.read_text()) if isinstance(e, SpecError)]
    # the action the listener ends in is read, so a sensitive part of it is refused
    admin = next(r for r in state["resources"] if r["name"] == "admin")
    admin["instances"][0]["sensitive_attributes"].append(
        [
            {"type": "get_attr", "value": "default_action"},
            {"type": "index", "value": {"value": 1, "type": "number"}},
            {"type": "get_attr", "value": "target_group_arn"},
        ]
    )
    errors = [str(e) for e in declare(json.dumps(state)) if isinstance(e, SpecError)]
    assert errors[1] == (
        f"{ORIGIN}: module.edge.aws_lb_listener.admin: default_action:"
        " default_action[1].target_group_arn is marked sensitive in the state; Setpoint does"
        " not read sensitive values"
    )


def test_a_forward_without_target_groups_is_an_error() -> None:
    state = json.loads(FIXTURE.read_text())
    https = next(r for r in state["resources"] if r["name"] == "https")
    https["instances"][0]["attributes"]["default_action"][0]["target_group_arn"] = ""
    (error,) = [str(e) for e in declare(json.dumps(state)) if isinstance(e, SpecError)]
    assert error.startswith(f"{ORIGIN}: module.edge.aws_lb_listener.https: default_action:")
    assert "no target group" in error


def test_parts_from_several_states_declare_one_load_balancer() -> None:
    state = json.loads(FIXTURE.read_text())
    keep = {"aws_lb", "aws_lb_target_group"}
    network = dict(state, resources=[r for r in state["resources"] if r["type"] in keep])
    app = dict(state, resources=[r for r in state["resources"] if r["type"] not in keep])
    found: list[TfInstance] = parse_state("network/terraform.tfstate", json.dumps(network))
    found += parse_state("app/terraform.tfstate", json.dumps(app))
    assert FAMILY.terraform is not None
    out = [d for d in FAMILY.terraform().declare(found) if isinstance(d, Declared)]
    web = next(d for d in out if d.data["name"] == "web-public")
    assert web.origin == "network/terraform.tfstate: module.edge.aws_lb.this"
    assert [item["port"] for item in web.data["listeners"]] == [80, 443, 8443]


# ----------------------------------------------------------------- round trips (moto)


def build_estate(region: str, text: str) -> dict[str, str]:
    """The eu-west-1 load balancer lb.tfstate describes, made with boto3; returns the
    fixture's ids -> moto's, to write into the state."""
    ec2 = boto3.client("ec2", region_name=region)
    elbv2 = boto3.client("elbv2", region_name=region)
    acm = boto3.client("acm", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for cidr, zone in (("10.30.1.0/24", "a"), ("10.30.2.0/24", "b"))
    ]
    group = ec2.create_security_group(GroupName="web-lb", Description="lb", VpcId=vpc)["GroupId"]
    certs = [
        acm.request_certificate(DomainName=name)["CertificateArn"]
        for name in ("web.example.com", "www.example.com")
    ]
    lb = elbv2.create_load_balancer(
        Name="web-public",
        Subnets=subnets,
        SecurityGroups=[group],
        Scheme="internet-facing",
        Type="application",
        Tags=[{"Key": "team", "Value": "web"}],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb,
        Attributes=[
            {"Key": "deletion_protection.enabled", "Value": "true"},
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
        ],
    )
    groups = {
        name: elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for name in ("web-targets", "admin-targets")
    }
    elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    https = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy=TLS13,
        Certificates=[{"CertificateArn": certs[0]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["web-targets"]}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.add_listener_certificates(ListenerArn=https, Certificates=[{"CertificateArn": certs[1]}])
    elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTPS",
        Port=8443,
        SslPolicy=TLS13,
        Certificates=[{"CertificateArn": certs[0]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["admin-targets"]}],
    )
    state = json.loads(text)
    by_name = {r["name"]: r["instances"][0]["attributes"] for r in state["resources"]}
    return {
        by_name["this"]["security_groups"][0]: group,
        by_name["https"]["certificate_arn"]: certs[0],
        by_name["extra"]["certificate_arn"]: certs[1],
    }


@pytest.fixture
def estate(aws: None) -> tuple[Any, str]:
    """moto's account and the eu-west-1 part of lb.tfstate, its ids replaced by moto's."""
    state = json.loads(FIXTURE.read_text())
    state["resources"] = [r for r in state["resources"] if "ingest" not in r["name"]]
    text = json.dumps(state, indent=2)
    for fixture_id, moto_id in build_estate("eu-west-1", text).items():
        text = text.replace(fixture_id, moto_id)
    return boto3.client("elbv2", region_name="eu-west-1"), text


def check(text: str) -> Any:
    catalog = build_catalog([declared_file("terraform:edge", declare(text))])
    pipeline = build_load_balancer_pipeline(ClientCache())
    (finding,) = pipeline.sweep(
        catalog, ACCOUNT, ["eu-west-1"], frozenset({LOAD_BALANCER})
    ).findings
    return finding


def test_round_trip_the_load_balancer_the_state_describes_is_in_sync(
    estate: tuple[Any, str],
) -> None:
    finding = check(estate[1])
    assert finding.name == "web-public"
    assert (finding.status, finding.changes) == (Status.IN_SYNC, ())


def test_round_trip_a_tls_downgrade_and_a_listener_added_by_hand_are_drift(
    estate: tuple[Any, str],
) -> None:
    elbv2, text = estate
    (lb,) = elbv2.describe_load_balancers(Names=["web-public"])["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    https = next(item for item in listeners if item["Port"] == 443)
    elbv2.modify_listener(ListenerArn=https["ListenerArn"], SslPolicy="ELBSecurityPolicy-2016-08")
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=8080,
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": https["DefaultActions"][0]["TargetGroupArn"]}
        ],
    )
    finding = check(text)
    assert finding.status is Status.DRIFTED
    assert finding.spec == f"{ORIGIN}: module.edge.aws_lb.this"
    summaries = " | ".join(change.summary for change in finding.changes)
    assert "ELBSecurityPolicy-2016-08 allows TLS 1.0-1.2" in summaries
    assert f"in spec: {TLS13}" in summaries
    assert "listener HTTP:8080 (forward to web-targets) — not in spec" in summaries


def test_round_trip_through_check_specs_terraform_dir(
    estate: tuple[Any, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elbv2, text = estate
    (tmp_path / "edge").mkdir()
    (tmp_path / "edge" / "lb.tfstate").write_text(text)
    args = ["check", "--specs", f"terraform:{tmp_path}", "--region", "eu-west-1"]
    args += ["--kinds", "load_balancer", "--format", "json"]
    capsys.readouterr()
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []

    (lb,) = elbv2.describe_load_balancers(Names=["web-public"])["LoadBalancers"]
    elbv2.set_security_groups(LoadBalancerArn=lb["LoadBalancerArn"], SecurityGroups=[])
    assert main(args) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["spec"] == f"{ORIGIN}: module.edge.aws_lb.this"
    assert "security group" in finding["changes"][0]["summary"]
