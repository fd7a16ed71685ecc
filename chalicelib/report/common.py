"""Wording shared by every output format, so a change reads the same in a terminal, a
JUnit report and a chat message.

Pure functions over the frozen model: no clock, no environment, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.cloud_text import one_line
from chalicelib.kinds.registry import noun
from chalicelib.model import Change, Finding, Status, is_gone
from chalicelib.next_steps import exception_yaml, is_import_hint

# The order a reader meets statuses in counts and summaries.
PROBLEM_STATUSES: tuple[Status, ...] = (
    Status.DRIFTED,
    Status.UNMANAGED,
    Status.MISSING,
    Status.UNKNOWN,
)

MARKERS: Mapping[str, str] = {"add": "+", "remove": "-", "modify": "~"}
OPEN_MARKER = "⚠ open to the world"


def kind_noun(kind: str) -> str:
    return noun(kind)


def resource_label(finding: Finding) -> str:
    """`jenkins (sg-0abc)`, `my-bucket`, or the bare id/name; ARNs are left out when a
    name exists because the name is what people recognise (the ARN is shown elsewhere)."""
    name, rid = finding.name, finding.id
    if name and rid and name != rid and not rid.startswith("arn:"):
        label = f"{name} ({rid})"
    else:
        label = name or rid or "(unnamed)"
    return one_line(label)


def id_and_name(finding: Finding) -> str:
    """`sg-0abc "jenkins"`: the id people search for, then the name they know."""
    rid = one_line(finding.id) if finding.id else ""
    if finding.name and finding.name != finding.id:
        return f'{rid} "{one_line(finding.name)}"'.lstrip()
    return rid or "(unnamed)"


def described(finding: Finding) -> str:
    """`security group jenkins (sg-0abc)`: the `<group>` of every headline."""
    return f"{kind_noun(finding.kind)} {resource_label(finding)}"


def sort_key(finding: Finding) -> tuple[str, str, str, str]:
    """Deterministic report order: kind, region, id, name."""
    return (str(finding.kind), finding.region or "", finding.id or "", finding.name or "")


def is_alarming(change: Change) -> bool:
    """A world-open rule that exists live; a missing world-open rule is not a threat."""
    return change.world_open and change.op != "remove"


def alarming_first(changes: Iterable[Change]) -> list[Change]:
    """World-open additions first (stable), so they are read first and survive truncation."""
    return sorted(changes, key=lambda c: not is_alarming(c))


def spec_place(finding: Finding) -> str | None:
    """`file:line` of the spec field the most alarming change departs from (`ingress:`,
    `policy:`), else where the spec starts; None without a spec."""
    if not finding.spec:
        return None
    lines = [c.spec_line for c in alarming_first(finding.changes) if c.spec_line]
    file = finding.spec_path
    if lines and file:
        return f"{file}:{lines[0]}"
    return finding.spec


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def change_body(change: Change) -> str:
    """The change in words, always naming its path (`ingress`, `tags.team`).

    The summary from compare/ is used as written; when it does not already start with the
    path the path is prefixed, so `tcp/22 …` never loses whether it is ingress or egress.
    """
    summary = one_line(change.summary).strip()
    path = one_line(change.path)
    if not summary:
        if change.op == "modify":
            summary = f"{_value(change.expected)} -> {_value(change.actual)}"
        elif change.op == "add":
            summary = f"{_value(change.actual)} (not in spec)"
        else:
            summary = f"{_value(change.expected)} (in spec, missing live)"
        summary = one_line(summary)
        return f"{path}: {summary}"
    if path and not summary.lower().startswith(path.lower()):
        return f"{path}: {summary}"
    return summary


def change_line(change: Change, *, open_marker: str | None = OPEN_MARKER) -> str:
    """`+ ingress tcp/22 from 0.0.0.0/0 — not in spec  ⚠ open to the world`."""
    line = f"{MARKERS.get(change.op, '?')} {change_body(change)}"
    if open_marker and is_alarming(change):
        line = f"{line}  {open_marker}"
    return line


NEXT_STEP_MARK = "↳"


def next_step_lines(change: Change) -> list[str]:
    """`↳ revert: aws ec2 …` and `↳ accept: add to ingress: {…}`, those the change has."""
    steps = (
        ("revert", change.revert),
        ("accept", change.accept),
        ("accept until a date", exception_for(change)),
    )
    return [f"{NEXT_STEP_MARK} {label}: {one_line(text)}" for label, text in steps if text]


def exception_for(change: Change) -> str | None:
    """The spec exception that accepts a drifted change for a while (docs/noise.md), for
    the changes a spec edit could accept; None for the others (unmanaged resources)."""
    if change.accept is None or is_import_hint(change.accept):
        return None
    return exception_yaml(change.op, change.path, change.expected, change.actual)


def first_next_step(change: Change) -> str | None:
    """The one next step a small message has room for: the revert, else the accept."""
    lines = next_step_lines(change)
    return lines[0] if lines else None


def is_off_spec(finding: Finding) -> bool:
    """Drifted, unmanaged, missing or unknown: what a report lists and an exit code counts.

    A resource that was deleted while no spec named it (`is_gone`) is not: nothing is left
    to fix, and its open alert was closed as "gone".
    """
    return finding.status is not Status.IN_SYNC and not is_gone(finding)


def count_statuses(findings: Iterable[Finding], checked: int) -> dict[str, int]:
    """Counts per status; `in_sync` is whatever was checked and is neither off spec nor gone.

    `gone` (deleted, no spec names it) appears only when there is one, so the summary of a
    sweep keeps the documented keys. Raises ValueError when the findings outnumber
    `checked`: a caller bug that would otherwise print a negative count.
    """
    counts = {status.value: 0 for status in PROBLEM_STATUSES}
    gone = 0
    for finding in findings:
        if is_gone(finding):
            gone += 1
        elif finding.status is not Status.IN_SYNC:
            counts[finding.status.value] += 1
    problems = sum(counts.values())
    if checked < problems + gone:
        raise ValueError(f"checked={checked} is less than the {problems + gone} findings reported")
    summary = {
        "checked": checked,
        "in_sync": checked - problems - gone,
        "drifted": counts["drifted"],
        "missing": counts["missing"],
        "unmanaged": counts["unmanaged"],
        "unknown": counts["unknown"],
    }
    if gone:
        summary["gone"] = gone
    return summary


def count_line(counts: Mapping[str, int]) -> str:
    """`Checked 12: 10 in sync, 1 drifted, 1 unmanaged, 0 missing, 0 unknown.`"""
    line = (
        f"Checked {counts['checked']}: {counts['in_sync']} in sync, "
        f"{counts['drifted']} drifted, {counts['unmanaged']} unmanaged, "
        f"{counts['missing']} missing, {counts['unknown']} unknown"
    )
    if counts.get("gone"):
        line += f", {counts['gone']} gone"
    return line + "."
