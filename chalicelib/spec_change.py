"""A spec push: re-evaluate what it changed, and call the drift it reveals "pending apply".

S3 tells EventBridge "Object Created" when `setpoint push` writes the bundle (or when one
YAML object under the spec prefix is written). The spec moved ahead of the cloud, so the
drift it shows is code waiting to be applied, not somebody's unapproved change: findings
go through `deliver` with `cause="spec_change"`, and the state rules do the rest (a
later cloud change that matches closes it as "applied").

Only resources whose specs changed are read. The catalog before the change comes from
the object's previous version (the spec bucket is versioned); without one, from the
catalog this process loaded last; without that, nothing is compared and the next sweep
reports any drift as usual.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from chalicelib import pipeline
from chalicelib.alerting import Delivery, EventOutcome, deliver
from chalicelib.errors import ConfigError, SpecSetError
from chalicelib.events.route import Skipped, SkipReason
from chalicelib.kinds.registry import kind_named
from chalicelib.model import (
    GUARD,
    Actor,
    Finding,
    ResourceRef,
    Status,
    finding_for_ref,
    gone_finding,
)
from chalicelib.pipeline import Pipeline, quiet_findings, unknown_finding
from chalicelib.ports import SpecProvider
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.diff import SpecDiff, diff_catalogs, spec_refs
from chalicelib.specs.s3_source import S3SpecProvider, S3SpecSource
from chalicelib.state import Cause
from chalicelib.state.fingerprint import change_keys
from chalicelib.state.record import alias_key, record_key

logger = logging.getLogger("setpoint")

SPEC_EVENT_SOURCE = "aws.s3"
SPEC_DETAIL_TYPES = ("Object Created",)
# every deployment's spec bucket is `setpoint-specs-<account>-<stage>` (infra/setpoint.yaml)
SPEC_BUCKET_PREFIX = "setpoint-specs-"
# the same ref and wording as the sweep's, so both speak of one "specs do not load" story
SPEC_BUNDLE_NAME = pipeline.SPEC_BUNDLE_NAME


@dataclass(frozen=True)
class SpecChangeContext:
    """What a spec push is handled with: the specs in force (an `S3SpecProvider` brings
    its ETag cache and last catalog), the pipeline to re-read with, and delivery.

    `s3` makes an S3 client, for a location other than the provider's own; `location`
    is where the specs are configured (SETPOINT_SPECS) when the provider does not say.
    """

    delivery: Delivery
    pipeline: Pipeline
    specs: SpecProvider
    account_id: Callable[[], str]
    regions: Sequence[str]
    s3: Callable[[], Any]
    location: str = ""


def spec_bundle_ref(context: SpecChangeContext) -> ResourceRef:
    return pipeline.spec_bundle_ref(context.account_id(), context.regions)


def spec_event_pattern(bucket: str | None = None) -> dict[str, Any]:
    """The EventBridge pattern for writes to the spec bucket.

    app.py computes its patterns at import, when the bucket's name (it holds the account
    id) is not known: without `bucket` the pattern matches every Setpoint spec bucket by
    prefix, and the merge template narrows the deployed rule to the stack's own bucket.
    The handler checks the bucket and key again either way.
    """
    name: Any = bucket if bucket is not None else {"prefix": SPEC_BUCKET_PREFIX}
    return {
        "source": [SPEC_EVENT_SOURCE],
        "detail-type": list(SPEC_DETAIL_TYPES),
        "detail": {"bucket": {"name": [name]}},
    }


def handle_spec_change(
    payload: Mapping[str, Any], context: SpecChangeContext, *, location: str | None = None
) -> EventOutcome:
    """Re-evaluate the resources whose specs an S3 write changed; alert as pending apply."""
    outcome = EventOutcome()
    written = written_object(payload, outcome)
    if written is None:
        return outcome
    bucket, raw_key, version_id = written
    try:
        source = _source_for(context, location)
    except ConfigError as exc:
        outcome.errors.append(f"config_error: {exc}")
        logger.error("config_error", extra={"error": str(exc)})
        return outcome
    if source is None:
        return skip_write(outcome, f"specs are not read from S3 ({_location(context, location)!r})")
    key = _key_in(source, bucket, raw_key)
    if key is None:
        where = f"s3://{source.bucket}/{source.prefix}"
        return skip_write(outcome, f"s3://{bucket}/{raw_key} is outside the spec location {where}")

    untrusted = untrusted_writer(context, payload, bucket, key)
    if untrusted is not None:
        # someone other than the publisher wrote specs: compare nothing against them here,
        # so no open alert is closed or called "pending apply" by this write
        logger.error("spec_writer_untrusted", extra={"key": key, "error": untrusted.changes})
        outcome.findings.append(untrusted)
        deliver(context.delivery, [untrusted], outcome, cause="event")
        return outcome

    before = source.last_catalog
    source.forget(key)
    try:
        new = source.load()
    except (SpecSetError, ConfigError) as exc:
        # a broken push (or an unreadable bucket): say which file and line, compare
        # nothing, so no drift is called "pending" against specs that are not in force
        logger.error("spec_error", extra={"error": str(exc), "key": key})
        return specs_not_in_force(context, outcome, f"specs could not be loaded: {exc}")

    if source.refusals:
        # a forged or unsigned write: the last verified specs stay in force, nothing is
        # compared against the refused ones, and the refusal is one guard alert
        reason = "specs refused, the last verified ones stay in force: " + "; ".join(
            source.refusals
        )
        logger.error("spec_refused", extra={"error": reason, "key": key})
        return specs_not_in_force(context, outcome, reason)
    old = _previous_catalog(source, key, version_id, before)
    # the specs load again: closes a "specs could not be loaded" alert, if one is open
    outcome.findings.append(finding_for_ref(spec_bundle_ref(context), Status.IN_SYNC))
    if old is None:
        skip_write(outcome, f"no earlier specs to compare s3://{bucket}/{key} with; the sweep will")
    else:
        diff = diff_catalogs(old, new)
        logger.info(
            "spec_diff",
            extra={
                "key": key,
                "version_id": version_id,
                "changes": [
                    {"kind": c.kind, "action": c.action, "spec": str(c.specs[-1].source)}
                    for c in diff.changes
                ],
            },
        )
        found = reevaluate(context, diff, new, outcome)
        outcome.findings.extend(found)
        unapproved = already_off(context, found, old)
        if unapproved:
            # off the old spec too: the push did not cause it, someone did by hand
            calm = [f for f in outcome.findings if f not in unapproved]
            deliver(context.delivery, calm, outcome, cause="spec_change")
            deliver(context.delivery, unapproved, outcome, cause="event")
            return outcome
    deliver(context.delivery, outcome.findings, outcome, cause="spec_change")
    return outcome


def untrusted_writer(
    context: SpecChangeContext, payload: Mapping[str, Any], bucket: str, key: str
) -> Finding | None:
    """The guard's finding when the write's requester (the account S3 names) cannot be a
    spec publisher; None when it may be, or when no publisher is configured."""
    judge = getattr(context.pipeline.kinds.get(GUARD), "spec_write", None)
    detail = payload.get("detail")
    if judge is None or not isinstance(detail, Mapping):
        return None
    requester = detail.get("requester")
    owner = payload.get("account")
    found = judge(
        bucket,
        key,
        requester if isinstance(requester, str) else None,
        owner if isinstance(owner, str) else None,
    )
    if found is None or not found.is_problem:
        return None
    actor = Actor(
        arn=found.changes[0].actual if found.changes else None,
        event_name=str(detail.get("reason") or "PutObject"),
        event_time=str(payload.get("time") or "") or None,
        event_id=str(payload.get("id") or "") or None,
        source_ip=str(detail.get("source-ip-address") or "") or None,
        account=requester if isinstance(requester, str) else None,
        region=str(payload.get("region") or "") or None,
    )
    return dataclasses.replace(found, actor=actor)


def already_off(
    context: SpecChangeContext, findings: Sequence[Finding], old: SpecCatalog
) -> list[Finding]:
    """Findings with a change that the previous specs would have reported as well.

    Such a change was not made by the push (a hand change whose event has not arrived, or
    fell in a settle window): it is unapproved, never "pending apply".
    """
    off: list[Finding] = []
    for finding in findings:
        if not finding.changes:
            continue
        before = context.pipeline.evaluate([finding.ref], old)
        if change_keys(finding.changes) & change_keys(tuple(c for f in before for c in f.changes)):
            off.append(finding)
    return off


def written_object(
    payload: Mapping[str, Any], outcome: EventOutcome
) -> tuple[str, str, str | None] | None:
    """`object_of`, or None with the malformed event recorded in `outcome` and logged."""
    try:
        return object_of(payload)
    except ValueError as exc:
        outcome.errors.append(f"malformed_event: {exc}")
        logger.error("malformed_event", extra={"error": str(exc)})
        return None


def specs_not_in_force(
    context: SpecChangeContext, outcome: EventOutcome, reason: str, cause: Cause = "spec_change"
) -> EventOutcome:
    """Compare nothing against specs that did not load (or were refused): one `unknown`
    finding on the spec bundle says why, followed to its end like any alert."""
    outcome.findings.append(unknown_finding(spec_bundle_ref(context), reason))
    deliver(context.delivery, outcome.findings, outcome, cause=cause)
    return outcome


def object_of(payload: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(bucket, key, version id) of an S3 EventBridge event; ValueError when it is not one."""
    if payload.get("source") != SPEC_EVENT_SOURCE:
        raise ValueError(f"source {payload.get('source')!r} is not {SPEC_EVENT_SOURCE!r}")
    detail = payload.get("detail")
    if not isinstance(detail, Mapping):
        raise ValueError("no detail object")
    bucket = detail.get("bucket")
    obj = detail.get("object")
    if not isinstance(bucket, Mapping) or not isinstance(obj, Mapping):
        raise ValueError("detail has no bucket or object")
    name, key = bucket.get("name"), obj.get("key")
    if not isinstance(name, str) or not isinstance(key, str) or not name or not key:
        raise ValueError("detail.bucket.name and detail.object.key must be strings")
    version = obj.get("version-id")
    return name, key, version if isinstance(version, str) and version else None


def _location(context: SpecChangeContext, location: str | None) -> str:
    if location:
        return location
    if isinstance(context.specs, S3SpecProvider):
        return context.specs.uri
    return context.location


def _source_for(context: SpecChangeContext, location: str | None) -> S3SpecSource | None:
    """The provider's own source (its cache and last catalog), else a fresh one."""
    if location is None and isinstance(context.specs, S3SpecProvider):
        return context.specs.source
    uri = _location(context, location)
    if not uri.startswith("s3://"):
        return None
    return S3SpecSource(context.s3(), uri)


def _key_in(source: S3SpecSource, bucket: str, key: str) -> str | None:
    """The object key if it is part of the specs; keys in S3 events may be URL-encoded."""
    if bucket != source.bucket:
        return None
    for candidate in dict.fromkeys((key, unquote_plus(key))):
        if source.owns(candidate):
            return candidate
    return None


def skip_write(outcome: EventOutcome, detail: str) -> EventOutcome:
    skipped = Skipped(SkipReason.NOT_WATCHED, detail)
    outcome.skipped.append(skipped)
    logger.info("skipped", extra={"reason": skipped.reason.value, "detail": detail})
    return outcome


def _previous_catalog(
    source: S3SpecSource, key: str, version_id: str | None, before: SpecCatalog | None
) -> SpecCatalog | None:
    """The specs in force before this write (see the module docstring).

    An earlier version that did not load was never in force: walk back past it.
    """
    try:
        for body in source.previous_bodies(key, version_id):
            try:
                return source.catalog_with(key, body)
            except SpecSetError as exc:
                logger.info("earlier_specs_invalid", extra={"key": key, "error": str(exc)})
    except ConfigError as exc:
        logger.warning(
            "earlier_specs_unavailable",
            extra={"key": key, "error": str(exc), "fallback": before is not None},
        )
    return before


def reevaluate(
    context: SpecChangeContext, diff: SpecDiff, catalog: SpecCatalog, outcome: EventOutcome
) -> list[Finding]:
    """Read and compare every resource a changed spec names (before or after the change)."""
    account = context.account_id()
    regions = list(context.regions)
    refs: list[ResourceRef] = []
    for change in diff.changes:
        for spec in change.specs:
            owner = getattr(spec, "account", None)
            if owner and owner != account:
                skip_write(outcome, f"{spec.source}: account {owner} is read by its own sweep")
                continue
            for_spec = spec_refs(change.kind, spec, account, regions)
            kind_pipeline = context.pipeline.kinds.get(kind_named(change.kind))
            if kind_pipeline is not None and for_spec:
                for_spec = kind_pipeline.locate_spec(spec, for_spec)
            refs.extend(ref for ref in for_spec if ref not in refs)
    findings: list[Finding] = []
    seen: set[tuple[str, str | None, str, str | None]] = set()
    for ref in refs:
        found = context.pipeline.evaluate([ref], catalog) or _gone(context, ref)
        for finding in found:
            key = (finding.kind.value, finding.account, finding.region, finding.id or finding.name)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    # a pushed exception or `ignore:` silences here as it does for events and the sweep
    return quiet_findings(findings, catalog, context.delivery.clock().date())


def _gone(context: SpecChangeContext, ref: ResourceRef) -> list[Finding]:
    """Nothing there and no spec wants it now: close what the old spec left open, if any."""
    finding = gone_finding(ref)
    keys = (record_key(finding), alias_key(finding))
    return [finding] if any(k and context.delivery.state.get(k) for k in keys) else []
