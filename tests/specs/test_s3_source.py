"""Specs from S3 (moto): prefix and bundle loading, ETag caching, and S3 failures."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from chalicelib.errors import ConfigError, SpecSetError
from chalicelib.specs.s3_source import S3SpecSource, parse_s3_uri

BUCKET = "setpoint-specs"


def sg(name: str, extra: str = "") -> str:
    return f"kind: security_group\nname: {name}\n{extra}"


class Calls(Counter[str]):
    """Counts S3 API calls as the client makes them (before moto answers)."""

    def __call__(self, model: Any, **_: Any) -> None:
        self[model.name] += 1


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def calls(s3: Any) -> Calls:
    counter = Calls()
    s3.meta.events.register("before-call.s3", counter)
    return counter


def put(s3: Any, key: str, body: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def test_loads_yaml_under_the_prefix_only(s3: Any):
    put(s3, "specs/sg/web.yaml", sg("web"))
    put(s3, "specs/sg/db.yml", sg("db") + "---\n" + sg("cache"))
    put(s3, "specs/README.md", "not a spec")
    put(s3, "specs-old/web.yaml", "kind: [")
    put(s3, "other/web.yaml", sg("other"))
    catalog = S3SpecSource(s3, f"s3://{BUCKET}/specs").load()
    assert sorted(s.name or "" for s in catalog.security_groups) == ["cache", "db", "web"]
    assert catalog.files == (f"s3://{BUCKET}/specs/sg/db.yml", f"s3://{BUCKET}/specs/sg/web.yaml")


def test_second_load_lists_once_and_gets_nothing(s3: Any, calls: Calls):
    put(s3, "specs/web.yaml", sg("web"))
    put(s3, "specs/db.yaml", sg("db"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs/")
    calls.clear()
    first = source.load()
    assert calls == {"ListObjectsV2": 1, "GetObject": 2}
    calls.clear()
    second = source.load()
    assert calls == {"ListObjectsV2": 1}
    assert second is first  # unchanged ETags: the same catalog, not rebuilt
    assert (source.last_stats.list_calls, source.last_stats.get_calls) == (1, 0)
    assert source.last_stats.reused == 2


def test_changed_object_is_refetched_and_deleted_one_dropped(s3: Any, calls: Calls):
    put(s3, "specs/web.yaml", sg("web"))
    put(s3, "specs/db.yaml", sg("db"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    source.load()
    put(s3, "specs/web.yaml", sg("web", "description: changed\n"))
    s3.delete_object(Bucket=BUCKET, Key="specs/db.yaml")
    calls.clear()
    catalog = source.load()
    assert calls == {"ListObjectsV2": 1, "GetObject": 1}
    (web,) = catalog.security_groups
    assert web.description == "changed"
    assert source.last_stats.dropped == 1


def test_invalid_spec_names_the_object_and_line_and_stays_cached(s3: Any, calls: Calls):
    put(s3, "specs/web.yaml", sg("web", "ingress:\n  - proto: tcp\n    ports: 70000\n"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    for _ in range(2):
        with pytest.raises(SpecSetError) as caught:
            source.load()
        (error,) = caught.value.errors
        assert (error.file, error.line) == (f"s3://{BUCKET}/specs/web.yaml", 5)
    assert calls["GetObject"] == 1


def test_bundle_object(s3: Any, calls: Calls):
    bundle = {
        "format_version": "1",
        "specs": {
            "policies/security_groups/web.yaml": sg("web"),
            "policies/security_groups/db.yaml": sg("db", "egress: []\n"),
        },
    }
    put(s3, "bundles/specs.json", json.dumps(bundle))
    put(s3, "bundles/specs.json.bak", "{}")
    source = S3SpecSource(s3, f"s3://{BUCKET}/bundles/specs.json")
    catalog = source.load()
    assert [str(s.source) for s in catalog.security_groups] == [
        "policies/security_groups/db.yaml:1",
        "policies/security_groups/web.yaml:1",
    ]
    calls.clear()
    assert source.load() == catalog
    assert calls == {"ListObjectsV2": 1}


def test_single_yaml_object(s3: Any):
    put(s3, "one/web.yaml", sg("web"))
    put(s3, "one/web.yaml.orig", sg("orig"))
    (spec,) = S3SpecSource(s3, f"s3://{BUCKET}/one/web.yaml").load().security_groups
    assert spec.name == "web"


def test_bad_bundle_version(s3: Any):
    put(s3, "b.json", json.dumps({"format_version": "9", "specs": {}}))
    with pytest.raises(SpecSetError, match="format_version"):
        S3SpecSource(s3, f"s3://{BUCKET}/b.json").load()


def test_missing_single_object(s3: Any):
    with pytest.raises(ConfigError, match="does not exist"):
        S3SpecSource(s3, f"s3://{BUCKET}/nope.json").load()


def test_no_such_bucket(s3: Any):
    with pytest.raises(ConfigError) as caught:
        S3SpecSource(s3, "s3://no-such-bucket-here/specs").load()
    assert "no-such-bucket-here" in str(caught.value)
    assert "NoSuchBucket" in str(caught.value)


def test_access_denied():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_client_error("list_objects_v2", "AccessDenied", "no", 403)
        with pytest.raises(ConfigError) as caught:
            S3SpecSource(client, f"s3://{BUCKET}/specs").load()
    assert BUCKET in str(caught.value) and "AccessDenied" in str(caught.value)


def test_pages_are_all_read():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_response(
            "list_objects_v2",
            {
                "Contents": [{"Key": "p/a.yaml", "ETag": '"1"'}],
                "IsTruncated": True,
                "NextContinuationToken": "t",
            },
            {"Bucket": BUCKET, "Prefix": "p/"},
        )
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "p/b.yaml", "ETag": '"2"'}], "IsTruncated": False},
            {"Bucket": BUCKET, "Prefix": "p/", "ContinuationToken": "t"},
        )
        for key, name in (("p/a.yaml", "a"), ("p/b.yaml", "b")):
            stub.add_response(
                "get_object",
                {"Body": _Body(sg(name).encode()), "ETag": '"x"'},
                {"Bucket": BUCKET, "Key": key},
            )
        source = S3SpecSource(client, f"s3://{BUCKET}/p")
        catalog = source.load()
    assert [s.name for s in catalog.security_groups] == ["a", "b"]
    assert source.last_stats.list_calls == 2


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


@pytest.mark.parametrize(
    "uri", ["https://bucket/specs", "s3://", "s3://Bad_Bucket/x", "specs/", "s3:/b/x"]
)
def test_bad_uri(uri: str):
    with pytest.raises(ConfigError):
        parse_s3_uri(uri)
