"""The `KindPipeline` for load balancers: event refs and regional sweeps -> findings.

An event names a load balancer by ARN (the name only when the ARN is unknown). A sweep
lists one region at a time; a region that cannot be read makes its specs `unknown`,
never `missing`. Specs always name a region, so there is no region-less case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.aws import ClientCache
from chalicelib.errors import ReadError
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.kinds.load_balancer.collector import LoadBalancerCollector
from chalicelib.kinds.load_balancer.compare import evaluate_load_balancer
from chalicelib.kinds.load_balancer.model import LoadBalancerSpec
from chalicelib.kinds.load_balancer.spec import match_load_balancer
from chalicelib.kinds.load_balancer.writer import render_load_balancer_spec, spec_filename
from chalicelib.model import Finding, Kind, ResourceRef
from chalicelib.noise.apply import skipping_rule
from chalicelib.noise.model import IgnoreRule
from chalicelib.pipeline import SweepResult, not_read_finding, unknown_finding
from chalicelib.specs.catalog import SpecCatalog

if TYPE_CHECKING:  # an exporter is handed its sink; specs/ imports the registry
    from chalicelib.specs.sink import SpecSink


def load_balancer_specs(catalog: SpecCatalog) -> tuple[LoadBalancerSpec, ...]:
    return tuple(catalog.specs_of(LOAD_BALANCER))


def _in_account(spec: LoadBalancerSpec, account: str | None) -> bool:
    return spec.account is None or account is None or spec.account == account


class LoadBalancerPipeline:
    kinds: tuple[Kind, ...] = (LOAD_BALANCER,)

    def __init__(self, collector: LoadBalancerCollector) -> None:
        self.collector = collector

    def locate_spec(self, spec: Any, refs: Sequence[ResourceRef]) -> list[ResourceRef]:
        return list(refs)  # a spec names its load balancer by name and region exactly

    def _specs_for(self, ref: ResourceRef, catalog: SpecCatalog) -> list[LoadBalancerSpec]:
        return [
            spec
            for spec in load_balancer_specs(catalog.about(LOAD_BALANCER, (ref.name,)))
            if spec.name == ref.name
            and spec.region == ref.region
            and _in_account(spec, ref.account)
        ]

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        try:
            state = self.collector.read(ref.region, arn=ref.id, name=ref.name)
        except ReadError as exc:
            specs = self._specs_for(ref, catalog)
            return [unknown_finding(ref, str(exc), str(specs[0].source) if specs else None)]
        if state is None:
            return [evaluate_load_balancer(s, None, ref=ref) for s in self._specs_for(ref, catalog)]
        named = load_balancer_specs(catalog.about(LOAD_BALANCER, (state.name,)))
        spec = match_load_balancer(named, state.name, state.account, state.region)
        return [evaluate_load_balancer(spec, state)]

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({LOAD_BALANCER}),
    ) -> SweepResult:
        result = SweepResult()
        if LOAD_BALANCER not in kinds:
            return result
        specs = [s for s in load_balancer_specs(catalog) if _in_account(s, account)]
        matched: set[int] = set()
        failed: dict[str, str] = {}
        rules = catalog.ignore_rules

        def skip(arn: str, name: str, tags: Mapping[str, str] | None) -> IgnoreRule | None:
            return skipping_rule(rules, str(LOAD_BALANCER), arn, name, tags)

        for region in regions:
            try:
                if rules:
                    states, passed = self.collector.list_region_unless(region, skip)
                else:
                    states, passed = self.collector.list_region(region), []
            except ReadError as exc:
                failed[region] = str(exc)
                ref = ResourceRef(LOAD_BALANCER, account, region, name="(all load balancers)")
                result.findings.append(unknown_finding(ref, str(exc)))
                continue
            for each in passed:  # ignored: counted, never compared, and its spec not missing
                spec = match_load_balancer(specs, each.name, each.account or account, region)
                if spec is not None:
                    matched.add(id(spec))
                ref = ResourceRef(
                    LOAD_BALANCER, each.account or account, region, id=each.arn, name=each.name
                )
                result.ignored.append(not_read_finding(ref, each.rule, each.tags.items()))
            for state in states:
                spec = match_load_balancer(specs, state.name, state.account or account, region)
                if spec is not None:
                    matched.add(id(spec))
                result.findings.append(evaluate_load_balancer(spec, state))
        for spec in specs:
            if id(spec) in matched or spec.region not in regions:
                continue
            ref = ResourceRef(LOAD_BALANCER, account, spec.region, name=spec.name)
            if spec.region in failed:
                result.findings.append(unknown_finding(ref, failed[spec.region], str(spec.source)))
            else:
                result.findings.append(evaluate_load_balancer(spec, None, ref=ref))
        return result


def build_load_balancer_pipeline(clients: ClientCache) -> LoadBalancerPipeline:
    return LoadBalancerPipeline(
        LoadBalancerCollector(clients.factory("elbv2"), clients.factory("ec2"))
    )


def export_load_balancers(
    clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
) -> int:
    """Write `out/load_balancers/<region>/<name>.yaml` for each one; return the count."""
    collector = LoadBalancerCollector(clients.factory("elbv2"), clients.factory("ec2"))
    written = 0
    for region in regions:
        try:
            states = collector.list_region(region)
        except ReadError as exc:
            print(f"{region}: load balancers not imported, {exc}")
            continue
        folder = out.root / "load_balancers" / region
        for state in states:
            target = folder / spec_filename(state)
            text = render_load_balancer_spec(state, schema_ref=out.schema_ref(target))
            written += out.write(LOAD_BALANCER, state.arn, target, text, state.name)
        print(f"{region}: {len(states)} load balancer(s) → {folder}")
    return written
