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
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.specs.s3_source import S3SpecProvider, S3SpecSource, parse_s3_uri

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
    assert sorted(s.name or "" for s in catalog.specs_of(SECURITY_GROUP)) == ["cache", "db", "web"]
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
    (web,) = catalog.specs_of(SECURITY_GROUP)
    assert web.description == "changed"
    assert source.last_stats.dropped == 1


def test_invalid_spec_names_the_object_and_line_and_stays_cached(s3: Any, calls: Calls):
    rule = "ingress:\n  - proto: tcp\n    ports: 70000\n    cidr: 10.0.0.0/8\n"
    put(s3, "specs/web.yaml", sg("web", rule))
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
    assert [str(s.source) for s in catalog.specs_of(SECURITY_GROUP)] == [
        "policies/security_groups/db.yaml:1",
        "policies/security_groups/web.yaml:1",
    ]
    calls.clear()
    assert source.load() == catalog
    assert calls == {"ListObjectsV2": 1}


def test_single_yaml_object(s3: Any):
    put(s3, "one/web.yaml", sg("web"))
    put(s3, "one/web.yaml.orig", sg("orig"))
    (spec,) = S3SpecSource(s3, f"s3://{BUCKET}/one/web.yaml").load().specs_of(SECURITY_GROUP)
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
    assert [s.name for s in catalog.specs_of(SECURITY_GROUP)] == ["a", "b"]
    assert source.last_stats.list_calls == 2


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, amt: int | None = None) -> bytes:  # as botocore's StreamingBody
        return self.data if amt is None else self.data[:amt]


@pytest.mark.parametrize(
    "uri", ["https://bucket/specs", "s3://", "s3://Bad_Bucket/x", "specs/", "s3:/b/x"]
)
def test_bad_uri(uri: str):
    with pytest.raises(ConfigError):
        parse_s3_uri(uri)


# --- earlier versions, for the spec-change handler ----------------------------------------


@pytest.fixture
def versioned(s3: Any) -> Any:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def put_version(s3: Any, key: str, body: str) -> str:
    return str(s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())["VersionId"])


def test_earlier_versions_newest_first(versioned: Any):
    key = "specs/web.yaml"
    put_version(versioned, key, sg("v1"))
    put_version(versioned, key, sg("v2"))
    third = put_version(versioned, key, sg("v3"))
    put_version(versioned, "specs/web.yaml.bak", sg("other"))  # shares the prefix
    source = S3SpecSource(versioned, f"s3://{BUCKET}/specs")

    assert list(source.previous_bodies(key, third)) == [sg("v2").encode(), sg("v1").encode()]
    assert list(source.previous_bodies(key, third, limit=1)) == [sg("v2").encode()]


def test_a_new_object_had_nothing_earlier(versioned: Any):
    source = S3SpecSource(versioned, f"s3://{BUCKET}/specs")
    first = put_version(versioned, "specs/db.yaml", sg("db"))
    assert list(source.previous_bodies("specs/db.yaml", first)) == [None]


def test_without_a_listed_version_the_history_cannot_be_told(versioned: Any):
    source = S3SpecSource(versioned, f"s3://{BUCKET}/specs")
    put_version(versioned, "specs/web.yaml", sg("web"))

    for version in (None, "null", "not-a-version-of-it"):
        with pytest.raises(ConfigError):
            list(source.previous_bodies("specs/web.yaml", version))


def test_history_across_pages_with_a_delete_marker_between():
    """Real S3 pages ListObjectVersions (moto answers in one page): merge both lists by time."""
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    key = "p/bundle.json"
    at = __import__("datetime").datetime

    def version(vid: str, minute: int) -> dict[str, Any]:
        return {"Key": key, "VersionId": vid, "LastModified": at(2026, 1, 1, 0, minute)}

    with Stubber(client) as stub:
        stub.add_response(
            "list_object_versions",
            {
                "Versions": [version("v4", 4), version("v3", 3)],
                "DeleteMarkers": [version("d2", 2)],
                "IsTruncated": True,
                "NextKeyMarker": key,
                "NextVersionIdMarker": "v3",
            },
            {"Bucket": BUCKET, "Prefix": key},
        )
        stub.add_response(
            "list_object_versions",
            {"Versions": [version("v1", 1)], "IsTruncated": False},
            {"Bucket": BUCKET, "Prefix": key, "KeyMarker": key, "VersionIdMarker": "v3"},
        )
        stub.add_response(
            "get_object",
            {"Body": __import__("io").BytesIO(b"three")},
            {"Bucket": BUCKET, "Key": key, "VersionId": "v3"},
        )
        source = S3SpecSource(client, f"s3://{BUCKET}/{key}")
        # v4's predecessor is v3; v3's is a delete marker: nothing before it counts
        assert list(source.previous_bodies(key, "v4")) == [b"three", None]


def test_a_deletion_in_the_same_second_as_a_version_is_not_guessed():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    key = "p/bundle.json"
    moment = __import__("datetime").datetime(2026, 1, 1, 0, 0, 5)
    with Stubber(client) as stub:
        stub.add_response(
            "list_object_versions",
            {
                "Versions": [
                    {"Key": key, "VersionId": "v2", "LastModified": moment},
                    {"Key": key, "VersionId": "v1", "LastModified": moment},
                ],
                "DeleteMarkers": [{"Key": key, "VersionId": "d", "LastModified": moment}],
                "IsTruncated": False,
            },
            {"Bucket": BUCKET, "Prefix": key},
        )
        source = S3SpecSource(client, f"s3://{BUCKET}/{key}")
        with pytest.raises(ConfigError, match="cannot be ordered"):
            list(source.previous_bodies(key, "v2"))


def test_listing_versions_denied_is_a_config_error():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stub:
        stub.add_client_error("list_object_versions", "AccessDenied", "no", 403)
        source = S3SpecSource(client, f"s3://{BUCKET}/p/bundle.json")
        with pytest.raises(ConfigError) as caught:
            list(source.previous_bodies("p/bundle.json", "v1"))
    assert "list versions of" in str(caught.value) and "AccessDenied" in str(caught.value)


def test_catalog_with_one_object_replaced_or_removed(s3: Any):
    put(s3, "specs/web.yaml", sg("web"))
    put(s3, "specs/db.yaml", sg("db"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    source.load()

    replaced = source.catalog_with("specs/web.yaml", sg("web-old").encode())
    assert sorted(s.name or "" for s in replaced.specs_of(SECURITY_GROUP)) == ["db", "web-old"]
    removed = source.catalog_with("specs/web.yaml", None)
    assert [s.name for s in removed.specs_of(SECURITY_GROUP)] == ["db"]
    with pytest.raises(SpecSetError):
        source.catalog_with("specs/web.yaml", b"kind: [")


def test_last_catalog_is_the_last_that_loaded(s3: Any):
    put(s3, "specs/web.yaml", sg("web"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    assert source.last_catalog is None
    good = source.load()
    put(s3, "specs/web.yaml", "kind: [")
    with pytest.raises(SpecSetError):
        source.load()
    assert source.last_catalog is good


def test_owns_only_spec_objects_under_the_location(s3: Any):
    folder = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    bundle = S3SpecSource(s3, f"s3://{BUCKET}/policies/bundle.json")

    assert folder.owns("specs/sg/web.yaml") and folder.owns("specs/db.yml")
    assert not folder.owns("specs/README.md") and not folder.owns("specs-old/web.yaml")
    assert bundle.owns("policies/bundle.json")
    assert not bundle.owns("policies/bundle.json.bak") and not bundle.owns("policies/x.yaml")


def test_provider_makes_its_source_on_first_use(s3: Any):
    made: list[int] = []

    def make() -> Any:
        made.append(1)
        return s3

    put(s3, "specs/web.yaml", sg("web"))
    provider = S3SpecProvider(make, f"s3://{BUCKET}/specs")
    assert made == []
    assert [s.name for s in provider().specs_of(SECURITY_GROUP)] == ["web"]
    provider()
    assert made == [1] and provider.source.last_catalog is not None
    # a malformed location fails on use, like any spec error (the sweep reports it)
    with pytest.raises(ConfigError):
        S3SpecProvider(make, "s3://Not_A_Bucket/specs")()


def test_a_folder_also_loads_the_bundle_push_writes_into_it(s3: Any):
    bundle = {"format_version": "1", "specs": {"policies/sg/web.yaml": sg("web")}}
    put(s3, "live/bundle.json", json.dumps(bundle))
    put(s3, "live/extra/db.yaml", sg("db"))
    put(s3, "live/extra/notes.json", "{}")  # only the folder's own bundle.json is one

    catalog = S3SpecSource(s3, f"s3://{BUCKET}/live").load()

    assert sorted(s.name or "" for s in catalog.specs_of(SECURITY_GROUP)) == ["db", "web"]
    assert "policies/sg/web.yaml" in catalog.files


def test_the_version_moves_with_every_push_or_deletion_and_only_then(s3: Any):
    """What the sweep narrows its actor lookups by: the same listing, the same version."""
    put(s3, "specs/web.yaml", sg("web"))
    put(s3, "specs/db.yaml", sg("db"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    first = source.load().version
    assert first is not None and first.startswith("sha256:")
    assert source.load().version == first
    assert S3SpecSource(s3, f"s3://{BUCKET}/specs").load().version == first  # another container
    put(s3, "specs/web.yaml", sg("web", "description: web\n"))
    pushed = source.load().version
    s3.delete_object(Bucket=BUCKET, Key="specs/db.yaml")  # no object newer than before
    deleted = source.load().version
    assert len({first, pushed, deleted}) == 3


def test_an_oversized_spec_pushed_later_is_an_error_not_the_old_catalog(s3: Any, calls: Calls):
    """Listed over the per-file budget, the new object is never fetched; the set must
    still fail naming it, not keep answering with the catalog from before it came."""
    from chalicelib.specs.budgets import MAX_SPEC_FILE_BYTES

    put(s3, "specs/web.yaml", sg("web"))
    source = S3SpecSource(s3, f"s3://{BUCKET}/specs")
    source.load()
    padding = "# " + "x" * 100 + "\n"
    put(s3, "specs/huge.yaml", sg("huge") + padding * (MAX_SPEC_FILE_BYTES // len(padding) + 1))
    calls.clear()
    with pytest.raises(SpecSetError) as caught:
        source.load()
    assert calls["GetObject"] == 0
    (error,) = caught.value.errors
    assert error.file == f"s3://{BUCKET}/specs/huge.yaml"
    assert "over the budget" in error.message
