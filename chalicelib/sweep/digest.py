"""The after-sweep digest as plain data, and its renderings (pure: no clock, no I/O).

A shard boils its findings and the alerts they caused down to a `ShardSummary` (small,
JSON-able: in the SQS fan-out it waits in the state table until the last shard is in);
`merge_digest` folds every summary into one `Digest`; the renderers turn that into text,
Slack Block Kit, a Teams Adaptive Card or JSON. Lists are capped so one message stays
readable and within chat limits; the counts are always complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.model import ACTOR_FROM_LOOKUP, Actor, Finding, Status
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.notify.budget import (
    bounded_json,
    fit,
    fit_lines,
    item_cost,
    json_bytes,
    more_line,
)
from chalicelib.notify.escape import escape_mrkdwn, escape_teams
from chalicelib.notify.teams import CARD_LIMIT, LINE_LIMIT, teams_message
from chalicelib.report.common import kind_noun, one_line
from chalicelib.report.scope import Silenced

STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
OPEN_STATUSES = frozenset({Status.DRIFTED, Status.MISSING, Status.UNMANAGED})
NEW_ALERTS = frozenset({AlertKind.NEW, AlertKind.CHANGED, AlertKind.PENDING_APPLY})
RESOLVED_ALERTS = frozenset({AlertKind.BACK_TO_NORMAL, AlertKind.APPLIED, AlertKind.GONE})
# entries kept per list in a shard summary, and shown per list in the digest
SHARD_LIST_CAP = 100
DIGEST_LIST_CAP = 15


@dataclass(frozen=True)
class DigestItem:
    kind: str
    id: str | None
    name: str | None
    account: str | None
    region: str
    status: str
    since: str | None = None  # first seen (ISO 8601), for open drift
    reason: str | None = None
    # who made new drift, in words ("probably ARN (EventName at time)" when looked up)
    who: str | None = None

    def label(self) -> str:
        name, rid = self.name, self.id
        text = f"{name} ({rid})" if name and rid and name != rid else (name or rid or "?")
        where = f"{kind_noun(self.kind)} {text} in {self.account or '?'}/{self.region}"
        return one_line(f"{where} — {self.who}" if self.who else where)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> DigestItem:
        return DigestItem(
            kind=str(data["kind"]),
            id=data.get("id"),
            name=data.get("name"),
            account=data.get("account"),
            region=str(data.get("region", "")),
            status=str(data["status"]),
            since=data.get("since"),
            reason=data.get("reason"),
            who=data.get("who"),
        )


def item_of(finding: Finding, since: str | None = None) -> DigestItem:
    return DigestItem(
        kind=finding.kind.value,
        id=finding.id,
        name=finding.name,
        account=finding.account,
        region=finding.region,
        status=finding.status.value,
        since=since,
        reason=finding.reason if finding.status is Status.UNKNOWN else None,
        who=who_of(finding.actor) if finding.status in OPEN_STATUSES else None,
    )


def who_of(actor: Actor | None) -> str | None:
    """`probably ARN (EventName at TIME)` for a looked-up actor, the ARN for an event's."""
    if actor is None or not actor.arn:
        return None
    if actor.source != ACTOR_FROM_LOOKUP:
        return f"by {actor.arn}"
    return f"probably {actor.arn} ({actor.event_name} at {actor.event_time or 'an unknown time'})"


@dataclass(frozen=True)
class ShardSummary:
    """One shard's share of the digest. `*_total` count what the capped lists dropped."""

    shard: str
    counts: Mapping[str, int]
    new_drift: tuple[DigestItem, ...] = ()
    resolved: tuple[DigestItem, ...] = ()
    still_open: tuple[DigestItem, ...] = ()
    unknown: tuple[DigestItem, ...] = ()
    totals: Mapping[str, int] = field(default_factory=dict)
    regionless_matched: tuple[str, ...] = ()
    unread: str | None = None
    skipped: str | None = None
    delivery_errors: int = 0
    handed_off: int = 0  # drift given to the revert function (it alerts on it)

    def to_json(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "counts": dict(self.counts),
            "new_drift": [i.to_json() for i in self.new_drift],
            "resolved": [i.to_json() for i in self.resolved],
            "still_open": [i.to_json() for i in self.still_open],
            "unknown": [i.to_json() for i in self.unknown],
            "totals": dict(self.totals),
            "regionless_matched": list(self.regionless_matched),
            "unread": self.unread,
            "skipped": self.skipped,
            "delivery_errors": self.delivery_errors,
            "handed_off": self.handed_off,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> ShardSummary:
        def items(key: str) -> tuple[DigestItem, ...]:
            return tuple(DigestItem.from_json(i) for i in data.get(key, []))

        return ShardSummary(
            shard=str(data["shard"]),
            counts={str(k): int(v) for k, v in data.get("counts", {}).items()},
            new_drift=items("new_drift"),
            resolved=items("resolved"),
            still_open=items("still_open"),
            unknown=items("unknown"),
            totals={str(k): int(v) for k, v in data.get("totals", {}).items()},
            regionless_matched=tuple(str(s) for s in data.get("regionless_matched", [])),
            unread=data.get("unread"),
            skipped=data.get("skipped"),
            delivery_errors=int(data.get("delivery_errors", 0)),
            handed_off=int(data.get("handed_off", 0)),
        )


def _capped(items: list[DigestItem], cap: int) -> tuple[DigestItem, ...]:
    return tuple(items[:cap])


def summarize(
    shard_id: str,
    findings: Sequence[Finding],
    alerts: Sequence[Alert],
    first_seen: Callable[[Finding], str | None],
    *,
    delivery_errors: int = 0,
    regionless_matched: Iterable[str] = (),
    unread: str | None = None,
    skipped: str | None = None,
    cap: int = SHARD_LIST_CAP,
    handed_off: Sequence[tuple[Finding, str | None]] = (),
    silenced: Silenced | None = None,
) -> ShardSummary:
    """One shard's findings and the alerts delivering them caused, as digest material.

    New drift: findings whose alert was new (or changed, or a pending spec change);
    resolved: back to normal, applied or gone; still open: off-spec findings that chat
    already knew about, with the time they were first seen (`first_seen`, read from the
    state store, is called for those only). `handed_off` are findings given to the revert
    function, which alerts on them (so no alert here), each with the time its drift was
    first seen, None when it is new: drift at the time of the sweep, new or still open.
    """
    counts = {status: 0 for status in STATUSES}
    for finding in findings:
        counts[finding.status.value] += 1
    counts["checked"] = len(findings)
    for key, value in silenced_counts(silenced or Silenced()).items():
        if value:  # what the specs silenced: summed into the digest and the report
            counts[key] = value
    alert_of = {id(a.finding): a for a in alerts}
    handed_since = {id(finding): since for finding, since in handed_off}
    new: list[DigestItem] = []
    resolved: list[DigestItem] = []
    still_open: list[DigestItem] = []
    unknown: list[DigestItem] = []
    resolved = [item_of(a.finding) for a in alerts if a.kind in RESOLVED_ALERTS]
    for finding in findings:
        told = alert_of.get(id(finding))
        if finding.status is Status.UNKNOWN:
            unknown.append(item_of(finding))
        elif finding.status in OPEN_STATUSES:
            if told is None and id(finding) in handed_since:
                since = handed_since[id(finding)]
                if since is None:
                    new.append(item_of(finding))
                else:
                    still_open.append(item_of(finding, since))
            elif told is not None and told.kind in NEW_ALERTS:
                new.append(item_of(finding))
            else:
                since = told.since if told is not None and told.since else first_seen(finding)
                still_open.append(item_of(finding, since))
    still_open.sort(key=_oldest_first)
    return ShardSummary(
        shard=shard_id,
        counts=counts,
        new_drift=_capped(new, cap),
        resolved=_capped(resolved, cap),
        still_open=_capped(still_open, cap),
        unknown=_capped(unknown, cap),
        totals={
            "new_drift": len(new),
            "resolved": len(resolved),
            "still_open": len(still_open),
            "unknown": len(unknown),
        },
        regionless_matched=tuple(sorted(regionless_matched)),
        unread=unread,
        skipped=skipped,
        delivery_errors=delivery_errors,
        handed_off=len(handed_off),
    )


def _oldest_first(item: DigestItem) -> tuple[str, str, str]:
    # ISO 8601 UTC strings sort by time; an unknown start sorts last
    return (item.since or "~", item.account or "", item.id or item.name or "")


@dataclass(frozen=True)
class UnknownGroup:
    reason: str
    count: int
    examples: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Digest:
    """Everything one sweep found, for one chat message."""

    run_id: str
    shards: int
    counts: Mapping[str, int]
    new_drift: tuple[DigestItem, ...]
    resolved: tuple[DigestItem, ...]
    still_open: tuple[DigestItem, ...]  # oldest first
    unknown: tuple[UnknownGroup, ...]  # most frequent reason first
    totals: Mapping[str, int]
    failed_deliveries: tuple[str, ...] = ()
    failed_delivery_total: int = 0
    delivery_errors: int = 0
    # what waits in the dead-letter queues (sweep/dead_letters.py), and how many in all
    dead_letters: tuple[str, ...] = ()
    dead_letter_total: int = 0
    skipped_shards: int = 0
    # the run's report in S3 (a presigned URL to latest.html), or why it was not written
    report_url: str | None = None
    report_error: str | None = None

    @property
    def quiet(self) -> bool:
        """Nothing new, nothing resolved, nothing open, nothing unread or undelivered."""
        return (
            not any(self.totals.values())
            and not self.failed_delivery_total
            and not self.dead_letters
        )


SILENCED_KEYS = ("ignored", "ignored_changes", "excepted")


def silenced_counts(silenced: Silenced) -> dict[str, int]:
    values = (silenced.ignored, silenced.ignored_changes, silenced.excepted)
    return dict(zip(SILENCED_KEYS, values, strict=True))


def silenced_of(summaries: Iterable[ShardSummary]) -> Silenced:
    """What the specs silenced across shards, from their counts."""
    totals = dict.fromkeys(SILENCED_KEYS, 0)
    for summary in summaries:
        for key in SILENCED_KEYS:
            totals[key] += summary.counts.get(key, 0)
    return Silenced(**totals)


def merge_digest(
    run_id: str,
    summaries: Sequence[ShardSummary],
    *,
    failed_deliveries: Sequence[str] = (),
    dead_letters: Sequence[str] = (),
    dead_letter_total: int = 0,
    cap: int = DIGEST_LIST_CAP,
) -> Digest:
    counts = {"checked": 0, **{status: 0 for status in STATUSES}, **dict.fromkeys(SILENCED_KEYS, 0)}
    totals = {"new_drift": 0, "resolved": 0, "still_open": 0, "unknown": 0}
    new: list[DigestItem] = []
    resolved: list[DigestItem] = []
    still_open: list[DigestItem] = []
    unknown: list[DigestItem] = []
    errors = 0
    for summary in summaries:
        for key, value in summary.counts.items():
            counts[key] = counts.get(key, 0) + value
        for key in totals:
            totals[key] += summary.totals.get(key, 0)
        new += summary.new_drift
        resolved += summary.resolved
        still_open += summary.still_open
        unknown += summary.unknown
        errors += summary.delivery_errors
    still_open.sort(key=_oldest_first)
    groups: dict[str, list[DigestItem]] = {}
    for item in unknown:
        groups.setdefault(item.reason or "no reason recorded", []).append(item)
    unknown_groups = sorted(
        (UnknownGroup(reason, len(items), tuple(items[:3])) for reason, items in groups.items()),
        key=lambda g: (-g.count, g.reason),
    )
    return Digest(
        run_id=run_id,
        shards=len(summaries),
        counts=counts,
        new_drift=tuple(sorted(new, key=_by_place)[:cap]),
        resolved=tuple(sorted(resolved, key=_by_place)[:cap]),
        still_open=tuple(still_open[:cap]),
        unknown=tuple(unknown_groups[:cap]),
        totals=totals,
        failed_deliveries=tuple(failed_deliveries[:cap]),
        failed_delivery_total=len(failed_deliveries),
        delivery_errors=errors,
        dead_letters=tuple(dead_letters[:cap]),
        dead_letter_total=dead_letter_total,
        skipped_shards=sum(1 for s in summaries if s.skipped),
    )


def _by_place(item: DigestItem) -> tuple[str, str, str, str]:
    return (item.account or "", item.region, item.kind, item.id or item.name or "")


# -- renderings ---------------------------------------------------------------------


def digest_headline(digest: Digest) -> str:
    c = digest.counts
    return (
        f"Setpoint sweep: {c.get('checked', 0)} checked, {c.get('in_sync', 0)} in sync, "
        f"{c.get('drifted', 0)} drifted, {c.get('unmanaged', 0)} unmanaged, "
        f"{c.get('missing', 0)} missing, {c.get('unknown', 0)} unknown"
    )


def digest_sections(digest: Digest) -> list[tuple[str, list[str]]]:
    """(title, lines) per non-empty section, in reading order; shared by every format."""
    sections: list[tuple[str, list[str]]] = []

    def more(shown: int, total: int) -> list[str]:
        return [f"… and {total - shown} more"] if total > shown else []

    if digest.totals["new_drift"]:
        lines = [f"{i.status}: {i.label()}" for i in digest.new_drift]
        sections.append(
            (
                f"New drift ({digest.totals['new_drift']})",
                lines + more(len(lines), digest.totals["new_drift"]),
            )
        )
    if digest.totals["resolved"]:
        lines = [i.label() for i in digest.resolved]
        sections.append(
            (
                f"Back to normal ({digest.totals['resolved']})",
                lines + more(len(lines), digest.totals["resolved"]),
            )
        )
    if digest.totals["still_open"]:
        lines = [f"{i.status} since {i.since or 'unknown'}: {i.label()}" for i in digest.still_open]
        sections.append(
            (
                f"Still open, oldest first ({digest.totals['still_open']})",
                lines + more(len(lines), digest.totals["still_open"]),
            )
        )
    if digest.totals["unknown"]:
        lines = []
        for group in digest.unknown:
            examples = ", ".join(i.label() for i in group.examples)
            lines.append(f"{group.count} × {one_line(group.reason)} (e.g. {examples})")
        sections.append((f"Could not read ({digest.totals['unknown']})", lines))
    if digest.failed_delivery_total or digest.delivery_errors:
        lines = [one_line(text) for text in digest.failed_deliveries]
        lines += more(len(lines), digest.failed_delivery_total)
        if digest.delivery_errors:
            lines.append(f"{digest.delivery_errors} alert(s) of this sweep could not be posted")
        total = digest.failed_delivery_total + digest.delivery_errors
        sections.append((f"Failed deliveries ({total})", lines))
    if digest.dead_letters:
        lines = [one_line(text) for text in digest.dead_letters]
        sections.append((f"Waiting in dead-letter queues ({digest.dead_letter_total})", lines))
    if digest.report_url:
        sections.append(("Report", [f"latest report: {digest.report_url}"]))
    elif digest.report_error:
        sections.append(("Report", [f"not written: {one_line(digest.report_error)}"]))
    return sections


def render_digest_text(digest: Digest) -> str:
    lines = [digest_headline(digest)]
    sections = digest_sections(digest)
    if not sections:
        lines.append("Nothing new, nothing open.")
    for title, body in sections:
        lines += ["", f"{title}:", *(f"  {line}" for line in body)]
    return "\n".join(lines)


def _slack_bullet(line: str) -> str:
    return f"• {escape_mrkdwn(line)}"


def render_digest_slack(digest: Digest) -> dict[str, Any]:
    """Block Kit with a plain-text fallback; sections stay under Slack's 3000 characters."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Setpoint sweep digest"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": escape_mrkdwn(digest_headline(digest))},
        },
    ]
    for title, body in digest_sections(digest):
        head = f"*{fit(title, 200, escape_mrkdwn, measure=len)}*\n"
        # whole lines, escaped before they are measured: a cut never halves an entity
        lines = fit_lines(body, 2900 - len(head), escape=_slack_bullet, measure=len)
        text = head + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return {"text": digest_headline(digest), "blocks": blocks}


def _teams_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def render_digest_teams(digest: Digest) -> dict[str, Any]:
    """An Adaptive Card within Teams' size limit (the budgets of notify/teams.py): each
    line bounded, sections kept in order while they fit, and a cut section says how
    many of its lines were left out."""

    def text(value: str) -> str:
        return fit(value, LINE_LIMIT, escape_teams)

    headline = digest_headline(digest)
    body: list[dict[str, Any]] = [
        _teams_block("Setpoint sweep digest", weight="Bolder", size="Medium"),
        _teams_block(text(headline)),
    ]
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "fallbackText": text(headline),
    }
    room = CARD_LIMIT - json_bytes(teams_message(card))
    sections = digest_sections(digest)
    for number, (title, lines) in enumerate(sections):
        head = _teams_block(text(title), weight="Bolder")
        blocks = [_teams_block(text(f"• {line}")) for line in lines]
        # room for this section's own cut line, and for a title of each section after it
        cut = _teams_block(more_line(len(lines), "line") + " left out", isSubtle=True)
        later = sum(
            item_cost(_teams_block(text(t), weight="Bolder")) for t, _ in sections[number + 1 :]
        )
        room -= item_cost(head)
        if room < later + item_cost(cut):  # a title is shown with room for its cut line
            break
        body.append(head)
        shown = 0
        for index, block in enumerate(blocks):
            last = index == len(blocks) - 1
            if item_cost(block) > room - later - (0 if last else item_cost(cut)):
                break
            body.append(block)
            room -= item_cost(block)
            shown += 1
        if shown < len(blocks):
            left = len(blocks) - shown
            body.append(_teams_block(more_line(left, "line") + " left out", isSubtle=True))
            room -= item_cost(body[-1])
    return teams_message(card)


def digest_json(digest: Digest) -> dict[str, Any]:
    """The digest for a JSON webhook: data lists (capped already) and its text, within the
    JSON budget of `budget.bounded_json`."""
    payload = {
        "type": "sweep_digest",
        "run_id": digest.run_id,
        "shards": digest.shards,
        "counts": dict(digest.counts),
        "totals": dict(digest.totals),
        "new_drift": [i.to_json() for i in digest.new_drift],
        "resolved": [i.to_json() for i in digest.resolved],
        "still_open": [i.to_json() for i in digest.still_open],
        "unknown": [
            {"reason": g.reason, "count": g.count, "examples": [i.to_json() for i in g.examples]}
            for g in digest.unknown
        ],
        "failed_deliveries": list(digest.failed_deliveries),
        "failed_delivery_total": digest.failed_delivery_total,
        "delivery_errors": digest.delivery_errors,
        "dead_letters": list(digest.dead_letters),
        "dead_letter_total": digest.dead_letter_total,
        "report_url": digest.report_url,
        "report_error": digest.report_error,
        "text": render_digest_text(digest),
    }
    lists = (
        ("dead_letters",),
        ("failed_deliveries",),
        ("unknown",),
        ("still_open",),
        ("resolved",),
        ("new_drift",),
    )
    return bounded_json(payload, lists)
