"""The `KindPipeline` for S3 buckets: event refs and sweeps → bucket findings.

A bucket is read with only the properties its spec compares (the security ones when no
spec names it). A sweep is one ListBuckets per account, then the per-bucket reads in a
bounded thread pool; buckets outside the sweep's regions are left to a sweep that
covers them. The account-wide Block Public Access ref is answered from s3-control.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chalicelib.aws import ClientCache, default_region
from chalicelib.bucket_model import ALL_PROPERTIES, SECURITY_PROPERTIES, BucketSpec, BucketState
from chalicelib.collectors.s3_bucket import BucketCollector
from chalicelib.compare.s3_bucket import evaluate_account_block, evaluate_bucket
from chalicelib.errors import ReadError
from chalicelib.events.s3_rows import is_account_block
from chalicelib.model import Finding, Kind, ResourceRef
from chalicelib.pipeline import SweepResult, unknown_finding
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.s3_bucket import match_bucket
from chalicelib.specs.writer_s3_bucket import render_s3_bucket_spec, spec_filename

KIND = "s3_bucket"


def bucket_specs(catalog: SpecCatalog) -> tuple[BucketSpec, ...]:
    return tuple(catalog.specs_of(KIND))


def properties_for(spec: BucketSpec | None) -> tuple[str, ...]:
    """What to read: what the spec compares, or the security properties for no spec."""
    return spec.compared() if spec is not None else SECURITY_PROPERTIES


class S3BucketPipeline:
    kinds: tuple[Kind, ...] = (Kind.S3_BUCKET,)

    def __init__(self, collector: BucketCollector) -> None:
        self.collector = collector

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        if is_account_block(ref):
            return [self._account_block(ref)]
        name = ref.id or ref.name
        if not name:
            return []
        specs = bucket_specs(catalog)
        try:
            region = self.collector.region_of(name)
        except ReadError as exc:
            spec = match_bucket(specs, name, ref.account, None)
            return [unknown_finding(ref, str(exc), str(spec.source) if spec else None)]
        spec = match_bucket(specs, name, ref.account, region)
        if region is None:
            if spec is None:
                return []  # an unmanaged bucket was deleted: nothing left to compare
            return [evaluate_bucket(spec, None, ref=ref)]
        state = self.collector.read(
            name, account=ref.account, properties=properties_for(spec), region=region
        )
        if state is None:
            return [evaluate_bucket(spec, None, ref=ref)] if spec else []
        return [evaluate_bucket(spec, state)]

    def _account_block(self, ref: ResourceRef) -> Finding:
        account = ref.account or ""
        try:
            block = self.collector.read_account_block(account, ref.region)
        except ReadError as exc:
            return unknown_finding(ref, str(exc))
        return evaluate_account_block(ref.account, ref.region, block)

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({Kind.S3_BUCKET}),
    ) -> SweepResult:
        result = SweepResult()
        if Kind.S3_BUCKET not in kinds:
            return result
        specs = [s for s in bucket_specs(catalog) if s.account in (None, account)]
        try:
            names = self.collector.list_names()
        except ReadError as exc:
            ref = ResourceRef(Kind.S3_BUCKET, account, regions[0], name="(all buckets)")
            result.findings.append(unknown_finding(ref, str(exc)))
            return result
        wanted = set(regions)
        by_name = {spec.name: spec for spec in specs}

        def props(name: str) -> tuple[str, ...]:
            return properties_for(by_name.get(name))

        seen: set[str] = set()
        for name, outcome in self.collector.read_many(names, account=account, properties_for=props):
            ref = ResourceRef(Kind.S3_BUCKET, account, regions[0], id=name, name=name)
            if isinstance(outcome, ReadError):
                spec = match_bucket(specs, name, account, None)
                result.findings.append(
                    unknown_finding(ref, str(outcome), str(spec.source) if spec else None)
                )
                seen.add(name)
                continue
            if outcome is None:
                continue  # deleted between ListBuckets and the read
            seen.add(name)
            if outcome.region not in wanted:
                continue  # another sweep's region
            spec = match_bucket(specs, name, account, outcome.region)
            if spec is not None and set(spec.compared()) - set(props(name)):
                outcome = self._reread(outcome, spec)
            result.findings.append(evaluate_bucket(spec, outcome))
        for spec in specs:
            if spec.name in seen or (spec.region is not None and spec.region not in wanted):
                continue
            ref = ResourceRef(Kind.S3_BUCKET, account, spec.region or regions[0], id=spec.name)
            result.findings.append(evaluate_bucket(spec, None, ref=ref))
        return result

    def _reread(self, state: BucketState, spec: BucketSpec) -> BucketState:
        """A spec scoped to another region than the one guessed: read what it compares."""
        again = self.collector.read(
            state.name, account=state.account, properties=spec.compared(), region=state.region
        )
        return again or state


def s3control_client(make: Callable[[str], Any], region: str) -> Any:
    """An s3control client that also works through `AWS_ENDPOINT_URL` (moto's server).

    botocore puts the account id in front of the host (`<account>.s3-control…`); a local
    endpoint has no such names, so the prefix is taken off again before sending.
    """
    client = make(region)
    endpoint = str(client.meta.endpoint_url)
    if "amazonaws.com" not in endpoint:
        client.meta.events.register("before-send.s3-control", _drop_account_prefix)
    return client


def _drop_account_prefix(request: Any, **_: Any) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(request.url)
    host = parts.netloc
    label, _, rest = host.partition(".")
    if label.isdigit() and len(label) == 12 and rest:
        request.url = urlunsplit(parts._replace(netloc=rest))
        request.headers["Host"] = rest


def build_s3_pipeline(clients: ClientCache) -> S3BucketPipeline:
    """The pipeline with clients from the process-wide cache (made lazily, per region)."""
    return S3BucketPipeline(bucket_collector(clients))


def bucket_collector(clients: ClientCache) -> BucketCollector:
    return BucketCollector(
        clients.factory("s3"),
        lambda region: s3control_client(clients.factory("s3control"), region),
        home_region=default_region(),
    )


def export_s3_buckets(
    clients: ClientCache, regions: list[str], out: Path, kinds: frozenset[Kind]
) -> int:
    """Write `out/s3_buckets/<bucket>.yaml` for every bucket in `regions`; return the count."""
    from chalicelib.cli.importer import copy_schema

    schema = copy_schema(out)
    collector = bucket_collector(clients)
    account = clients.account_id()
    folder = out / "s3_buckets"
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    results = collector.read_many(
        collector.list_names(), account=account, properties_for=lambda _: ALL_PROPERTIES
    )
    for name, state in results:
        if isinstance(state, ReadError):
            print(f"{name}: not imported, {state}")
            continue
        if state is None or state.region not in regions:
            continue
        target = folder / spec_filename(state)
        schema_ref = os.path.relpath(schema, target.parent)
        target.write_text(render_s3_bucket_spec(state, schema_ref=schema_ref), encoding="utf-8")
        written += 1
    print(f"{', '.join(regions)}: {written} S3 bucket(s) → {folder}")
    return written
