"""The sweep (Lambda, in process) reads none of what `.setpointignore` names.

moto in process: S3 buckets, the real sweep service and collectors. Requests are counted
per bucket with a botocore `before-parameter-build` handler on every session made.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore import handlers

from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.model import Status
from chalicelib.runtime import sweep_service
from chalicelib.specs.loading import build_catalog, parse_ignore_text
from chalicelib.specs.parse import parse_file
from chalicelib.sweep.settings import SweepSettings
from chalicelib.sweep.worker import InvocationSweep, sweep_in_process
from tests.chat_server import ChatServer
from tests.conftest import REGION
from tests.state.world import T0, Clock, make_runtime

SPECS = {  # acme-logs-a and acme-logs-keep have specs; acme-logs-b has none
    name: f"kind: s3_bucket\nname: {name}\nregion: {REGION}\n"
    for name in ("acme-logs-a", "acme-logs-keep", "acme-assets")
}


@pytest.fixture
def bucket_reads(aws: None, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """A bucket's own s3:Get* requests (GetBucketLocation, part of locating what the
    listing returned, is left out: moto's ListBuckets gives no `BucketRegion`)."""
    found: Counter[str] = Counter()

    def count(params: Any = None, model: Any = None, **_: Any) -> None:
        if model is None or not params or not model.name.startswith("Get"):
            return
        if model.name != "GetBucketLocation":
            found[str(params.get("Bucket"))] += 1

    monkeypatch.setattr(
        handlers,
        "BUILTIN_HANDLERS",
        [*handlers.BUILTIN_HANDLERS, ("before-parameter-build.s3", count)],
    )
    s3 = boto3.client("s3", region_name=REGION)
    for name in ("acme-logs-a", "acme-logs-b", "acme-logs-keep", "acme-assets"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(
        Bucket="acme-logs-b", Tagging={"TagSet": [{"Key": "team", "Value": "logs"}]}
    )
    found.clear()
    return found


def sweep(chat: ChatServer, ignore: str) -> InvocationSweep:
    files = [parse_file(f"policies/s3_buckets/{n}.yaml", text) for n, text in SPECS.items()]
    files.append(parse_ignore_text("policies/.setpointignore", ignore))
    runtime = make_runtime(chat.url, build_catalog(files), clock=Clock(T0))
    return sweep_in_process(sweep_service(runtime, SweepSettings(regions=(REGION,))))


def buckets(swept: InvocationSweep) -> dict[str, Status]:
    return {str(f.name): f.status for f in swept.findings if f.kind is S3_BUCKET}


READ = {Status.IN_SYNC, Status.DRIFTED}  # compared (the specs ask for more than moto's defaults)


def test_the_sweep_reads_nothing_of_an_ignored_bucket_but_the_negated_one(
    bucket_reads: Counter[str], chat_server: ChatServer
) -> None:
    swept = sweep(chat_server, "s3_bucket:acme-logs-*\n!s3_bucket:acme-logs-keep\n")
    assert bucket_reads["acme-logs-a"] == 0 and bucket_reads["acme-logs-b"] == 0
    assert bucket_reads["acme-logs-keep"] >= 4 and bucket_reads["acme-assets"] >= 4
    # the spec'd one is not missing, the unspec'd one not unmanaged: neither is there
    found = buckets(swept)
    assert set(found) == {"acme-logs-keep", "acme-assets"} and set(found.values()) <= READ
    assert swept.digest.counts.get("ignored") == 2


def test_the_sweep_reads_only_the_tags_of_a_bucket_a_tag_rule_ignores(
    bucket_reads: Counter[str], chat_server: ChatServer
) -> None:
    swept = sweep(chat_server, "tag:team=logs\n")
    assert bucket_reads["acme-logs-b"] == 1  # GetBucketTagging, then nothing
    assert bucket_reads["acme-logs-a"] >= 5  # its tags, then the rest
    assert "acme-logs-b" not in buckets(swept)
    assert swept.digest.counts.get("ignored") == 1
