"""ResourceRef → live read → spec → Finding: the path every event and every sweep takes.

One `KindPipeline` per resource kind; the handler and the CLI only ever talk to
`Pipeline`, so a new kind is a new entry in `Pipeline.kinds`, not a new branch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from chalicelib.errors import ConfigError, SetpointError, SpecSetError
from chalicelib.model import (
    GUARD,
    Actor,
    Finding,
    Kind,
    ResourceRef,
    Status,
    addressable_region,
    finding_for_ref,
    gone_finding,
    is_gone,
)
from chalicelib.noise.apply import Quieted, ignored_ref, quiet
from chalicelib.noise.model import IgnoreRule
from chalicelib.specs.catalog import SpecCatalog

logger = logging.getLogger("setpoint")


SPEC_BUNDLE_NAME = "spec bundle"


def guard_ref(account: str | None, regions: Sequence[str], name: str) -> ResourceRef:
    """A part of Setpoint itself (its specs, its sweep) as a resource, so a failure of it
    is one alert, followed to its end like any drift, however often it recurs."""
    return ResourceRef(GUARD, account, ",".join(regions), name=name)


def spec_bundle_ref(account: str | None, regions: Sequence[str]) -> ResourceRef:
    return guard_ref(account, regions, SPEC_BUNDLE_NAME)


def unknown_finding(ref: ResourceRef, reason: str, spec: str | None = None) -> Finding:
    """Could not read: said so, never reported as in sync."""
    return finding_for_ref(ref, Status.UNKNOWN, reason=reason, spec=spec)


def not_read_finding(
    ref: ResourceRef, rule: IgnoreRule, tags: Iterable[tuple[str, str]] = ()
) -> Finding:
    """A resource a `.setpointignore` rule skipped before its reads: never compared, only
    counted by `quiet` (and `unknown` should anything report it: it was not read)."""
    reason = f"not read: {rule.source} ignores it"
    return dataclasses.replace(
        finding_for_ref(ref, Status.UNKNOWN, reason=reason), tags=tuple(sorted(tags))
    )


@dataclass
class SweepResult:
    findings: list[Finding] = field(default_factory=list)
    # spec sources a live resource claimed though no finding names them (two specs on one
    # resource: one `unknown` finding, both specs found), so neither is called missing
    claimed: set[str] = field(default_factory=set)
    # resources an ignore rule skipped before their own reads (`not_read_finding`): kept
    # apart from the findings, for `quiet` to count in `summary.ignored`
    ignored: list[Finding] = field(default_factory=list)

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

    def locate_spec(self, spec: Any, refs: Sequence[ResourceRef]) -> list[ResourceRef]:
        """The refs (from the family's `SpecKind.refs`) that name live resources, found
        with reads where a spec alone cannot say (a group named in any VPC)."""
        ...

    def sweep(
        self, catalog: SpecCatalog, account: str, regions: Sequence[str], kinds: frozenset[Kind]
    ) -> SweepResult: ...


def _about(findings: Sequence[Finding], ref: ResourceRef) -> bool:
    """Whether a finding speaks for `ref` (a delete by id may also find other, spec'd groups)."""
    if ref.id:
        return any(f.id == ref.id for f in findings)
    return bool(findings)


class Pipeline:
    """All kinds behind one interface, for the Lambda handlers and the CLI alike."""

    def __init__(
        self,
        pipelines: Iterable[KindPipeline],
        deletes: Callable[[str | None, Kind], bool] | None = None,
    ) -> None:
        self.pipelines = list(pipelines)
        self.kinds = {kind: p for p in self.pipelines for kind in p.kinds}
        # whether an event deletes a whole resource of a kind (the registry's lifecycle)
        self.deletes = deletes or (lambda event_name, kind: False)

    def evaluate(
        self, refs: Iterable[ResourceRef], catalog: SpecCatalog, actor: Actor | None = None
    ) -> list[Finding]:
        findings: list[Finding] = []
        for ref in refs:
            kind = self.kinds.get(ref.kind)
            if kind is None:
                findings.append(unknown_finding(ref, f"kind {ref.kind} is not enabled"))
                continue
            if not addressable_region(ref.region):
                # a garbled or made-up awsRegion: no endpoint to read it at (and no DNS
                # lookups and retries against a host that does not exist)
                reason = f"region {ref.region!r} is not an AWS region name: nothing was read"
                findings.append(dataclasses.replace(unknown_finding(ref, reason), actor=actor))
                continue
            # a family that judges a call by who made it too (the guard: Setpoint's own
            # parts changed outside its deploy, a spec written by someone else) sees the actor
            judge = getattr(kind, "evaluate_event", None)
            try:
                if judge is not None and actor is not None:
                    found = judge(ref, catalog, actor)
                else:
                    found = kind.evaluate_ref(ref, catalog)
            except SpecSetError as exc:
                # an indexed bundle parses this resource's specs only now (`spec_index`)
                logger.error("spec_error", extra={"error": str(exc)})
                reason = f"specs could not be loaded: {exc}"
                found = [unknown_finding(ref, reason, exc.errors[0].file if exc.errors else None)]
            if (
                actor is not None
                and self.deletes(actor.event_name, ref.kind)
                and not _about(found, ref)
            ):
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
                result.claimed.update(found.claimed)
                result.ignored.extend(found.ignored)
        return result


def evaluate_with_specs(
    pipeline: Pipeline,
    specs: Callable[[], SpecCatalog],
    refs: Sequence[ResourceRef],
    actor: Actor | None = None,
    today: date | None = None,
) -> list[Finding]:
    """Evaluate `refs` against the current specs; specs that cannot be loaded make each ref
    `unknown`, saying why, instead of failing the invocation nobody reads.

    The specs' ignore rules and exceptions apply here, as in `setpoint check`: a resource
    a rule names is not read at all, and what is silenced never reaches the alert state.
    """
    try:
        catalog = specs()
    except SetpointError as exc:
        logger.error("spec_error", extra={"error": str(exc)})
        reason = f"specs could not be loaded: {exc}"
        return [dataclasses.replace(unknown_finding(ref, reason), actor=actor) for ref in refs]
    return quiet_findings(
        pipeline.evaluate(unignored(refs, catalog), catalog, actor), catalog, today
    )


def unignored(refs: Sequence[ResourceRef], catalog: SpecCatalog) -> list[ResourceRef]:
    """The refs no `.setpointignore` line names; each skipped one is logged with its rule."""
    if not catalog.ignore_rules:
        return list(refs)
    kept: list[ResourceRef] = []
    for ref in refs:
        rule = ignored_ref(ref, catalog.ignore_rules)
        if rule is None:
            kept.append(ref)
            continue
        logger.info(
            "ignored",
            extra={"kind": ref.kind.value, "id": ref.id or ref.name, "rule": str(rule.source)},
        )
    return kept


def quiet_findings(
    findings: Sequence[Finding], catalog: SpecCatalog, today: date | None = None
) -> list[Finding]:
    """`noise.apply.quiet` for the Lambda paths, with what it silenced logged; specs that
    silence nothing (the common case) cost nothing."""
    return quieted_findings(findings, catalog, today).findings


def quieted_findings(
    findings: Sequence[Finding],
    catalog: SpecCatalog,
    today: date | None = None,
    skipped: Sequence[Finding] = (),
) -> Quieted:
    """`quiet_findings` with its counts; `skipped`: what a sweep did not read because a
    rule ignores it (`SweepResult.ignored`), counted once here."""
    if not catalog.ignore_rules and not catalog.noise:
        return Quieted([*findings, *skipped], 0, 0, 0, ())
    quieted = quiet(
        findings,
        catalog.ignore_rules,
        catalog.noise,
        today or datetime.now(UTC).date(),
        skipped=skipped,
    )
    if quieted.ignored or quieted.ignored_changes or quieted.excepted:
        logger.info(
            "quieted",
            extra={
                "ignored": quieted.ignored,
                "ignored_changes": quieted.ignored_changes,
                "excepted": quieted.excepted,
            },
        )
    return quieted
