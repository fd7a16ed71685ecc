"""One finding as a chat message: plain text, Slack Block Kit, or JSON for any webhook.

Pure functions: the finding holds everything a message says (who, when, from where, the
exact change, the spec it departs from), so a message can be rebuilt from state at any
time and tested without a clock or a network.

Everything that came from the cloud or from the event goes through `escape` before it
reaches Slack, and Slack's limits (header 150 characters, section text 3000, field 2000,
50 blocks) are respected by construction, truncating with "… and N more changes".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.model import CRITICAL_PREFIX, Actor, Change, Finding, Kind, Status, is_critical
from chalicelib.notify.budget import bounded_json
from chalicelib.notify.escape import (
    ELLIPSIS,
    code_span,
    escape_code,
    escape_mrkdwn,
    escape_truncated,
)
from chalicelib.report.common import (
    alarming_first,
    change_body,
    change_line,
    described,
    exception_for,
    first_next_step,
    id_and_name,
    is_alarming,
    kind_noun,
    one_line,
    spec_place,
)
from chalicelib.report.json_report import finding_to_dict

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3000
CHANGE_LINE_LIMIT = 400
USER_AGENT_LIMIT = 300
OPEN_LIST_LIMIT = 5

_STATUS_EMOJI = {
    Status.DRIFTED: ":warning:",
    Status.UNMANAGED: ":grey_question:",
    Status.MISSING: ":x:",
    Status.UNKNOWN: ":grey_exclamation:",
    Status.IN_SYNC: ":white_check_mark:",
}


def headline(finding: Finding) -> str:
    """The one sentence a reader sees first (header, notification, console); what blinds
    Setpoint says so first ("Critical: ...")."""
    text = _status_headline(finding)
    return CRITICAL_PREFIX + text if is_critical(finding) and finding.is_problem else text


def _status_headline(finding: Finding) -> str:
    group = described(finding)
    status = finding.status
    if status is Status.DRIFTED:
        return f"Drift: {group} departs from its spec"
    if status is Status.UNMANAGED:
        return f"Unmanaged: {group} has no spec"
    if status is Status.MISSING:
        spec = one_line(finding.spec) if finding.spec else "(unknown file)"
        return f"Missing: spec {spec} names {group}, which does not exist"
    if status is Status.UNKNOWN:
        reason = one_line(finding.reason) if finding.reason else "no reason recorded"
        return f"Unknown: could not read {group}: {reason}"
    return f"Back to normal: {group} matches its spec again"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _open_count(changes: Sequence[Change]) -> int:
    return sum(is_alarming(c) for c in changes)


def _open_sentence(count: int, kind: Kind) -> str:
    spec_kind = SPEC_KINDS.get(kind)
    if spec_kind is not None and spec_kind.opening is not None:
        item, verbs = spec_kind.opening
        return f"{_plural(count, item)} here {verbs[count != 1]}"
    verb = "opens" if count == 1 else "open"
    return f"{_plural(count, 'change')} here {verb} it to anyone on the internet"


def _who_text(actor: Actor) -> str:
    who = one_line(actor.arn) if actor.arn else "an unknown principal"
    if actor.session_issuer and actor.session_issuer != actor.arn:
        who += f" (role {one_line(actor.session_issuer)})"
    if actor.via_label:
        who += f" {one_line(actor.via_label)}"
    if actor.probably_label:
        who += f" {actor.probably_label}"
    return who


def resource_line(finding: Finding) -> str:
    """`Resource: security group sg-0abc "jenkins", vpc vpc-0123, us-east-1, account …`."""
    where = [f"{kind_noun(finding.kind)} {id_and_name(finding)}"]
    if finding.vpc_id:
        where.append(f"vpc {one_line(finding.vpc_id)}")
    where.append(one_line(finding.region))
    where.append(f"account {one_line(finding.account or '?')}")
    return "Resource: " + ", ".join(where)


def actor_lines(actor: Actor, who: str = "Who") -> list[str]:
    """Who did it, when, and from where; `who` names the role ("Fixed by", "Deleted by")."""
    lines = [f"{who}: {_who_text(actor)}"]
    when = one_line(actor.event_time) if actor.event_time else "(time not recorded)"
    lines.append(f"When: {when} ({one_line(actor.event_name)})")
    origin = [one_line(v) for v in (actor.source_ip, actor.user_agent) if v]
    if origin:
        lines.append("From: " + ", ".join(origin))
    return lines


def open_line(finding: Finding) -> str | None:
    opened = _open_count(finding.changes)
    if not opened:
        return None
    return f"⚠ Open to the world: {_open_sentence(opened, finding.kind)}."


def changes_lines(changes: Sequence[Change]) -> list[str]:
    """`Changes:`, each change, and under it its first next step (the revert, if any)."""
    if not changes:
        return []
    lines = ["Changes:"]
    for change in alarming_first(changes):
        step = first_next_step(change)
        lines += [f"  {change_line(change)}", *([f"    {step}"] if step else [])]
    return lines


def revert_lines(finding: Finding) -> list[str]:
    """What Setpoint reverted, would revert, or could not, each with its API call; a
    revert that gave up or failed says why, classified (`gave_up: …`, `denied: …`)."""
    lines: list[str] = []
    for revert in finding.reverts:
        what = f"{one_line(revert.action)} ({revert.call})"
        if revert.done:
            lines.append(f"Reverted: {what}")
        elif revert.error is None:
            lines.append(f"Would revert: {what}")
        elif revert.error.startswith("gave_up"):
            lines.append(f"Gave up reverting: {what} — {one_line(revert.error)}")
        else:
            lines.append(f"Not reverted: {what} — {one_line(revert.error)}")
    return list(dict.fromkeys(lines))  # one call undoing several changes is said once


def spec_line(finding: Finding) -> str | None:
    place = spec_place(finding)
    if place:
        return f"Spec: {one_line(place)}"
    if finding.status is Status.UNMANAGED:
        return "Spec: none (write one to manage this resource, or delete it)"
    return None


def render_text(finding: Finding) -> str:
    """The plain message: console notifier, Slack fallback, generic webhooks."""
    lines = [headline(finding), resource_line(finding)]
    actor = finding.actor
    if actor is not None:
        lines += actor_lines(actor)
    if finding.reason and finding.status is not Status.UNKNOWN:
        lines.append(f"Reason: {one_line(finding.reason)}")
    lines += [line for line in (open_line(finding),) if line]
    lines += changes_lines(finding.changes)
    lines += revert_lines(finding)
    lines += [line for line in (spec_line(finding), accept_for_a_while_line(finding)) if line]
    if actor is not None and actor.event_id:
        lines.append(f"CloudTrail event: {one_line(actor.event_id)}")
    return "\n".join(lines)


ACCEPT_FOR_A_WHILE = "To accept it until a date, add to the spec"


def first_exception(finding: Finding) -> str | None:
    """The exception that accepts the alert's first change for a while (its first in the
    order the message lists them), for drift a spec edit could accept."""
    for change in alarming_first(finding.changes):
        found = exception_for(change)
        if found:
            return found
    return None


def accept_for_a_while_line(finding: Finding) -> str | None:
    found = first_exception(finding)
    return f"{ACCEPT_FOR_A_WHILE}: {one_line(found)}" if found else None


# --- Slack -----------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _field(title: str, *values: str) -> dict[str, Any]:
    """A section field: a bold title over values that are already escaped."""
    return _mrkdwn(f"*{title}*\n" + "\n".join(values))


def _span(value: object, limit: int = 600) -> str:
    return code_span(one_line(value), limit)


def _resource_fields(finding: Finding) -> list[dict[str, Any]]:
    noun = kind_noun(finding.kind)
    fields = [_field(noun[:1].upper() + noun[1:], _span(finding.id or "(no id)"))]
    if finding.name and finding.name != finding.id:
        fields.append(_field("Name", _span(finding.name)))
    if finding.vpc_id:
        fields.append(_field("VPC", _span(finding.vpc_id)))
    fields.append(_field("Region", _span(finding.region)))
    fields.append(_field("Account", _span(finding.account or "?")))
    return fields


def _actor_fields(actor: Actor, who_title: str = "Who") -> list[dict[str, Any]]:
    who = [_span(actor.arn) if actor.arn else "an unknown principal"]
    if actor.session_issuer and actor.session_issuer != actor.arn:
        who.append("role " + _span(actor.session_issuer))
    if actor.via_label:
        who.append(escape_mrkdwn(one_line(actor.via_label)))
    if actor.probably_label:
        who.append(actor.probably_label)
    when = [_span(actor.event_time) if actor.event_time else "time not recorded"]
    when.append(_span(actor.event_name))
    fields = [_field(who_title, *who), _field("When", *when)]
    origin = []
    if actor.source_ip:
        origin.append(_span(actor.source_ip))
    if actor.user_agent:
        origin.append(_span(actor.user_agent, USER_AGENT_LIMIT))
    if origin:
        fields.append(_field("From where", *origin))
    return fields


def _open_text(changes: Sequence[Change], kind: Kind) -> str:
    opened = [c for c in changes if is_alarming(c)]
    lines = [f":rotating_light: *Open to the world:* {_open_sentence(len(opened), kind)}"]
    lines += [f"• {_span(change_body(c), CHANGE_LINE_LIMIT)}" for c in opened[:OPEN_LIST_LIMIT]]
    if len(opened) > OPEN_LIST_LIMIT:
        lines.append(f"{ELLIPSIS} and {len(opened) - OPEN_LIST_LIMIT} more")
    return "\n".join(lines)


def _changes_text(changes: Sequence[Change]) -> str:
    """The changes as +/-/~ lines in a code block, cut to fit one section.

    Lines are dropped whole, world-open additions first in line, and the cut is said out
    loud ("… and N more changes") so nobody mistakes a truncated list for the whole.
    """
    title = f"*{_plural(len(changes), 'change')}*"
    ordered = alarming_first(changes)
    return _code_section(
        title, [change_line(c) for c in ordered], steps=[first_next_step(c) for c in ordered]
    )


def _code_section(
    title: str, lines: Sequence[str], steps: Sequence[str | None] | None = None
) -> str:
    """`title` over `lines` (raw text, escaped here) in a code block that fits a section.

    `steps` holds one next step (or None) per line. They fill only the room the lines
    leave: every line that fits without its step is kept, and steps are added after them,
    first line first, while they fit. A step never pushes a change out.
    """
    total = len(lines)
    head = f"{title}\n```\n"
    tail = "\n```"
    reserve = len(f"\n{ELLIPSIS} and {total} more changes")
    budget = SECTION_LIMIT - len(head) - len(tail)
    kept: list[str] = []
    used = 0
    for index, raw in enumerate(lines):
        line = escape_code(raw, CHANGE_LINE_LIMIT)
        cost = len(line) + (1 if kept else 0)
        limit = budget if index == total - 1 else budget - reserve
        if used + cost > limit:
            break
        kept.append(line)
        used += cost
    limit = budget if len(kept) == total else budget - reserve
    shown_steps: dict[int, str] = {}
    for index, step in enumerate((steps or [])[: len(kept)]):
        if step is None:
            continue
        line = escape_code(f"  {step}", CHANGE_LINE_LIMIT)
        if used + len(line) + 1 > limit:
            break
        shown_steps[index] = line
        used += len(line) + 1
    body = []
    for index, line in enumerate(kept):
        body += [line, *([shown_steps[index]] if index in shown_steps else [])]
    text = head + "\n".join(body) + tail
    omitted = total - len(kept)
    if omitted:
        text += f"\n{ELLIPSIS} and {_plural(omitted, 'more change')}"
    return text


def _context_elements(finding: Finding) -> list[dict[str, Any]]:
    if finding.spec:
        elements = [_mrkdwn("Spec " + _span(finding.spec))]
    elif finding.status is Status.UNMANAGED:
        elements = [_mrkdwn("No spec manages this resource: write one, or delete it")]
    else:
        elements = [_mrkdwn("No spec recorded")]
    if finding.actor is not None and finding.actor.event_id:
        elements.append(_mrkdwn("CloudTrail event " + _span(finding.actor.event_id)))
    return elements


def render_slack(finding: Finding) -> dict[str, Any]:
    """A Slack message (Block Kit) for an incoming webhook, with a plain `text` fallback."""
    title = f"{_STATUS_EMOJI[finding.status]} {headline(finding)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": escape_truncated(title, HEADER_LIMIT),
                "emoji": True,
            },
        },
        {"type": "section", "fields": _resource_fields(finding)},
    ]
    if finding.actor is not None:
        blocks.append({"type": "section", "fields": _actor_fields(finding.actor)})
    if finding.reason:
        reason = "*Reason*\n" + escape_truncated(one_line(finding.reason), FIELD_LIMIT)
        blocks.append({"type": "section", "text": _mrkdwn(reason)})
    if _open_count(finding.changes):
        blocks.append(
            {"type": "section", "text": _mrkdwn(_open_text(finding.changes, finding.kind))}
        )
    if finding.changes:
        blocks.append({"type": "section", "text": _mrkdwn(_changes_text(finding.changes))})
    reverts = revert_lines(finding)
    if reverts:
        text = escape_truncated("\n".join(reverts), FIELD_LIMIT)
        blocks.append({"type": "section", "text": _mrkdwn(text)})
    exception = first_exception(finding)
    if exception:
        text = f"{ACCEPT_FOR_A_WHILE}:\n" + code_span(one_line(exception), FIELD_LIMIT)
        blocks.append({"type": "context", "elements": [_mrkdwn(text)]})
    blocks.append({"type": "context", "elements": _context_elements(finding)})
    return {
        # The fallback is mrkdwn too: entities escaped and backticks neutralised, so a name
        # cannot ping or open a code span in the notification either.
        "text": escape_code(render_text(finding), FALLBACK_LIMIT),
        "blocks": blocks[:MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


# the lists a JSON webhook payload may shorten to fit, first cut first
JSON_LISTS: tuple[tuple[str, ...], ...] = (("excepted",), ("changes",))


def render_json(finding: Finding) -> dict[str, Any]:
    """The finding as DESIGN.md's JSON plus `headline` and `text`, for generic webhooks;
    within the JSON budget (`budget.bounded_json`)."""
    payload = {
        **finding_to_dict(finding),
        "headline": headline(finding),
        "text": render_text(finding),
    }
    return bounded_json(payload, JSON_LISTS)
