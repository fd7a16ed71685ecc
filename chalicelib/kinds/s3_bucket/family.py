"""S3 buckets, registered: listed once per account for all its regions, one kind."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from chalicelib.kinds.family import Family, Read, SpecKind, reads_from_table
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.events import S3_ROWS
from chalicelib.kinds.s3_bucket.spec import build_s3_bucket, s3_bucket_conflicts
from chalicelib.model import Kind

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache
    from chalicelib.pipeline import KindPipeline
    from chalicelib.revert.table import Undo
    from chalicelib.sources.ansible.model import AnsibleMapping
    from chalicelib.sources.terraform.model import TerraformMapping
    from chalicelib.specs.sink import SpecSink

HERE = Path(__file__).parent


def _ansible() -> AnsibleMapping:
    from chalicelib.kinds.s3_bucket.ansible import mapping

    return mapping()


def _reads() -> tuple[Read, ...]:
    from chalicelib.kinds.s3_bucket.collector import BUCKET_READS, PROPERTY_READS

    per_property = tuple(Read("s3", row.api, row.permission) for row in PROPERTY_READS)
    return per_property + reads_from_table(BUCKET_READS)


def _pipeline(clients: ClientCache) -> KindPipeline:
    from chalicelib.kinds.s3_bucket.pipeline import build_s3_pipeline

    return build_s3_pipeline(clients)


def _export(clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]) -> int:
    from chalicelib.kinds.s3_bucket.pipeline import export_s3_buckets

    return export_s3_buckets(clients, regions, out, kinds)


def _reverts() -> tuple[Undo, ...]:
    from chalicelib.kinds.s3_bucket.revert import REVERTS

    return REVERTS


def _terraform() -> TerraformMapping:
    from chalicelib.kinds.s3_bucket.terraform import mapping

    return mapping()


FAMILY = Family(
    name="s3_bucket",
    specs=(
        SpecKind(
            S3_BUCKET,
            "S3 bucket",
            HERE / "s3_bucket.schema.json",
            build_s3_bucket,
            s3_bucket_conflicts,
        ),
    ),
    event_source="s3.amazonaws.com",
    handler="on_s3_change",
    rows=S3_ROWS,
    creates=MappingProxyType({"CreateBucket": S3_BUCKET}),
    deletes=MappingProxyType({"DeleteBucket": S3_BUCKET}),
    scope="account",
    reads=_reads,
    pipeline=_pipeline,
    exporter=_export,
    terraform=_terraform,
    ansible=_ansible,
    reverts=_reverts,
)
