"""The `KindPipeline` for security groups: event refs and regional sweeps -> findings.

A group is read by id, or by name (+ VPC) when a record names no id; a delete by id
also looks for name-scoped specs whose group is now gone (`missing`). A sweep lists one
region at a time; a region that cannot be read makes its specs `unknown`, never missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.errors import ReadError, SpecError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.compare import evaluate_security_group
from chalicelib.kinds.security_group.model import SecurityGroupSpec, SecurityGroupState
from chalicelib.kinds.security_group.spec import match_security_group, security_group_claimants
from chalicelib.model import Finding, Kind, ResourceRef, SourceLocation
from chalicelib.pipeline import SweepResult, unknown_finding
from chalicelib.specs.catalog import SpecCatalog


def _claimed_twice(state: SecurityGroupState, exc: SpecError) -> Finding:
    """Two specs govern one live group: which one applies is unknowable, so the group is
    `unknown` with both places named (never "missing" for one and "drifted" for the other)."""
    ref = ResourceRef(
        SECURITY_GROUP, state.account, state.region, state.group_id, state.name, state.vpc_id
    )
    return unknown_finding(ref, exc.message, str(SourceLocation(exc.file, exc.line)))


def group_specs(catalog: SpecCatalog) -> tuple[SecurityGroupSpec, ...]:
    return tuple(catalog.specs_of(SECURITY_GROUP))


def _in_account(spec: SecurityGroupSpec, account: str | None) -> bool:
    return spec.account is None or account is None or spec.account == account


class SecurityGroupPipeline:
    kinds: tuple[Kind, ...] = (SECURITY_GROUP,)

    def __init__(self, collector: SecurityGroupCollector) -> None:
        self.collector = collector

    def _specs_named_by(self, ref: ResourceRef, catalog: SpecCatalog) -> list[SecurityGroupSpec]:
        """Specs that a reference to a group that no longer exists may have meant."""
        found = []
        for spec in group_specs(catalog.about(SECURITY_GROUP, (ref.id, ref.name))):
            if not _in_account(spec, ref.account) or spec.region not in (None, ref.region):
                continue
            by_id = bool(ref.id) and spec.group_id == ref.id
            by_name = bool(ref.name) and spec.name == ref.name and spec.vpc_id in (None, ref.vpc_id)
            if by_id or by_name:
                found.append(spec)
        return found

    def _missing_by_name(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        """After a delete by id, find name-scoped specs in that region whose group is gone."""
        candidates = [
            s
            for s in group_specs(catalog)
            if s.group_id is None
            and s.region == ref.region
            and _in_account(s, ref.account)
            and s.name
        ]
        if not candidates:
            return []
        live = self.collector.names_present(ref.region, sorted({s.name or "" for s in candidates}))
        return [
            evaluate_security_group(spec, None, ref=ref)
            for spec in candidates
            if not any(name == spec.name and spec.vpc_id in (None, vpc) for vpc, name in live)
        ]

    def locate_spec(
        self, spec: SecurityGroupSpec, refs: Sequence[ResourceRef]
    ) -> list[ResourceRef]:
        """Refs to the live groups a spec names, region by region; one `missing` ref if none.

        A spec names a group by id, or by name in any VPC (or its `vpc_id`); the event path's
        name lookup only looks in the default VPC, so groups are found here first. Without a
        region the spec may mean any configured region, like the sweep; not found anywhere,
        it is reported missing in the first, again like the sweep.
        """
        located: list[ResourceRef] = []
        for ref in refs:
            try:
                if spec.group_id is not None:
                    if self.collector.read(ref):
                        located.append(ref)
                    continue
                present = self.collector.names_present(ref.region, [spec.name or ""])
                for vpc, name in sorted(present, key=lambda x: str(x)):
                    if name == spec.name and spec.vpc_id in (None, vpc):
                        located.append(
                            ResourceRef(ref.kind, ref.account, ref.region, None, name, vpc)
                        )
            except ReadError:
                located.append(ref)  # evaluated again, where it becomes `unknown`
        return located or [refs[0]]

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        try:
            ref = self.collector.with_default_vpc(ref)
            states = self.collector.read(ref)
        except ReadError as exc:
            specs = self._specs_named_by(ref, catalog)
            return [unknown_finding(ref, str(exc), str(specs[0].source) if specs else None)]
        if states:
            return [self._evaluate(state, catalog) for state in states]
        specs = self._specs_named_by(ref, catalog)
        if specs:
            return [evaluate_security_group(spec, None, ref=ref) for spec in specs]
        if ref.id:
            try:
                return self._missing_by_name(ref, catalog)
            except ReadError as exc:
                return [unknown_finding(ref, str(exc))]
        return []

    def _evaluate(self, state: SecurityGroupState, catalog: SpecCatalog) -> Finding:
        try:
            spec = match_security_group(catalog, state)
        except SpecError as exc:
            return _claimed_twice(state, exc)
        return evaluate_security_group(spec, state)

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({SECURITY_GROUP}),
    ) -> SweepResult:
        result = SweepResult()
        if SECURITY_GROUP not in kinds:
            return result
        matched: set[int] = set()
        failed_regions: dict[str, str] = {}
        for region in regions:
            try:
                states = self.collector.list_region(region)
            except ReadError as exc:
                failed_regions[region] = str(exc)
                result.findings.append(
                    unknown_finding(
                        ResourceRef(SECURITY_GROUP, account, region, name="(all groups)"),
                        str(exc),
                    )
                )
                continue
            for state in states:
                claimants = security_group_claimants(catalog, state)
                matched.update(id(spec) for spec in claimants)  # none of them is "missing"
                result.claimed.update(str(spec.source) for spec in claimants)
                result.findings.append(self._evaluate(state, catalog))
        for spec in group_specs(catalog):
            if id(spec) in matched or not _in_account(spec, account):
                continue
            if spec.region is not None and spec.region not in regions:
                continue  # not in this sweep's scope
            ref = ResourceRef(
                SECURITY_GROUP, account, spec.region or regions[0], spec.group_id, spec.name
            )
            unread = (
                failed_regions.get(spec.region)
                if spec.region
                else ("; ".join(failed_regions.values()) or None)
            )
            if unread:
                result.findings.append(unknown_finding(ref, unread, str(spec.source)))
            else:
                result.findings.append(evaluate_security_group(spec, None, ref=ref))
        return result
