"""A Terraform state write: re-read what the apply changed and close the drift it explains.

Terraform calls the AWS APIs first and writes the new state when the apply ends, so its
calls reach Setpoint while the state still describes the cloud as it was. The state
bucket tells EventBridge "Object Created" for the new `*.tfstate`; this handler reloads
the `terraform:` source that owns the object, compares the state's resources before and
after (the provider's last parse is the before; a cold process without one re-reads every
resource of that state object) and re-evaluates only the resources whose entries changed.
What now matches its state closes ("back to normal" if it had been alerted); what is still
off is drift like any other. The IaC settle windows on those resources end here
(`iac_principals.py`), so a later hand change on them is posted at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from chalicelib.alerting import EventOutcome, deliver
from chalicelib.errors import ConfigError, SpecSetError
from chalicelib.model import Finding, Status, finding_for_ref
from chalicelib.ports import SpecProvider
from chalicelib.spec_change import (
    SpecChangeContext,
    reevaluate,
    skip_write,
    spec_bundle_ref,
    specs_not_in_force,
    written_object,
)
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.diff import SpecChange, SpecDiff, diff_catalogs
from chalicelib.state.windows import SETTLE, window_key, windows_for

if TYPE_CHECKING:
    from chalicelib.sources.terraform.provider import TerraformProvider

logger = logging.getLogger("setpoint")

# terraform.provider.STATE_SUFFIX, here too: app.py builds the pattern at import, and the
# Terraform reader (with the schemas behind it) loads on the first state write only
STATE_SUFFIX = ".tfstate"


def state_event_pattern() -> dict[str, Any]:
    """Writes of `*.tfstate` objects in any bucket that sends its events to EventBridge:
    the state bucket is the user's, unknown to the stack; the handler keeps only objects
    of a `terraform:s3://` source in SETPOINT_SPECS (anything else is a logged skip)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"object": {"key": [{"suffix": STATE_SUFFIX}]}},
    }


def terraform_sources(specs: SpecProvider) -> list[TerraformProvider]:
    """The `terraform:` providers among the configured sources."""
    from chalicelib.sources.combined import CombinedProvider
    from chalicelib.sources.terraform.provider import TerraformProvider

    if isinstance(specs, TerraformProvider):
        return [specs]
    if isinstance(specs, CombinedProvider):
        return [p for _, p in specs.sources if isinstance(p, TerraformProvider)]
    return []


def handle_state_write(payload: Mapping[str, Any], context: SpecChangeContext) -> EventOutcome:
    """Re-evaluate the resources a state write changed (module docstring)."""
    outcome = EventOutcome()
    written = written_object(payload, outcome)
    if written is None:
        return outcome
    bucket, key, _ = written
    owner = _owner(terraform_sources(context.specs), bucket, key)
    if owner is None:
        return skip_write(
            outcome, f"s3://{bucket}/{key} is not a state of a terraform:s3:// source"
        )
    source, key = owner
    before = source.last_catalog
    try:
        catalog = context.specs()  # every source: conflicts with other sources still count
    except (SpecSetError, ConfigError) as exc:
        logger.error("spec_error", extra={"error": str(exc), "key": key})
        return specs_not_in_force(
            context, outcome, f"specs could not be loaded: {exc}", cause="event"
        )
    after = source.last_catalog or catalog
    diff = changed_entries(before, after, key)
    logger.info(
        "state_diff",
        extra={
            "key": key,
            "cold": before is None,
            "changes": [
                {"kind": c.kind, "action": c.action, "spec": str(c.specs[-1].source)}
                for c in diff.changes
            ],
        },
    )
    # the specs load again: closes a "specs could not be loaded" alert, if one is open
    outcome.findings.append(finding_for_ref(spec_bundle_ref(context), Status.IN_SYNC))
    found = reevaluate(context, diff, catalog, outcome)
    outcome.findings.extend(found)
    deliver(context.delivery, outcome.findings, outcome, cause="event")
    _end_windows(context, found)
    return outcome


def changed_entries(before: SpecCatalog | None, after: SpecCatalog, key: str) -> SpecDiff:
    """What changed between two loads; without a before (a cold process), every resource
    the written state object declares counts as changed."""
    if before is not None:
        return diff_catalogs(before, after)
    changes = [
        SpecChange(kind, None, spec)
        for kind in after.kinds
        for spec in after.specs_of(kind)
        if str(spec.source).startswith(f"{key}: ")
    ]
    return SpecDiff(tuple(changes))


def _end_windows(context: SpecChangeContext, findings: list[Finding]) -> None:
    """The state write came: what waited for it has been read, later calls are not held."""
    windows = windows_for(context.delivery.state)
    for finding in findings:
        windows.close(
            window_key(
                SETTLE, finding.kind, finding.account, finding.region, finding.id, finding.name
            )
        )


def _owner(
    sources: list[TerraformProvider], bucket: str, raw_key: str
) -> tuple[TerraformProvider, str] | None:
    """The source owning the object, and its key (keys in S3 events may be URL-encoded)."""
    for candidate in dict.fromkeys((raw_key, unquote_plus(raw_key))):
        for source in sources:
            if source.owns(bucket, candidate):
                return source, candidate
    return None
