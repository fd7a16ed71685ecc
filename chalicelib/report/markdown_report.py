"""`setpoint check --format markdown`: a pull-request comment.

A table of counts, then each finding with its changes in a `diff` block. Everything that
came from the cloud is escaped: outside code it cannot open HTML, links, tables or code
spans; inside a block it cannot close the fence or add a line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chalicelib.model import Finding, Status
from chalicelib.report.common import (
    alarming_first,
    change_line,
    count_statuses,
    id_and_name,
    is_off_spec,
    kind_noun,
    next_step_lines,
    one_line,
    sort_key,
)
from chalicelib.report.scope import Scope

_WORDS = {
    Status.DRIFTED: "drifted from its spec",
    Status.UNMANAGED: "is not managed by any spec",
    Status.MISSING: "is in a spec but does not exist",
    Status.UNKNOWN: "could not be read",
}
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_text(text: object) -> str:
    """Cloud text as inert Markdown on one line: HTML as entities, markup backslashed."""
    flat = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", flat)


def _fence(lines: Sequence[str]) -> str:
    """A fence longer than any run of backticks in the block, so nothing can close it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _finding(finding: Finding) -> list[str]:
    title = (
        f"### {finding.status.value}: {kind_noun(finding.kind)} "
        f"{md_text(id_and_name(finding))} {_WORDS.get(finding.status, '')}"
    ).rstrip()
    where = f"region {md_text(finding.region)}, account {md_text(finding.account or '?')}"
    if finding.vpc_id:
        where += f", vpc {md_text(finding.vpc_id)}"
    out = [title, "", f"- {where}", f"- spec: {md_text(finding.spec or '(none)')}"]
    if finding.reason:
        out.append(f"- reason: {md_text(finding.reason)}")
    if finding.changes:
        body = []
        for change in alarming_first(finding.changes):
            # in a diff block a line that starts with a space is context: next steps stay
            # apart from the +/-/~ lines of the change itself
            body += [change_line(change), *(f"  {s}" for s in next_step_lines(change))]
        fence = _fence(body)
        out += ["", f"{fence}diff", *body, fence]
    return [*out, ""]


def render_markdown(findings: Sequence[Finding], checked: int, scope: Scope | None = None) -> str:
    """The comment: summary table, then every off-spec finding; in-sync ones are counted."""
    counts = count_statuses(findings, checked)
    problems = sorted((f for f in findings if is_off_spec(f)), key=sort_key)
    keys = ["checked", "in_sync", "drifted", "unmanaged", "missing", "unknown"]
    if "gone" in counts:
        keys.append("gone")
    out = [
        "## Setpoint drift report",
        "",
        "| " + " | ".join(k.replace("_", " ") for k in keys) + " |",
        "|" + "---:|" * len(keys),
        "| " + " | ".join(str(counts[k]) for k in keys) + " |",
        "",
    ]
    if scope is not None:
        out += [f"_{md_text(scope.line())}_", ""]
    if not problems:
        quiet = "every resource checked matches its spec" if checked else "nothing was checked"
        out += [f"No drift: {quiet}.", ""]
    for finding in problems:
        out += _finding(finding)
    return "\n".join(out).rstrip("\n") + "\n"
