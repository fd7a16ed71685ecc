"""The event path over a pushed bundle with its index (moto): one event, its specs only.

Requests are counted with a botocore `before-call` hook on the session the runtime's
clients come from, as benchmarks/bench_events.py counts them. The warm check is the one
ListObjectsV2 the event path always made; S3 answers it the same way on moto and AWS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.aws import ClientCache
from chalicelib.cli.push import HASH_METADATA, push_bundle
from chalicelib.errors import SpecSetError
from chalicelib.handlers import handle_cloudtrail_event
from chalicelib.runtime import Runtime, spec_provider
from chalicelib.specs.bundle import SpecBundle, indexed_bundle, make_bundle
from chalicelib.specs.s3_source import content_hash
from chalicelib.specs.signing import KmsSigner
from tests.conftest import REGION, authorize_record, make_vpc_with_web
from tests.runtime_builder import build_runtime

BUCKET = "setpoint-specs-index"
KEY = "policies/bundle.json"
ACCOUNT = "123456789012"
CATALOG = 10_000
BROKEN = "policies/security_groups/svc-00005.yaml"
WEB = "policies/security_groups/web.yaml"


def filler(index: int) -> str:
    return (
        f"kind: security_group\nname: svc-{index:05d}\nregion: {REGION}\n"
        "ingress:\n  - proto: tcp\n    ports: 443\n    cidr: 10.0.0.0/8\n"
    )


def web_spec(*ports: int, scope: str = "name: web") -> str:
    rules = "".join(f"  - proto: tcp\n    ports: {port}\n    cidr: 0.0.0.0/0\n" for port in ports)
    return f"kind: security_group\n{scope}\nregion: {REGION}\ningress:\n{rules}"


@pytest.fixture(scope="module")
def catalog_texts() -> dict[str, str]:
    texts = {f"policies/security_groups/svc-{i:05d}.yaml": filler(i) for i in range(CATALOG - 1)}
    texts[WEB] = web_spec(443)
    return texts


@pytest.fixture(scope="module")
def pushed(catalog_texts: dict[str, str]) -> SpecBundle:
    """What `setpoint push` uploads for 10,000 specs (validated, with its index): built
    once, as parsing them all is the slow part (about 15 s here)."""
    return indexed_bundle(catalog_texts)


class Calls(Counter[str]):
    def __call__(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            self[f"{model.service_model.service_name}:{model.name}"] += 1


@pytest.fixture
def estate(aws: None) -> Iterator[tuple[Any, Any, str]]:
    """(s3, ec2, the web group's id): the spec bucket and the demo's web group."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    ec2 = boto3.client("ec2", region_name=REGION)
    yield s3, ec2, make_vpc_with_web(ec2)["web"]


def lambda_runtime(calls: Calls) -> Runtime:
    session = boto3.session.Session(region_name=REGION)
    session.events.register("before-call", calls)
    clients = ClientCache(session)
    return build_runtime(
        clients=clients,
        specs=spec_provider(f"s3://{BUCKET}/policies", clients),
        regions=[REGION],
        account=ACCOUNT,
    )


def event(runtime: Runtime, group_id: str) -> list[tuple[str, str | None]]:
    outcome = handle_cloudtrail_event(authorize_record(group_id, port=22), runtime)
    assert not outcome.errors
    return [(f.status.value, f.spec) for f in outcome.findings]


def put_bundle(s3: Any, bundle: SpecBundle) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=bundle.body())


def test_a_warm_event_over_10000_pushed_specs_makes_at_most_3_requests_and_no_get(
    estate: tuple[Any, Any, str], pushed: SpecBundle
) -> None:
    s3, _, web = estate
    assert push_bundle(s3, pushed, BUCKET, KEY).uploaded
    calls = Calls()
    runtime = lambda_runtime(calls)
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]  # cold: the bundle fetched
    assert calls["s3:GetObject"] == 1
    calls.clear()
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    assert sum(calls.values()) <= 3, calls
    assert calls["s3:GetObject"] == 0  # the unchanged bundle is never fetched again
    assert calls["s3:ListObjectsV2"] == 1


def test_a_spec_broken_after_push_elsewhere_in_the_catalog_does_not_affect_this_event(
    estate: tuple[Any, Any, str], pushed: SpecBundle
) -> None:
    s3, _ec2, web = estate
    specs = dict(pushed.specs)
    specs[BROKEN] = "kind: security_group\nname: [svc-00005\n"  # YAML that does not parse
    # the content hash is made to match, so only parsing that member can tell
    put_bundle(s3, SpecBundle(specs, content_hash(specs), pushed.index))
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]


def test_the_sweeps_whole_catalog_still_reports_a_spec_broken_after_push(
    estate: tuple[Any, Any, str],
) -> None:
    s3, ec2, web = estate
    specs = dict(indexed_bundle({WEB: web_spec(443), BROKEN: filler(5)}).specs)
    index = indexed_bundle(specs).index
    specs[BROKEN] = "kind: security_group\nname: [svc-00005\n"
    put_bundle(s3, SpecBundle(specs, content_hash(specs), index))
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    with pytest.raises(SpecSetError) as raised:
        runtime.specs()  # what the sweep and `on_spec_change` load
    assert [error.file for error in raised.value.errors] == [BROKEN]
    # an event on the broken spec's own resource says so, never "in sync"
    svc = ec2.create_security_group(GroupName="svc-00005", Description="svc")["GroupId"]
    ((status, spec),) = event(runtime, svc)
    assert status == "unknown" and spec == BROKEN


def test_a_changed_spec_for_this_resource_is_seen_on_the_next_event(
    estate: tuple[Any, Any, str], pushed: SpecBundle, catalog_texts: dict[str, str]
) -> None:
    s3, ec2, web = estate
    put_bundle(s3, pushed)
    runtime = lambda_runtime(Calls())
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    assert event(runtime, web) == [("drifted", f"{WEB}:1")]
    changed = {**catalog_texts, WEB: web_spec(443, 22)}
    # a change of rules keeps every id and name, so the index push writes is the same one
    # (parsing 10,000 specs again would tell nothing more; the small test below pushes)
    put_bundle(s3, SpecBundle(changed, content_hash(changed), pushed.index))
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]


def small_push(s3: Any, texts: dict[str, str]) -> None:
    assert push_bundle(s3, indexed_bundle(texts), BUCKET, KEY).uploaded


def test_a_spec_by_id_and_a_spec_by_name_are_both_found_from_an_event_naming_the_id(
    estate: tuple[Any, Any, str],
) -> None:
    s3, _ec2, web = estate
    small_push(s3, {WEB: web_spec(443), "policies/other.yaml": filler(1)})
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    by_id = "policies/security_groups/web-by-id.yaml"
    small_push(s3, {by_id: web_spec(443, 22, scope=f"group_id: {web}")})
    assert event(runtime, web) == [("drifted", f"{by_id}:1")]  # port 22 is not open
    # both at once claim one group: which applies cannot be told (as in a full catalog)
    small_push(s3, {WEB: web_spec(443), by_id: web_spec(443, scope=f"group_id: {web}")})
    ((status, _),) = event(runtime, web)
    assert status == "unknown"


def test_the_bundles_ignore_rules_and_a_specs_exceptions_apply_on_the_event_path(
    estate: tuple[Any, Any, str],
) -> None:
    s3, ec2, web = estate
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    excepted = web_spec(443) + (
        "exceptions:\n  - change: {op: add, path: ingress, actual: {proto: tcp, ports: '22'}}\n"
        f"    until: {date.today() + timedelta(days=30)}\n    reason: vendor session\n"
    )
    small_push(s3, {WEB: excepted})
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    small_push(s3, {WEB: web_spec(443), "policies/.setpointignore": "security_group:web\n"})
    assert event(runtime, web) == []


def test_a_bundle_without_an_index_and_spec_objects_one_per_file_still_load(
    estate: tuple[Any, Any, str],
) -> None:
    s3, _ec2, web = estate
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=make_bundle({WEB: web_spec(443, 22)}).body())
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("drifted", f"{WEB}:1")]  # an older push: parsed whole
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    loose = "policies/security_groups/web.yaml"
    s3.put_object(Bucket=BUCKET, Key=loose, Body=web_spec(443).encode())
    assert event(runtime, web) == [("in_sync", f"s3://{BUCKET}/{loose}:1")]
    # a loose object beside an indexed bundle: both are read, as before the index
    small_push(s3, {"policies/other.yaml": filler(1)})
    assert event(runtime, web) == [("in_sync", f"s3://{BUCKET}/{loose}:1")]


def test_an_index_that_does_not_fit_its_bundle_is_not_used(
    estate: tuple[Any, Any, str],
) -> None:
    s3, _ec2, web = estate
    texts = {WEB: web_spec(443, 22)}
    bogus = {"format_version": "1", "kinds": {"security_group": {"web": [7]}}, "unkeyed": {}}
    put_bundle(s3, SpecBundle(texts, content_hash(texts), bogus))
    runtime = lambda_runtime(Calls())
    assert event(runtime, web) == [("drifted", f"{WEB}:1")]  # parsed whole instead


def test_push_uploads_again_over_the_same_specs_pushed_without_an_index(
    estate: tuple[Any, Any, str],
) -> None:
    s3, _, _ = estate
    texts = {WEB: web_spec(443)}
    old = make_bundle(texts)
    s3.put_object(
        Bucket=BUCKET, Key=KEY, Body=old.body(), Metadata={HASH_METADATA: old.content_hash}
    )
    assert push_bundle(s3, indexed_bundle(texts), BUCKET, KEY).uploaded
    assert not push_bundle(s3, indexed_bundle(texts), BUCKET, KEY).uploaded
    assert b'"index"' in s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()


def test_with_a_verify_key_an_unsigned_bundle_leaves_the_last_verified_one_in_force(
    estate: tuple[Any, Any, str],
) -> None:
    s3, _, web = estate
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    signed = indexed_bundle({WEB: web_spec(443)})
    assert push_bundle(s3, signed, BUCKET, KEY, KmsSigner(kms, key)).uploaded
    session = boto3.session.Session(region_name=REGION)
    clients = ClientCache(session)
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(f"s3://{BUCKET}/policies", clients, verify_key=key),
        regions=[REGION],
        account=ACCOUNT,
    )
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    # someone without the key uploads specs that would accept port 22 as well
    put_bundle(s3, indexed_bundle({WEB: web_spec(443, 22)}))
    boto3.client("ec2", region_name=REGION).authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    assert event(runtime, web) == [("drifted", f"{WEB}:1")]  # judged by the signed specs
    # a container that never saw a verified version refuses the set instead
    cold = build_runtime(
        clients=ClientCache(boto3.session.Session(region_name=REGION)),
        specs=spec_provider(f"s3://{BUCKET}/policies", clients, verify_key=key),
        regions=[REGION],
        account=ACCOUNT,
    )
    ((status, _),) = event(cold, web)
    assert status == "unknown"


def test_with_a_verify_key_a_bundle_too_large_to_verify_leaves_the_last_verified_one(
    estate: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object over the event path's budget cannot be fetched, so it cannot be verified:
    refused like an unsigned one, the signed specs stay in force (it used to turn every
    event into `unknown`). The budget is lowered here so the test uploads kilobytes, not
    the 64 MiB it is in the Lambda."""
    import chalicelib.specs.s3_source as s3_source

    s3, _, web = estate
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
    assert push_bundle(s3, indexed_bundle({WEB: web_spec(443)}), BUCKET, KEY, KmsSigner(kms, key))
    clients = ClientCache(boto3.session.Session(region_name=REGION))
    runtime = build_runtime(
        clients=clients,
        specs=spec_provider(f"s3://{BUCKET}/policies", clients, verify_key=key),
        regions=[REGION],
        account=ACCOUNT,
    )
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
    monkeypatch.setattr(s3_source, "MAX_INDEXED_BUNDLE_BYTES", 64 * 1024)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x" * (128 * 1024))
    assert event(runtime, web) == [("in_sync", f"{WEB}:1")]
