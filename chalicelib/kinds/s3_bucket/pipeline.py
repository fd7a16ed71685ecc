"""The `KindPipeline` for S3 buckets: event refs and sweeps → bucket findings.

A bucket is read with only the properties its spec compares (the security ones when no
spec names it). A sweep is one read of the account-wide Block Public Access, one
ListBuckets per account (its `BucketRegion` locates the buckets; GetBucketLocation only
where it is missing), then the per-bucket reads in a bounded thread pool; buckets
outside the sweep's regions are neither read nor reported, left to a sweep that covers
them. The account-wide block (events and sweeps alike) is answered from s3-control.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.aws import ClientCache, default_region
from chalicelib.errors import ReadError
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.s3_bucket.collector import BucketCollector
from chalicelib.kinds.s3_bucket.compare import evaluate_account_block, evaluate_bucket
from chalicelib.kinds.s3_bucket.events import account_block_ref, is_account_block
from chalicelib.kinds.s3_bucket.model import (
    ALL_PROPERTIES,
    SECURITY_PROPERTIES,
    TAGS,
    BucketSpec,
    BucketState,
)
from chalicelib.kinds.s3_bucket.spec import match_bucket
from chalicelib.kinds.s3_bucket.writer import render_s3_bucket_spec, spec_filename
from chalicelib.model import GLOBAL_REGION, Finding, Kind, ResourceRef
from chalicelib.noise.apply import has_tag_rules, skipping_rule, skips
from chalicelib.pipeline import SweepResult, not_read_finding, unknown_finding
from chalicelib.specs.catalog import SpecCatalog

if TYPE_CHECKING:  # an exporter is handed its sink; specs/ imports the registry
    from chalicelib.specs.sink import SpecSink

KIND = "s3_bucket"


def bucket_specs(catalog: SpecCatalog) -> tuple[BucketSpec, ...]:
    return tuple(catalog.specs_of(KIND))


def properties_for(spec: BucketSpec | None) -> tuple[str, ...]:
    """What to read: what the spec compares, or the security properties for no spec."""
    return spec.compared() if spec is not None else SECURITY_PROPERTIES


def _placeholder_region(spec: BucketSpec | None) -> str:
    """Where a finding without a located bucket is filed: the spec's region, else "global".

    The same in every sweep and on the event path, whatever regions each one covers, so a
    region-less spec or an unlocatable bucket is one resource, not one per region.
    """
    return spec.region if spec is not None and spec.region else GLOBAL_REGION


# Whether `build_s3_pipeline` makes sweeps read the account-wide Block Public Access.
# Off until the demo's and the round-trip tests' estates turn the account block on (and a
# spec can declare an account whose block is off on purpose): with it on, a `check` right
# after `import` on an account without the block reports that block, which no spec can
# describe yet. The event path always reads it.
SWEEP_ACCOUNT_BLOCK = False


class S3BucketPipeline:
    kinds: tuple[Kind, ...] = (S3_BUCKET,)

    def __init__(self, collector: BucketCollector, *, sweep_account_block: bool = True) -> None:
        self.collector = collector
        self.sweep_account_block = sweep_account_block

    def locate_spec(self, spec: Any, refs: Sequence[ResourceRef]) -> list[ResourceRef]:
        return list(refs)  # a spec names its resource exactly

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        if is_account_block(ref):
            return [self._account_block(ref.account or "", ref.region)]
        name = ref.id or ref.name
        if not name:
            return []
        specs = bucket_specs(catalog.about(KIND, (name,)))
        try:
            region = self.collector.region_of(name)
        except ReadError as exc:
            spec = match_bucket(specs, name, ref.account, None)
            return [self._unlocated(ref.account, name, spec, exc)]
        spec = match_bucket(specs, name, ref.account, region)
        if region is None:
            if spec is None:
                return []  # an unmanaged bucket was deleted: nothing left to compare
            return [self._missing(spec, ref.account)]
        state = self.collector.read(
            name, account=ref.account, properties=properties_for(spec), region=region
        )
        if state is None:
            return [self._missing(spec, ref.account)] if spec else []
        return [evaluate_bucket(spec, state)]

    def _account_block(self, account: str, client_region: str) -> Finding:
        """The account-wide Block Public Access: one s3-control read, one finding, "global"."""
        try:
            block = self.collector.read_account_block(account, client_region)
        except ReadError as exc:
            ref = account_block_ref(account, GLOBAL_REGION)
            return unknown_finding(ref, str(exc))
        return evaluate_account_block(account or None, GLOBAL_REGION, block)

    @staticmethod
    def _ref(account: str, located: Mapping[str, object], name: str) -> ResourceRef:
        return ResourceRef(S3_BUCKET, account, str(located[name]), id=name, name=name)

    @staticmethod
    def _missing(spec: BucketSpec, account: str | None) -> Finding:
        ref = ResourceRef(S3_BUCKET, account, _placeholder_region(spec), id=spec.name)
        return evaluate_bucket(spec, None, ref=ref)

    @staticmethod
    def _unlocated(
        account: str | None, name: str, spec: BucketSpec | None, exc: ReadError
    ) -> Finding:
        ref = ResourceRef(S3_BUCKET, account, _placeholder_region(spec), id=name, name=name)
        reason = f"the bucket's region could not be read: {exc}"
        return unknown_finding(ref, reason, str(spec.source) if spec else None)

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({S3_BUCKET}),
    ) -> SweepResult:
        """One sweep call: the account block (when enabled), one listing, the buckets in `regions`.

        ListBuckets is account-wide: it is called once (with the regions it reports, else
        one GetBucketLocation per bucket), whatever the number of regions. Findings that
        belong to no swept region (the account block, an unlocatable bucket, a region-less
        spec whose bucket does not exist) are made once, filed under "global".
        """
        result = SweepResult()
        if S3_BUCKET not in kinds:
            return result
        specs = [s for s in bucket_specs(catalog) if s.account in (None, account)]
        named: dict[str, list[BucketSpec]] = {}  # one lookup per bucket, not a scan of specs
        for each in specs:
            named.setdefault(each.name, []).append(each)
        if self.sweep_account_block:
            result.findings.append(self._account_block(account, self.collector.home_region))
        try:
            located = self.collector.locate(self.collector.list_buckets())
        except ReadError as exc:
            ref = ResourceRef(S3_BUCKET, account, GLOBAL_REGION, name="(all buckets)")
            result.findings.append(unknown_finding(ref, str(exc)))
            return result
        wanted = set(regions)
        seen: set[str] = set()
        chosen: dict[str, BucketSpec | None] = {}
        for name, region in located.items():
            if region is None:
                continue  # deleted between ListBuckets and GetBucketLocation
            seen.add(name)
            if isinstance(region, ReadError):
                spec = match_bucket(named.get(name, ()), name, account, None)
                if spec is None or spec.region is None or spec.region in wanted:
                    result.findings.append(self._unlocated(account, name, spec, region))
            elif region in wanted:
                chosen[name] = match_bucket(named.get(name, ()), name, account, region)
        rules = catalog.ignore_rules
        for name in list(chosen):
            rule = skipping_rule(rules, KIND, name, name) if rules else None
            if rule is not None:  # ignored by name: none of its reads
                del chosen[name]
                result.ignored.append(not_read_finding(self._ref(account, located, name), rule))
        by_tags = has_tag_rules(rules)

        def read_rest(name: str, tags: Mapping[str, str]) -> bool:
            return not skips(rules, KIND, name, name, tags)

        outcomes = self.collector.read_many(
            list(chosen),
            account=account,
            properties_for=lambda name: properties_for(chosen[name]),
            regions={name: located[name] for name in chosen},
            read_rest=read_rest if by_tags else None,
        )
        for name, outcome in outcomes:
            spec = chosen[name]
            if by_tags and isinstance(outcome, BucketState) and TAGS in outcome.read:
                rule = skipping_rule(rules, KIND, name, name, outcome.tags)
                if rule is not None:  # ignored by its tags: read no further than them
                    ref = self._ref(account, located, name)
                    result.ignored.append(not_read_finding(ref, rule, outcome.tags.items()))
                    continue
            if isinstance(outcome, ReadError):
                ref = self._ref(account, located, name)
                source = str(spec.source) if spec else None
                result.findings.append(unknown_finding(ref, str(outcome), source))
            elif outcome is None:
                seen.discard(name)  # deleted between the listing and the read
            else:
                result.findings.append(evaluate_bucket(spec, outcome))
        for spec in specs:
            if spec.name in seen or (spec.region is not None and spec.region not in wanted):
                continue
            result.findings.append(self._missing(spec, account))
        return result


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


def build_s3_pipeline(
    clients: ClientCache, *, sweep_account_block: bool = SWEEP_ACCOUNT_BLOCK
) -> S3BucketPipeline:
    """The pipeline with clients from the process-wide cache (made lazily, per region)."""
    return S3BucketPipeline(bucket_collector(clients), sweep_account_block=sweep_account_block)


def bucket_collector(clients: ClientCache) -> BucketCollector:
    return BucketCollector(
        clients.factory("s3"),
        lambda region: s3control_client(clients.factory("s3control"), region),
        home_region=default_region(),
    )


def export_s3_buckets(
    clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
) -> int:
    """Write `s3_buckets/<bucket>.yaml` for every bucket in `regions`; return the count."""
    collector = bucket_collector(clients)
    account = clients.account_id()
    folder = out.root / "s3_buckets"
    written = 0
    located = collector.locate(collector.list_buckets())
    names = [n for n, r in located.items() if isinstance(r, ReadError) or r in regions]
    names = [n for n in names if out.wants(n)]
    results = collector.read_many(
        names,
        account=account,
        properties_for=lambda _: ALL_PROPERTIES,
        regions={n: located[n] for n in names},
    )
    for name, state in results:
        if isinstance(state, ReadError):
            print(f"{name}: not imported, {state}")
            continue
        if state is None or state.region not in regions:
            continue
        target = folder / spec_filename(state)
        text = render_s3_bucket_spec(state, schema_ref=out.schema_ref(target))
        written += out.write(S3_BUCKET, name, target, text)
    print(f"{', '.join(regions)}: {written} S3 bucket(s) → {folder}")
    return written
