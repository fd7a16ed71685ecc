"""`setpoint check` for people: a terraform-plan-like listing and a closing count line.

Colour is opt-in (a parameter, decided by the CLI from its flags and the terminal), so
piped and logged output never carries escape codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.model import Actor, Finding, Status, is_gone
from chalicelib.report.common import (
    OPEN_MARKER,
    alarming_first,
    change_line,
    count_line,
    count_statuses,
    id_and_name,
    is_alarming,
    is_off_spec,
    kind_noun,
    next_step_lines,
    one_line,
    sort_key,
    spec_place,
)
from chalicelib.report.scope import Scope

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_YELLOW = "\x1b[33m"
_MAGENTA = "\x1b[35m"
_CYAN = "\x1b[36m"

_STATUS_COLOUR = {
    Status.DRIFTED: _YELLOW,
    Status.UNMANAGED: _MAGENTA,
    Status.MISSING: _RED,
    Status.UNKNOWN: _CYAN,
    Status.IN_SYNC: _GREEN,
}
_OP_COLOUR = {"add": _GREEN, "remove": _RED, "modify": _YELLOW}

_STATUS_WORDS = {
    Status.DRIFTED: "drifted from its spec",
    Status.UNMANAGED: "is not managed by any spec",
    Status.MISSING: "is in a spec but does not exist",
    Status.UNKNOWN: "could not be read",
    Status.IN_SYNC: "matches its spec",
}

LEGEND = "Symbols: + present live, not in spec   - in spec, missing live   ~ differs from spec"


def _paint(text: str, colour: str, enabled: bool) -> str:
    return f"{colour}{text}{_RESET}" if enabled else text


def _title(finding: Finding, color: bool) -> str:
    status = _paint(finding.status.value, _BOLD + _STATUS_COLOUR[finding.status], color)
    return (
        f"{status}: {kind_noun(finding.kind)} {id_and_name(finding)} "
        + _STATUS_WORDS[finding.status]
    )


def _where(finding: Finding) -> str:
    parts = [f"region {one_line(finding.region)}"]
    parts.append(f"account {one_line(finding.account)}" if finding.account else "account ?")
    if finding.vpc_id:
        parts.append(f"vpc {one_line(finding.vpc_id)}")
    return ", ".join(parts)


def _actor_line(actor: Actor) -> str:
    who = one_line(actor.arn) if actor.arn else "an unknown principal"
    if actor.session_issuer and actor.session_issuer != actor.arn:
        who += f" (role {one_line(actor.session_issuer)})"
    if actor.via_label:
        who += f" {one_line(actor.via_label)}"
    when = f" at {one_line(actor.event_time)}" if actor.event_time else ""
    return f"last change: {one_line(actor.event_name)} by {who}{when}"


def render_finding_block(finding: Finding, *, color: bool = False) -> list[str]:
    """The lines of one finding: title, where, spec, reason, changes, last actor."""
    indent = "    "
    lines = [_title(finding, color), f"{indent}{_where(finding)}"]
    place = spec_place(finding)
    spec = one_line(place) if place else "(none)"
    lines.append(f"{indent}spec: {spec}")
    if finding.reason:
        lines.append(f"{indent}reason: {one_line(finding.reason)}")
    for change in alarming_first(finding.changes):
        text = change_line(change, open_marker=None)
        text = _paint(text, _OP_COLOUR.get(change.op, ""), color)
        if is_alarming(change):
            text += "  " + _paint(OPEN_MARKER, _BOLD + _RED, color)
        lines.append(f"{indent}{text}")
        lines += [f"{indent}  {step}" for step in next_step_lines(change)]
    if finding.actor is not None:
        lines.append(f"{indent}{_actor_line(finding.actor)}")
    return lines


def render_gone_block(finding: Finding, *, color: bool = False) -> list[str]:
    """A resource deleted while no spec named it: said, but not as drift."""
    title = _paint("gone", _BOLD + _GREEN, color)
    lines = [
        f"{title}: {kind_noun(finding.kind)} {id_and_name(finding)} was deleted; no spec names it",
        f"    {_where(finding)}",
    ]
    if finding.actor is not None:
        lines.append(f"    {_actor_line(finding.actor)}")
    return lines


def render_text_report(
    findings: Sequence[Finding], checked: int, *, color: bool = False, scope: Scope | None = None
) -> str:
    """The whole report; in-sync findings are counted, never listed."""
    counts = count_statuses(findings, checked)
    problems = sorted((f for f in findings if is_off_spec(f)), key=sort_key)
    out: list[str] = []
    if any(f.changes for f in problems):
        out += [LEGEND, ""]
    for finding in problems:
        out += [*render_finding_block(finding, color=color), ""]
    for finding in sorted((f for f in findings if is_gone(f)), key=sort_key):
        out += [*render_gone_block(finding, color=color), ""]
    if not problems:
        quiet = "every resource checked matches its spec" if checked else "nothing was checked"
        out += [f"No drift: {quiet}.", ""]
    out.append(count_line(counts))
    if scope is not None:
        out.append(scope.line())
    return "\n".join(out) + "\n"
