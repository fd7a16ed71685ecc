"""`setpoint push` against moto: validate first, one bundle object, versions, no-op re-push."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.cli.push import HASH_METADATA
from tests.conftest import REGION

BUCKET = "setpoint-specs-123456789012-dev"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example specs, pushed from a working directory as a repository would."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "policies"
    for source in (ROOT / "policies").rglob("*.yaml"):
        dest = target / source.relative_to(ROOT / "policies")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def versions(s3: Any) -> list[dict[str, Any]]:
    return list(s3.list_object_versions(Bucket=BUCKET).get("Versions", []))


def test_push_uploads_one_bundle_with_hash_and_prints_the_version(
    s3: Any, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", "--specs", "policies", "--to", f"s3://{BUCKET}/policies"]) == 0
    out = capsys.readouterr().out
    (version,) = versions(s3)
    assert version["Key"] == "policies/bundle.json"
    assert version["VersionId"] in out
    head = s3.head_object(Bucket=BUCKET, Key="policies/bundle.json")
    body = json.loads(s3.get_object(Bucket=BUCKET, Key="policies/bundle.json")["Body"].read())
    assert head["Metadata"][HASH_METADATA] == body["content_hash"]
    assert body["content_hash"] in out
    assert body["format_version"] == "1"
    # entries keep their repository paths, so findings name the file in the user's repo
    assert "policies/security_groups/web.yaml" in body["specs"]
    assert body["specs"]["policies/security_groups/web.yaml"] == (
        specs / "security_groups" / "web.yaml"
    ).read_text(encoding="utf-8")
    assert len(body["specs"]) == len(list(specs.rglob("*.yaml")))


def test_pushing_the_same_specs_again_uploads_nothing(
    s3: Any, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"s3://{BUCKET}/policies"
    assert main(["push", "--specs", "policies", "--to", target]) == 0
    first = versions(s3)[0]["VersionId"]
    capsys.readouterr()
    assert main(["push", "--specs", "policies", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out and first in out
    assert len(versions(s3)) == 1


def test_a_changed_spec_makes_a_new_version(
    s3: Any, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = f"s3://{BUCKET}/policies"
    assert main(["push", "--specs", "policies", "--to", target]) == 0
    web = specs / "security_groups" / "web.yaml"
    web.write_text(web.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    assert main(["push", "--specs", "policies", "--to", target]) == 0
    assert len(versions(s3)) == 2
    hashes = {
        s3.head_object(Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])["Metadata"][
            HASH_METADATA
        ]
        for v in versions(s3)
    }
    assert len(hashes) == 2


def test_an_invalid_spec_uploads_nothing_and_names_file_line_field(
    s3: Any, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = specs / "security_groups" / "broken.yaml"
    bad.write_text(
        "kind: security_group\nname: broken\ningress:\n  - proto: tcp\n    ports: 99999\n"
        "    cidr: 0.0.0.0/0\n",
        encoding="utf-8",
    )
    assert main(["push", "--specs", "policies", "--to", f"s3://{BUCKET}/policies"]) == 2
    err = capsys.readouterr().err
    assert "policies/security_groups/broken.yaml:5" in err
    assert "ports" in err
    assert versions(s3) == []


def test_an_empty_folder_is_refused(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(["push", "--specs", "empty", "--to", f"s3://{BUCKET}/policies"]) == 2
    assert "no spec files" in capsys.readouterr().err
    assert versions(s3) == []


def test_a_json_target_names_the_object(s3: Any, specs: Path) -> None:
    assert main(["push", "--specs", "policies", "--to", f"s3://{BUCKET}/prod/specs.json"]) == 0
    assert [v["Key"] for v in versions(s3)] == ["prod/specs.json"]


def test_a_missing_bucket_is_an_error_not_a_crash(
    aws: None, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", "--specs", "policies", "--to", "s3://no-such-bucket-here/p"]) == 2
    assert "NoSuchBucket" in capsys.readouterr().err


def test_an_unversioned_bucket_says_old_bundles_are_not_kept(
    aws: None, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="plain", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert main(["push", "--specs", "policies", "--to", "s3://plain/p"]) == 0
    assert "versioning is off" in capsys.readouterr().out


def _account_with_one_group() -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )


def test_round_trip_push_then_check_reads_the_bundle(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _account_with_one_group()
    assert main(["import", "--out", "live", "--region", REGION, "--kinds", "security_group"]) == 0
    assert main(["push", "--specs", "live", "--to", f"s3://{BUCKET}/live"]) == 0
    capsys.readouterr()
    uri = f"s3://{BUCKET}/live/bundle.json"
    code = main(["check", "--specs", uri, "--region", REGION, "--kinds", "security_group"])
    out = capsys.readouterr().out
    assert code == 0, out
    # and the bundle really is what check compared with: an unapproved rule is drift
    ec2 = boto3.client("ec2", region_name=REGION)
    (group,) = [
        g["GroupId"]
        for g in ec2.describe_security_groups()["SecurityGroups"]
        if g["GroupName"] == "api"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    code = main(
        [
            "check",
            "--specs",
            uri,
            "--region",
            REGION,
            "--kinds",
            "security_group",
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["spec"].startswith("live/security_groups/")


def test_check_with_the_same_uri_as_push_reads_the_bundle(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    _account_with_one_group()
    assert main(["import", "--out", "live", "--region", REGION, "--kinds", "security_group"]) == 0
    assert main(["push", "--specs", "live", "--to", f"s3://{BUCKET}/live"]) == 0
    # s3_source reads <prefix>/bundle.json as well as *.yaml: push and check take one URI
    uri = f"s3://{BUCKET}/live"
    assert main(["check", "--specs", uri, "--region", REGION, "--kinds", "security_group"]) == 0


def test_a_missing_bucket_names_the_bucket_and_the_call(
    aws: None, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", "--specs", "policies", "--to", "s3://no-such-bucket-here/p"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: s3://no-such-bucket-here/p/bundle.json: ")
    assert "NoSuchBucket" in err and len(err.splitlines()) == 1


def test_suspended_versioning_is_said_as_such(
    aws: None, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="paused", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="paused", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket="paused", VersioningConfiguration={"Status": "Suspended"})
    assert main(["push", "--specs", "policies", "--to", "s3://paused/p"]) == 0
    assert "versioning is suspended" in capsys.readouterr().out


def test_enabled_versioning_keeps_earlier_bundles(
    s3: Any, specs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["push", "--specs", "policies", "--to", f"s3://{BUCKET}/p"]) == 0
    assert "earlier bundles are kept" in capsys.readouterr().out
