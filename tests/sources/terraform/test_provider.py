"""`terraform:PATH`: a file, a directory of states, or s3://B/P with workspace keys."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from chalicelib.aws import ClientCache
from chalicelib.cli.main import main
from chalicelib.errors import ConfigError, SpecSetError
from chalicelib.sources.provider import sources_provider
from chalicelib.sources.terraform.provider import S3States, TerraformProvider, terraform_provider

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "terraform"
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def _state(*resources: dict[str, Any]) -> str:
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.9.8",
            "serial": 1,
            "lineage": "x",
            "outputs": {},
            "resources": list(resources),
        }
    )


def _group(name: str, group_id: str, region: str = "eu-west-1") -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "id": group_id,
        "name": name,
        "description": name,
        "vpc_id": "vpc-0abc",
        "arn": f"arn:aws:ec2:{region}:123456789012:security-group/{group_id}",
        "ingress": [],
        "egress": [],
        "tags": None,
    }
    return {
        "mode": "managed",
        "type": "aws_security_group",
        "name": name,
        "provider": AWS,
        "instances": [{"schema_version": 1, "attributes": attributes}],
    }


@pytest.fixture
def states(tmp_path: Path) -> Path:
    root = tmp_path / "live"
    shutil.copytree(FIXTURES / "network", root / "network")
    shutil.copytree(FIXTURES / "storage", root / "storage")
    hidden = root / "network" / ".terraform"
    hidden.mkdir()
    (hidden / "terraform.tfstate").write_text("the backend's own copy, not a state we read")
    return root


def _kinds(catalog: Any) -> dict[str, int]:
    return {kind: len(catalog.specs_of(kind)) for kind in catalog.kinds}


def test_a_directory_reads_every_state_below_it_sorted_and_shown_relative(states: Path) -> None:
    catalog = sources_provider(f"terraform:{states}", ClientCache())()
    assert catalog.files == ("network/terraform.tfstate", "storage/terraform.tfstate")
    assert _kinds(catalog) == {"security_group": 3, "s3_bucket": 2}
    sources = {str(spec.source) for kind in catalog.kinds for spec in catalog.specs_of(kind)}
    assert "storage/terraform.tfstate: aws_s3_bucket.logs" in sources


def test_one_state_file_is_shown_as_given(states: Path) -> None:
    path = states / "storage" / "terraform.tfstate"
    catalog = terraform_provider(str(path), ClientCache())()
    assert catalog.files == (path.as_posix(),)


def test_an_unchanged_directory_is_not_parsed_again(states: Path) -> None:
    provider = terraform_provider(str(states), ClientCache())
    first = provider()
    assert provider() is first
    (states / "extra.tfstate").write_text(_state(_group("web", "sg-0123")))
    again = provider()
    assert again is not first and len(again.specs_of("security_group")) == 4


def test_a_reload_checks_only_documents_that_changed(
    states: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.sources.terraform import provider as module

    checked: list[str] = []
    real = module.declared_file

    def counting(name: str, items: Any) -> Any:
        items = list(items)
        checked.extend(item.origin for item in items)
        return real(name, items)

    monkeypatch.setattr(module, "declared_file", counting)
    provider = terraform_provider(str(states), ClientCache())
    provider()
    assert len(checked) == 5
    checked.clear()
    (states / "extra.tfstate").write_text(_state(_group("web", "sg-0123")))
    assert len(provider().specs_of("security_group")) == 4
    assert checked == ["extra.tfstate: aws_security_group.web"]


def test_an_unreadable_state_is_an_error_naming_it_and_the_others_errors_come_too(
    states: Path,
) -> None:
    (states / "broken.tfstate").write_text('{"version": 4, "resources": [')
    (states / "old.tfstate").write_text('{"version": 3, "modules": []}')
    with pytest.raises(SpecSetError) as raised:
        terraform_provider(str(states), ClientCache())()
    shown = [str(error) for error in raised.value.errors]
    assert shown[0].startswith("broken.tfstate:1: not a Terraform state (JSON:")
    assert shown[1].startswith("old.tfstate: version: Terraform state format 3")


def test_a_group_in_a_state_and_in_a_spec_directory_names_both(
    states: Path, tmp_path: Path
) -> None:
    specs = tmp_path / "policies"
    specs.mkdir()
    (specs / "lb.yaml").write_text("kind: security_group\ngroup_id: sg-009cf1dbfc71a52ad\n")
    with pytest.raises(SpecSetError) as raised:
        sources_provider([f"terraform:{states}", str(specs)], ClientCache())()
    (error,) = raised.value.errors
    assert str(error).startswith(f"{specs}/lb.yaml:1")
    assert "network/terraform.tfstate: module.vpc.aws_security_group.lb" in str(error)


def test_validate_sums_up_what_a_state_directory_declares(
    states: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--specs", f"terraform:{states}"]) == 0
    out = capsys.readouterr().out
    assert out == f"terraform:{states}: 5 resource(s) valid (3 security_group, 2 s3_bucket)\n"


def test_validate_lists_the_types_no_kind_reads(
    states: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def resource(kind: str, name: str, mode: str = "managed") -> dict[str, Any]:
        instance = {"schema_version": 1, "attributes": {"id": f"{kind}-{name}"}}
        return {
            "mode": mode,
            "type": kind,
            "name": name,
            "provider": AWS,
            "instances": [instance],
        }

    (states / "compute").mkdir()
    (states / "compute" / "terraform.tfstate").write_text(
        _state(
            resource("aws_vpc", "main"),
            resource("aws_vpc", "edge"),
            resource("aws_instance", "web"),
            resource("aws_ami", "ubuntu", mode="data"),  # data sources declare nothing
        )
    )
    assert main(["validate", "--specs", f"terraform:{states}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"terraform:{states}: 5 resource(s) valid (3 security_group, 2 s3_bucket)",
        "  not read: 1 aws_instance, 2 aws_vpc (types no Setpoint kind reads)",
    ]


def test_a_missing_path_or_a_directory_without_states_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        terraform_provider(str(tmp_path / "nope"), ClientCache())
    with pytest.raises(ConfigError, match=r"no \*.tfstate file"):
        terraform_provider(str(tmp_path), ClientCache())()


def test_sensitive_values_never_reach_an_error(tmp_path: Path) -> None:
    group = _group("web", "sg-0123")
    instance = group["instances"][0]
    instance["attributes"]["ingress"] = [
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["203.0.113.77/32"]}
    ]
    instance["sensitive_attributes"] = [[{"type": "get_attr", "value": "ingress"}]]
    (tmp_path / "s.tfstate").write_text(_state(group))
    with pytest.raises(SpecSetError) as raised:
        terraform_provider(str(tmp_path), ClientCache())()
    assert "203.0.113.77" not in str(raised.value) and "sensitive" in str(raised.value)


# --- s3://BUCKET/PREFIX ----------------------------------------------------------------


def _put(s3: Any, key: str, text: str) -> None:
    s3.put_object(Bucket="acme-tfstate", Key=key, Body=text.encode())


@pytest.fixture
def bucket(aws: None) -> Any:
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="acme-tfstate", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    _put(s3, "network/terraform.tfstate", _state(_group("web", "sg-0a1")))
    # `terraform workspace new staging` with the S3 backend's default workspace_key_prefix
    _put(s3, "env:/staging/network/terraform.tfstate", _state(_group("web", "sg-0b2")))
    _put(s3, "network/terraform.tfstate.tflock", '{"ID": "lock"}')  # S3 native locking
    _put(s3, "other/terraform.tfstate", _state(_group("db", "sg-0c3")))
    _put(s3, "env:/staging/other/terraform.tfstate", _state(_group("db", "sg-0d4")))
    return s3


def test_an_s3_prefix_reads_its_states_and_their_workspace_copies(bucket: Any) -> None:
    catalog = sources_provider("terraform:s3://acme-tfstate/network", ClientCache())()
    assert catalog.files == (
        "env:/staging/network/terraform.tfstate",
        "network/terraform.tfstate",
    )
    sources = sorted(str(spec.source) for spec in catalog.specs_of("security_group"))
    assert sources == [
        "env:/staging/network/terraform.tfstate: aws_security_group.web",
        "network/terraform.tfstate: aws_security_group.web",
    ]


def test_one_state_key_and_its_workspace_copies_but_not_a_sibling_folder(bucket: Any) -> None:
    _put(bucket, "network-old/terraform.tfstate", _state(_group("old", "sg-0f6")))
    single = sources_provider("terraform:s3://acme-tfstate/other/terraform.tfstate", ClientCache())
    assert single().files == ("env:/staging/other/terraform.tfstate", "other/terraform.tfstate")
    folder = sources_provider("terraform:s3://acme-tfstate/network", ClientCache())()
    assert "network-old/terraform.tfstate" not in folder.files


def test_a_warm_provider_fetches_only_the_states_that_changed(bucket: Any) -> None:
    provider = terraform_provider("s3://acme-tfstate/", ClientCache())
    assert isinstance(provider, TerraformProvider) and isinstance(provider.states, S3States)
    first = provider()
    assert provider.states.last_stats.get_calls == 4
    assert provider() is first
    assert provider.states.last_stats.get_calls == 0
    assert provider.states.last_stats.reused == 4
    _put(bucket, "env:/staging/other/terraform.tfstate", _state(_group("db2", "sg-0e5")))
    changed = provider()
    assert provider.states.last_stats.get_calls == 1
    names = {spec.name for spec in changed.specs_of("security_group")}
    assert names == {"web", "db", "db2"}


def test_an_empty_prefix_and_a_missing_bucket_are_config_errors(bucket: Any) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.tfstate object"):
        terraform_provider("s3://acme-tfstate/nothing-here", ClientCache())()
    with pytest.raises(ConfigError, match="NoSuchBucket"):
        terraform_provider("s3://no-such-bucket-here/x", ClientCache())()


def test_the_listing_follows_continuation_tokens() -> None:
    # moto pages at 1,000 keys; two short pages need botocore's Stubber
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    page = {"Bucket": "b-states", "Prefix": "net/"}
    stubber.add_response(
        "list_objects_v2",
        {
            "IsTruncated": True,
            "NextContinuationToken": "t1",
            "Contents": [{"Key": "net/a.tfstate", "ETag": '"1"'}],
        },
        page,
    )
    stubber.add_response(
        "list_objects_v2",
        {"IsTruncated": False, "Contents": [{"Key": "net/b.tfstate", "ETag": '"2"'}]},
        {**page, "ContinuationToken": "t1"},
    )
    stubber.add_response(
        "list_objects_v2",
        {"IsTruncated": False, "Contents": []},
        {"Bucket": "b-states", "Prefix": "env:/"},
    )
    for key, name, group_id in (("net/a.tfstate", "a", "sg-0a"), ("net/b.tfstate", "b", "sg-0b")):
        body = _state(_group(name, group_id)).encode()
        stubber.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ETag": '"x"'},
            {"Bucket": "b-states", "Key": key},
        )
    with stubber:
        provider = TerraformProvider(
            "s3://b-states/net", S3States(lambda: client, "s3://b-states/net")
        )
        catalog = provider()
    assert catalog.files == ("net/a.tfstate", "net/b.tfstate")
    assert isinstance(provider.states, S3States) and provider.states.last_stats.list_calls == 3
