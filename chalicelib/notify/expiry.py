"""Posting the reminders of exceptions that expire within a day, once each.

Each reminder is claimed in the state table first (a row under `expiry#…`, beside the
alert records, gone by TTL two days after the exception ends), so the hourly sweep posts
it once however many sweeps run in its last day. A reminder no notifier took gives the
claim back: the next sweep tries again. Needs the row store's dynamodb:PutItem and
DeleteItem on the state table, which the functions already have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from chalicelib.alerting import Delivery
from chalicelib.noise.expiry import Expiring, expiring, reminder_text
from chalicelib.notify.quieter import summary_targets
from chalicelib.notify.storm import post_notice
from chalicelib.scrub import error_text
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.state.errors import StateConflictError
from chalicelib.state.record import iso
from chalicelib.state.rows import rows_for

logger = logging.getLogger("setpoint")

NOTICE = "exception_expiring"  # `notice` of the JSON body
KEEP_ROW = timedelta(days=2)  # after the exception ends: long enough for no repeat


@dataclass
class Reminded:
    posted: list[str] = field(default_factory=list)  # where each exception is written
    already: int = 0  # reminded by an earlier sweep
    errors: list[str] = field(default_factory=list)


def resources_of(catalog: SpecCatalog) -> Mapping[str, str]:
    """A spec's source (the catalog's noise key) -> `KIND NAME`, for the reminder."""
    found = {}
    for kind, specs in catalog.by_kind.items():
        for spec in specs:
            name = getattr(spec, "name", None) or getattr(spec, "group_id", None)
            found[str(spec.source)] = f"{kind} {name}" if name else kind
    return found


def post_expiry_reminders(delivery: Delivery, catalog: SpecCatalog) -> Reminded:
    """Remind chat of every exception ending within a day, unless already reminded."""
    result = Reminded()
    if not catalog.noise:
        return result
    now = delivery.clock()
    due = expiring(catalog.noise, now, resources_of(catalog))
    if not due:
        return result
    rows = rows_for(delivery.state)
    targets = summary_targets(delivery.notifiers)
    for item in due:
        body = {"exception": str(item.exception.source), "until": item.exception.until}
        try:
            rows.write(item.key, {**body, "reminded_at": iso(now)}, None, item.ends_at + KEEP_ROW)
        except StateConflictError:
            result.already += 1
            continue
        failed = _post(targets, item, reminder_text(item, now))
        if targets and len(failed) == len(targets):
            rows.remove(item.key)  # nobody heard it: the next sweep tries again
            result.errors.append(f"{item.exception.source}: {failed[0]}")
            continue
        result.posted.append(str(item.exception.source))
    logger.info(
        "exception_reminders",
        extra={"posted": result.posted, "already": result.already, "errors": result.errors},
    )
    return result


def _post(targets: list[object], item: Expiring, text: str) -> list[str]:
    """Post to every target; one failing does not silence (or re-post to) the rest."""
    failed = []
    for target in targets:
        try:
            post_notice(target, text, NOTICE)
        except Exception as exc:  # any failure is this notifier's, never the sweep's
            failed.append(error_text(exc))
            logger.error(
                "exception_reminder_not_posted",
                extra={"exception": str(item.exception.source), "error": error_text(exc)},
            )
    return failed
