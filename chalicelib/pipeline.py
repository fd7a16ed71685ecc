"""ResourceRef → live read → spec → Finding: the path every event and every sweep takes.

One `KindPipeline` per resource kind; the handler and the CLI only ever talk to
`Pipeline`, so a new kind is a new entry in `Pipeline.kinds`, not a new branch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.errors import ConfigError, ReadError, SetpointError
from chalicelib.events.lifecycle import deletes
from chalicelib.kinds.security_group.collector import SecurityGroupCollector
from chalicelib.kinds.security_group.compare import evaluate_security_group
from chalicelib.model import (
    Actor,
    Finding,
    Kind,
    ResourceRef,
    SecurityGroupSpec,
    SecurityGroupState,
    Status,
    finding_for_ref,
)
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.state.transitions import gone_finding, is_gone

logger = logging.getLogger("setpoint")


SPEC_BUNDLE_NAME = "spec bundle"


def guard_ref(account: str | None, regions: Sequence[str], name: str) -> ResourceRef:
    """A part of Setpoint itself (its specs, its sweep) as a resource, so a failure of it
    is one alert, followed to its end like any drift, however often it recurs."""
    return ResourceRef(Kind.GUARD, account, ",".join(regions), name=name)


def spec_bundle_ref(account: str | None, regions: Sequence[str]) -> ResourceRef:
    return guard_ref(account, regions, SPEC_BUNDLE_NAME)


def unknown_finding(ref: ResourceRef, reason: str, spec: str | None = None) -> Finding:
    """Could not read: said so, never reported as in sync."""
    return finding_for_ref(ref, Status.UNKNOWN, reason=reason, spec=spec)


@dataclass
class SweepResult:
    findings: list[Finding] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.is_problem and not is_gone(f)]


class KindPipeline(Protocol):
    """Reads, matches and compares one family of kinds (IAM's four kinds share one listing)."""

    kinds: tuple[Kind, ...]

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]: ...

    def sweep(
        self, catalog: SpecCatalog, account: str, regions: Sequence[str], kinds: frozenset[Kind]
    ) -> SweepResult: ...


def _in_account(spec: SecurityGroupSpec, account: str | None) -> bool:
    return spec.account is None or account is None or spec.account == account


class SecurityGroupPipeline:
    kinds: tuple[Kind, ...] = (Kind.SECURITY_GROUP,)

    def __init__(self, collector: SecurityGroupCollector) -> None:
        self.collector = collector

    def _specs_named_by(self, ref: ResourceRef, catalog: SpecCatalog) -> list[SecurityGroupSpec]:
        """Specs that a reference to a group that no longer exists may have meant."""
        found = []
        for spec in catalog.security_groups:
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
            for s in catalog.security_groups
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
        spec = catalog.match_security_group(state)
        return evaluate_security_group(spec, state)

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({Kind.SECURITY_GROUP}),
    ) -> SweepResult:
        result = SweepResult()
        if Kind.SECURITY_GROUP not in kinds:
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
                        ResourceRef(Kind.SECURITY_GROUP, account, region, name="(all groups)"),
                        str(exc),
                    )
                )
                continue
            for state in states:
                spec = catalog.match_security_group(state)
                if spec is not None:
                    matched.add(id(spec))
                result.findings.append(evaluate_security_group(spec, state))
        for spec in catalog.security_groups:
            if id(spec) in matched or not _in_account(spec, account):
                continue
            if spec.region is not None and spec.region not in regions:
                continue  # not in this sweep's scope
            ref = ResourceRef(
                Kind.SECURITY_GROUP, account, spec.region or regions[0], spec.group_id, spec.name
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


def _about(findings: Sequence[Finding], ref: ResourceRef) -> bool:
    """Whether a finding speaks for `ref` (a delete by id may also find other, spec'd groups)."""
    if ref.id:
        return any(f.id == ref.id for f in findings)
    return bool(findings)


class Pipeline:
    """All kinds behind one interface, for the Lambda handlers and the CLI alike."""

    def __init__(self, pipelines: Iterable[KindPipeline]) -> None:
        self.pipelines = list(pipelines)
        self.kinds = {kind: p for p in self.pipelines for kind in p.kinds}

    def evaluate(
        self, refs: Iterable[ResourceRef], catalog: SpecCatalog, actor: Actor | None = None
    ) -> list[Finding]:
        findings: list[Finding] = []
        for ref in refs:
            kind = self.kinds.get(ref.kind)
            if kind is None:
                findings.append(unknown_finding(ref, f"kind {ref.kind} is not enabled"))
                continue
            found = kind.evaluate_ref(ref, catalog)
            if actor is not None and deletes(actor.event_name, ref.kind) and not _about(found, ref):
                # deleted, and no spec wants it back: close any open alert on it as gone
                found = [*found, gone_finding(ref)]
            for finding in found:
                findings.append(dataclasses.replace(finding, actor=actor) if actor else finding)
        return findings

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: Iterable[Kind] | None = None,
    ) -> SweepResult:
        wanted = frozenset(kinds) if kinds is not None else frozenset(self.kinds)
        unsupported = sorted(k.value for k in wanted if k not in self.kinds)
        if unsupported:
            # Never report "in sync" for something that was not read.
            raise ConfigError(f"no collector for kind(s) {', '.join(unsupported)} in this version")
        result = SweepResult()
        for pipeline in self.pipelines:
            if wanted & set(pipeline.kinds):
                found = pipeline.sweep(catalog, account, regions, wanted)
                result.findings.extend(found.findings)
        return result


def evaluate_with_specs(
    pipeline: Pipeline,
    specs: Callable[[], SpecCatalog],
    refs: Sequence[ResourceRef],
    actor: Actor | None = None,
) -> list[Finding]:
    """Evaluate `refs` against the current specs; specs that cannot be loaded make each ref
    `unknown`, saying why, instead of failing the invocation nobody reads."""
    try:
        catalog = specs()
    except SetpointError as exc:
        logger.error("spec_error", extra={"error": str(exc)})
        reason = f"specs could not be loaded: {exc}"
        return [dataclasses.replace(unknown_finding(ref, reason), actor=actor) for ref in refs]
    return pipeline.evaluate(refs, catalog, actor)
