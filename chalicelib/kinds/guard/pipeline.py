"""The `KindPipeline` for the guard: trail and rule refs, and regional sweeps → findings.

An event names one trail or one of Setpoint's rules by ARN; it is re-read (never the event
body) and compared with the guard's desired state. A trail no guard spec names that no
longer logs every watched region is judged with the account's other trails, read only
then: while they still cover, it is quiet. A sweep of one account reads every trail that
applies in each of its regions and Setpoint's rules, and also says per region whether any
trail at all logs its management writes. Guard refs without an ARN (the spec bundle, the
sweep: reported by their own callers) have nothing to re-read here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib.aws import ClientCache
from chalicelib.errors import ReadError
from chalicelib.kinds.guard import GUARD
from chalicelib.kinds.guard.collector import GuardCollector
from chalicelib.kinds.guard.compare import (
    blind_regions,
    evaluate_coverage,
    evaluate_rule,
    evaluate_trail,
    evaluate_unnamed_trail,
)
from chalicelib.kinds.guard.events import is_rule_arn, is_trail_arn
from chalicelib.kinds.guard.model import GuardSpec, TrailState, guards
from chalicelib.kinds.guard.own import OwnParts, own_from_env
from chalicelib.kinds.guard.own_collector import OwnCollector
from chalicelib.kinds.guard.own_compare import (
    evaluate_bucket,
    evaluate_bus,
    evaluate_function,
    evaluate_outside_deploy,
    evaluate_role,
)
from chalicelib.kinds.guard.own_events import (
    FUNCTION_UNJUDGED,
    ROLE_UNJUDGED,
    bucket_arn,
    is_bucket_arn,
    is_bus_arn,
    is_function_arn,
    is_object_arn,
    is_role_arn,
)
from chalicelib.kinds.guard.publishers import requester_finding, writer_finding
from chalicelib.model import (
    GLOBAL_REGION,
    Actor,
    Finding,
    Kind,
    ResourceRef,
    Status,
    finding_for_ref,
)
from chalicelib.pipeline import SweepResult, unknown_finding
from chalicelib.specs.catalog import SpecCatalog

if TYPE_CHECKING:
    from chalicelib.specs.sink import SpecSink

logger = logging.getLogger("setpoint")


class Desired:
    """The guard specs that apply to one account, folded into what the pipeline asks."""

    def __init__(self, catalog: SpecCatalog, account: str | None) -> None:
        self.specs: tuple[GuardSpec, ...] = tuple(
            s
            for s in catalog.specs_of(GUARD)
            if s.account is None or account is None or s.account == account
        )
        self.named = {t for s in self.specs for t in s.trails}
        self.regions = tuple(sorted({r for s in self.specs for r in s.regions}))

    @property
    def spec(self) -> GuardSpec | None:
        return self.specs[0] if self.specs else None

    def watches(self, arn: str, name: str | None) -> bool:
        """Without named trails every trail counts towards Setpoint's sight; else the named."""
        return not self.named or self.names(arn, name)

    def names(self, arn: str, name: str | None) -> bool:
        """A spec names this trail: it is judged strictly, on its own."""
        return arn in self.named or (name is not None and name in self.named)

    def spec_for_trail(self, arn: str, name: str | None) -> GuardSpec | None:
        for spec in self.specs:
            if arn in spec.trails or (name is not None and name in spec.trails):
                return spec
        return self.spec


@dataclass(frozen=True)
class Coverage:
    """What a sweep judges unnamed trails against: the watched regions whose trails could
    be read (none: unnamed trails are not judged) and every trail read."""

    watched: tuple[str, ...]
    trails: tuple[TrailState, ...]

    @property
    def judged(self) -> bool:
        return bool(self.watched)


class GuardPipeline:
    kinds: tuple[Kind, ...] = (GUARD,)

    def __init__(
        self,
        collector: GuardCollector,
        own: OwnParts | None = None,
        own_collector: OwnCollector | None = None,
        watched: Sequence[str] = (),
    ) -> None:
        self.collector = collector
        # the regions Setpoint watches (SETPOINT_REGIONS) when no guard spec lists them;
        # empty: every region (only a multi-region trail covers them all)
        self.watched = tuple(watched)
        # Setpoint's own parts (functions, roles, spec bucket, bus); without a collector
        # for them only trails and rules are watched
        self.own = own or OwnParts()
        self.own_collector = own_collector

    def locate_spec(self, spec: Any, refs: Sequence[ResourceRef]) -> list[ResourceRef]:
        return list(refs)

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        desired = Desired(catalog, ref.account)
        try:
            if is_trail_arn(ref.id):
                assert ref.id is not None
                if not desired.watches(ref.id, ref.name):
                    return []
                spec = desired.spec_for_trail(ref.id, ref.name)
                trail = self.collector.read_trail(ref.region, ref.id)
                if desired.names(ref.id, ref.name):
                    return [evaluate_trail(trail, spec, desired.regions, ref=ref)]
                return [self._unnamed_trail(trail, spec, desired.regions or self.watched, ref)]
            if ref.id is not None and is_rule_arn(ref.id) and ref.name:
                bus = _bus_of(ref.id)
                rule = self.collector.read_rule(ref.region, ref.name, bus)
                return [evaluate_rule(rule, desired.spec, ref=ref)]
            if self.own_collector is not None:
                return self._own_ref(ref, self.own_collector)
        except ReadError as exc:
            return [unknown_finding(ref, str(exc))]
        return []

    def _unnamed_trail(
        self,
        trail: TrailState | None,
        spec: GuardSpec | None,
        watched: Sequence[str],
        ref: ResourceRef,
    ) -> Finding:
        """A trail no spec names, after its event: fine on its own, no more reads; else the
        account's other trails are read, the home region's first (multi-region trails show
        there) and a watched region's own only while it is still uncovered."""
        if trail is not None and guards(trail, watched):
            return evaluate_trail(trail, spec, watched)
        known = {trail.arn: trail} if trail is not None else {}
        try:
            others = self.collector.list_trails(ref.region, known)
            for region in watched:
                blind = blind_regions(trail, watched, others)
                if blind is None or region not in blind or region == ref.region:
                    continue
                others += self.collector.list_trails(region, known)
        except ReadError as exc:
            # judged on its own, saying why: a stopped trail is never let pass unread
            finding = evaluate_trail(trail, spec, watched, ref=ref)
            note = f"the account's other trails could not be read ({exc})"
            return replace(finding, reason="; ".join(filter(None, (finding.reason, note))))
        return evaluate_unnamed_trail(trail, spec, watched, others, ref)

    def _own_ref(self, ref: ResourceRef, reader: OwnCollector) -> list[Finding]:
        """Setpoint's own function, role, spec bucket or bus, re-read; anything else that
        the event rows found (another app's function, another bucket) is not its concern."""
        own, name = self.own, ref.name or ""
        if is_function_arn(ref.id):
            if not own.owns_function(name):
                return []
            return [evaluate_function(reader.read_function(ref.region, name), own, ref)]
        if is_role_arn(ref.id):
            if not own.owns_role(name):
                return []
            return [evaluate_role(reader.read_role(name), ref)]
        if is_bucket_arn(ref.id):
            if not own.is_spec_bucket(name):
                return []
            return [evaluate_bucket(reader.read_bucket(ref.region, name, ref.account), own, ref)]
        if is_bus_arn(ref.id):
            return [evaluate_bus(reader.read_bus(ref.region, name or "default"), own)]
        return []

    def evaluate_event(self, ref: ResourceRef, catalog: SpecCatalog, actor: Actor) -> list[Finding]:
        """`evaluate_ref`, and what only the call tells: Setpoint's function or role changed
        by anyone but its deploy, a spec written by someone other than a publisher."""
        found = self.evaluate_ref(ref, catalog)
        own, name = self.own, ref.name or ""
        deployed_part = is_rule_arn(ref.id) or (is_function_arn(ref.id) and own.owns_function(name))
        if deployed_part and own.deployed(actor):
            found = _as_deploy(found, ref, actor)
        if self.own_collector is None:
            return found
        extra: Finding | None = None
        if is_function_arn(ref.id) and own.owns_function(name):
            noun = f"Setpoint's function {name}"
            extra = evaluate_outside_deploy(ref, noun, actor, own, FUNCTION_UNJUDGED)
        elif is_role_arn(ref.id) and own.owns_role(name):
            noun = f"Setpoint's role {name}"
            extra = evaluate_outside_deploy(ref, noun, actor, own, ROLE_UNJUDGED)
        elif is_object_arn(ref.id) and ref.id is not None:
            bucket, _, key = ref.id.removeprefix("arn:aws:s3:::").partition("/")
            extra = writer_finding(own, bucket, key, actor, ref.account)
        return [*found, extra] if extra is not None else found

    def spec_write(
        self, bucket: str, key: str, requester: str | None, account: str | None
    ) -> Finding | None:
        """An S3 "Object Created" on the spec location (in the bucket owner's `account`) by
        `requester`, the account S3 names: the guard finding when no publisher made it."""
        return requester_finding(self.own, bucket, key, requester, account)

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset({GUARD}),
    ) -> SweepResult:
        result = SweepResult()
        if GUARD not in kinds:
            return result
        desired = Desired(catalog, account)
        known: dict[str, TrailState] = {}
        listed: dict[str, list[TrailState] | ReadError] = {}
        for region in regions:
            try:
                listed[region] = self.collector.list_trails(region, known)
            except ReadError as exc:
                listed[region] = exc
        # regions whose trails could not be read are reported unknown, never judged blind
        read = [r for r in (desired.regions or regions) if not isinstance(listed.get(r), ReadError)]
        coverage = Coverage(tuple(read), tuple(known.values()))
        for region in regions:
            result.findings.extend(self._trails(desired, account, region, listed[region], coverage))
            result.findings.extend(self._rules(desired, account, region))
        if self.own_collector is not None:
            result.findings.extend(self._own(self.own_collector, account, regions))
        return result

    def _own(self, reader: OwnCollector, account: str, regions: Sequence[str]) -> list[Finding]:
        """Setpoint's functions and the bus in each region, its roles, its spec bucket."""
        own = self.own
        findings: list[Finding] = []
        for region in regions:
            try:
                functions = reader.list_functions(region, own.owns_function)
            except ReadError as exc:
                ref = ResourceRef(GUARD, account, region, name="(Setpoint's functions)")
                findings.append(unknown_finding(ref, str(exc)))
            else:
                for state in functions:
                    ref = ResourceRef(GUARD, account, region, id=state.arn, name=state.name)
                    findings.append(evaluate_function(state, own, ref))
            try:
                findings.append(evaluate_bus(reader.read_bus(region), own))
            except ReadError as exc:
                ref = ResourceRef(GUARD, account, region, name="(event bus)")
                findings.append(unknown_finding(ref, str(exc)))
        try:
            roles = reader.list_roles(own.owns_role)
        except ReadError as exc:
            ref = ResourceRef(GUARD, account, GLOBAL_REGION, name="(Setpoint's roles)")
            findings.append(unknown_finding(ref, str(exc)))
        else:
            for role in roles:
                ref = ResourceRef(GUARD, account, GLOBAL_REGION, id=role.arn, name=role.name)
                findings.append(evaluate_role(role, ref))
        bucket = own.spec_bucket
        if bucket is not None and own.home_account in (None, account) and regions:
            ref = ResourceRef(GUARD, account, GLOBAL_REGION, id=bucket_arn(bucket), name=bucket)
            try:
                findings.append(
                    evaluate_bucket(reader.read_bucket(regions[0], bucket, account), own, ref)
                )
            except ReadError as exc:
                findings.append(unknown_finding(ref, str(exc)))
        return findings

    def _trails(
        self,
        desired: Desired,
        account: str,
        region: str,
        trails: list[TrailState] | ReadError,
        coverage: Coverage,
    ) -> list[Finding]:
        if isinstance(trails, ReadError):
            ref = ResourceRef(GUARD, account, region, name="(all trails)")
            return [unknown_finding(ref, str(trails))]
        findings = []
        seen: set[str] = set()
        for trail in trails:
            seen.update((trail.arn, trail.name))
            if trail.home_region != region or not desired.watches(trail.arn, trail.name):
                continue  # another region's (or account's) trail is judged where it lives
            spec = desired.spec_for_trail(trail.arn, trail.name)
            if desired.names(trail.arn, trail.name):
                findings.append(evaluate_trail(trail, spec, desired.regions))
            elif coverage.judged:
                watched, others = coverage.watched, coverage.trails
                findings.append(evaluate_unnamed_trail(trail, spec, watched, others))
        for named in sorted(desired.named - seen):
            if is_trail_arn(named) and named.split(":")[3] == region:
                ref = ResourceRef(GUARD, account, region, id=named, name=named.rsplit("/", 1)[-1])
                findings.append(evaluate_trail(None, desired.spec_for_trail(named, None), (), ref))
        guarding = [t for t in trails if _guards_region(t, region)]
        findings.append(evaluate_coverage(account, region, trails, guarding))
        return findings

    def _rules(self, desired: Desired, account: str, region: str) -> list[Finding]:
        try:
            rules = self.collector.list_rules(region)
        except ReadError as exc:
            ref = ResourceRef(GUARD, account, region, name="(Setpoint's rules)")
            return [unknown_finding(ref, str(exc))]
        return [evaluate_rule(rule, desired.spec) for rule in rules]


def _as_deploy(found: list[Finding], ref: ResourceRef, actor: Actor) -> list[Finding]:
    """Setpoint's rule or function as its own deploy left it (CloudFormation, or a
    configured deployer): a part it deleted was the deploy's to delete (a replaced rule's
    old name), so it is in order and any alert still open on it ends; a part caught
    mid-update is not judged now, the next sweep reads it whole; one that is fine says so,
    and ends an open alert."""
    kept: list[Finding] = []
    for finding in found:
        if finding.status is Status.MISSING:
            who = actor.arn or "its stack"
            reason = f"deleted by Setpoint's own deploy ({who}, {actor.event_name})"
            kept.append(finding_for_ref(ref, Status.IN_SYNC, spec=finding.spec, reason=reason))
        elif finding.status is Status.DRIFTED:
            logger.info(
                "guard_deploy_not_judged",
                extra={"id": finding.id, "event": actor.event_name, "actor": actor.arn},
            )
        else:
            kept.append(finding)
    return kept


def _guards_region(trail: TrailState, region: str) -> bool:
    return guards(trail, (region,))


def _bus_of(arn: str) -> str:
    path = arn.split(":", 5)[-1].removeprefix("rule/")
    return path.rsplit("/", 1)[0] if "/" in path else "default"


ENV_REGIONS = "SETPOINT_REGIONS"


def watched_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The regions Setpoint watches, as SETPOINT_REGIONS lists them; unset or `enabled`
    (each account's own list, unknown here): every region, so only a multi-region trail
    keeps an event's account covered."""
    text = (os.environ if env is None else env).get(ENV_REGIONS, "").strip()
    if text.lower() == "enabled":
        return ()
    return tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))


def build_guard_pipeline(clients: ClientCache) -> GuardPipeline:
    """Trails, rules, and Setpoint's own parts as the environment names them."""
    own_collector = OwnCollector(
        clients.factory("lambda"),
        clients.factory("iam"),
        clients.factory("s3"),
        clients.factory("events"),
    )
    return GuardPipeline(
        GuardCollector(clients.factory("cloudtrail"), clients.factory("events")),
        own_from_env(),
        own_collector,
        watched_from_env(),
    )


def export_guard(
    clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
) -> int:
    """Write `out/guard/guard.yaml` naming the trails that keep Setpoint's sight today."""
    from chalicelib.kinds.guard.writer import render_guard_spec

    collector = GuardCollector(clients.factory("cloudtrail"), clients.factory("events"))
    found: dict[str, TrailState] = {}
    for region in regions:
        try:
            trails = collector.list_trails(region)
        except ReadError as exc:
            print(f"{region}: trails not imported, {exc}")
            continue
        found.update((t.arn, t) for t in trails if guards(t, regions))
    if not found:
        print("guard: no trail logs management write events in every region; nothing written")
        return 0
    target = out.root / "guard" / "guard.yaml"
    names = sorted(t.name for t in found.values())
    text = render_guard_spec(names, schema_ref=out.schema_ref(target))
    written = int(out.write(GUARD, "guard", target, text, "guard"))
    print(f"guard: {len(names)} trail(s) → {target}")
    return written
