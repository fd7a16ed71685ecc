"""`setpoint check --format html`: one self-contained page a person opens from CI or mail.

Everything is inline (styles, a small filter script, no fonts, images or scripts from the
network; a Content-Security-Policy forbids fetching anything), so the file works offline and
from an artifact store. Every string that came from the cloud or a spec is HTML-escaped, and
control and bidi characters are shown, never obeyed (`one_line`).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from chalicelib.model import Change, Finding
from chalicelib.report.common import (
    MARKERS,
    PROBLEM_STATUSES,
    alarming_first,
    change_line,
    count_statuses,
    described,
    is_alarming,
    is_off_spec,
    kind_noun,
    one_line,
    sort_key,
    spec_place,
)
from chalicelib.report.scope import Scope, Silenced
from chalicelib.state.transitions import is_gone

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24;max-width:78em}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .4em}
table.counts{border-collapse:collapse;margin:.3em 0}
table.counts td,table.counts th{border:1px solid #d0d7de;padding:.2em .7em;text-align:right}
table.counts th{background:#f6f8fa;text-align:left}
.scope{color:#57606a}
.filters label{margin-right:1em;white-space:nowrap}
.finding{border:1px solid #d0d7de;border-radius:6px;margin:.8em 0;padding:.6em .9em}
.finding h3{font-size:1em;margin:0}
.status{font-weight:600;text-transform:uppercase;font-size:.8em;padding:.1em .45em;
border-radius:4px;margin-right:.5em}
.drifted{background:#ffebe9;color:#a40e26}.unmanaged{background:#fff8c5;color:#7d4e00}
.missing{background:#ddf4ff;color:#0a3069}.unknown{background:#eaeef2;color:#424a53}
.gone{background:#eaeef2;color:#424a53}
.meta{color:#57606a;margin:.2em 0}
pre.diff{background:#f6f8fa;padding:.5em;margin:.4em 0;white-space:pre-wrap;overflow-wrap:anywhere}
.add{color:#116329}.remove{color:#a40e26}.modify{color:#7d4e00}
.open{font-weight:700;color:#a40e26}
.probably{font-style:italic}
[hidden]{display:none}
"""

# Filters by status, kind, account and region: each finding carries its values as data
# attributes; unticking a box hides the findings with that value.
_SCRIPT = """
(function(){
  var boxes=document.querySelectorAll('.filters input');
  function apply(){
    var off={};
    boxes.forEach(function(b){if(!b.checked){(off[b.name]=off[b.name]||{})[b.value]=1;}});
    document.querySelectorAll('.finding').forEach(function(f){
      var hide=false;
      ['status','kind','account','region'].forEach(function(k){
        if(off[k]&&off[k][f.dataset[k]]){hide=true;}
      });
      f.hidden=hide;
    });
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
})();
"""


def _e(text: object) -> str:
    """Cloud or spec text as inert HTML on one line."""
    return html.escape(one_line(text), quote=True)


def _counts_table(title: str, counts: Counter[str]) -> list[str]:
    if not counts:
        return []
    rows = "".join(
        f"<tr><th>{_e(name)}</th><td>{n}</td></tr>" for name, n in sorted(counts.items())
    )
    return [f"<h2>{_e(title)}</h2>", f'<table class="counts">{rows}</table>']


def _filters(findings: Sequence[Finding]) -> list[str]:
    groups = {
        "status": sorted({f.status.value for f in findings}),
        "kind": sorted({str(f.kind) for f in findings}),
        "account": sorted({f.account or "?" for f in findings}),
        "region": sorted({f.region for f in findings}),
    }
    out = ['<div class="filters">']
    for name, values in groups.items():
        if len(values) < 2:
            continue
        boxes = "".join(
            f'<label><input type="checkbox" name="{name}" value="{_e(v)}" checked> {_e(v)}</label>'
            for v in values
        )
        out.append(f"<p><strong>{name}</strong>: {boxes}</p>")
    out.append("</div>")
    return out if len(out) > 2 else []


def _change_html(change: Change) -> str:
    marker_class = change.op if change.op in MARKERS else ""
    text = _e(change_line(change, open_marker=None))
    if is_alarming(change):
        text += ' <span class="open">⚠ open to the world</span>'
    return f'<span class="{marker_class}">{text}</span>'


def _since(finding: Finding) -> str | None:
    """When the drift began, as far as known: its change's event time, else when Setpoint
    first saw it (the sweep's alert state)."""
    if finding.actor is not None and finding.actor.event_time:
        return finding.actor.event_time
    return finding.first_seen


def _oldest_first(findings: Iterable[Finding]) -> list[Finding]:
    """Drift with the oldest known start first, then the rest in report order: what has
    been wrong longest is what a reader should see first."""
    ordered = sorted(findings, key=sort_key)
    dated = [f for f in ordered if _since(f)]
    undated = [f for f in ordered if not _since(f)]
    latest = datetime.max.replace(tzinfo=UTC)  # an unreadable time sorts last of the dated
    return sorted(dated, key=lambda f: _instant(_since(f)) or latest) + undated


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def age(since: str | None, until: str | None) -> str | None:
    """`41 days` (or hours, or minutes) from `since` to `until`, both ISO 8601 instants;
    None when either is absent or unreadable, or `since` comes later."""
    start, end = _instant(since), _instant(until)
    if start is None or end is None or end < start:
        return None
    seconds = int((end - start).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def _finding_html(finding: Finding, generated_at: str | None = None) -> list[str]:
    status = "gone" if is_gone(finding) else finding.status.value
    attrs = (
        f'data-status="{_e(finding.status.value)}" data-kind="{_e(finding.kind)}" '
        f'data-account="{_e(finding.account or "?")}" data-region="{_e(finding.region)}"'
    )
    out = [
        f'<div class="finding" {attrs}>',
        f'<h3><span class="status {status}">{_e(status)}</span>{_e(described(finding))}</h3>',
        f'<p class="meta">account {_e(finding.account or "?")} · region {_e(finding.region)}'
        + (f" · vpc {_e(finding.vpc_id)}" if finding.vpc_id else "")
        + "</p>",
    ]
    place = spec_place(finding)
    out.append(f'<p class="meta">spec: {_e(place) if place else "(none)"}</p>')
    if finding.reason:
        out.append(f'<p class="meta">reason: {_e(finding.reason)}</p>')
    if finding.changes:
        lines = "\n".join(_change_html(c) for c in alarming_first(finding.changes))
        out.append(f'<pre class="diff">{lines}</pre>')
    actor = finding.actor
    if actor is not None:
        who = _e(actor.arn or "unknown principal")
        what = _e(actor.event_name or "?")
        when = _e(actor.event_time or "?")
        line = f"last change: {what} by {who} at {when}"
        old = age(actor.event_time, generated_at)
        if old:
            line += f" ({old} before this report)"
        if actor.probably_label:  # found afterwards in CloudTrail's history, not announced
            line += f' <span class="probably">{_e(actor.probably_label)}</span>'
        if actor.event_id:
            line += f" · CloudTrail event {_e(actor.event_id)}"
        out.append(f'<p class="meta actor">{line}</p>')
    if finding.first_seen:
        line = f"off spec since {_e(finding.first_seen)} (first seen by Setpoint"
        old = age(finding.first_seen, generated_at)
        line += f", {old} before this report)" if old else ")"
        out.append(f'<p class="meta since">{line}</p>')
    out.append("</div>")
    return out


def render_html(
    findings: Sequence[Finding],
    checked: int,
    scope: Scope | None = None,
    *,
    generated_at: str | None = None,
    silenced: Silenced | None = None,
) -> str:
    """The page; pass every finding (in-sync ones are counted, never listed).

    `generated_at` is written when given; renderers never read the clock. `silenced`:
    what the specs silenced, said in a line when there is no scope (the sweep's report).
    """
    counts = count_statuses(findings, checked)
    problems = [f for f in findings if is_off_spec(f)]
    gone = [f for f in findings if is_gone(f)]
    by_kind = Counter(kind_noun(f.kind) for f in problems)
    by_place = Counter(f"{f.account or '?'} / {f.region}" for f in problems)
    title = "Setpoint drift report"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    if generated_at:
        out.append(f'<p class="scope">generated {_e(generated_at)}</p>')
    if scope is not None:
        out.append(f'<p class="scope">{_e(scope.line())}</p>')
    elif silenced is not None and silenced.words():
        out.append(f'<p class="scope">Silenced: {_e(", ".join(silenced.words()))}</p>')
    keys = ["checked", "in_sync", *(s.value for s in PROBLEM_STATUSES)]
    if "gone" in counts:
        keys.append("gone")
    header = "".join(f"<th>{k.replace('_', ' ')}</th>" for k in keys)
    values = "".join(f"<td>{counts.get(k, 0)}</td>" for k in keys)
    out.append(f'<table class="counts"><tr>{header}</tr><tr>{values}</tr></table>')
    out += _counts_table("Off spec, by kind", by_kind)
    out += _counts_table("Off spec, by account and region", by_place)
    if not problems:
        quiet = "every resource checked matches its spec" if checked else "nothing was checked"
        out.append(f"<p><strong>No drift:</strong> {quiet}.</p>")
    else:
        out.append("<h2>Findings (oldest known change first)</h2>")
        out += _filters(problems)
        for finding in _oldest_first(problems):
            out += _finding_html(finding, generated_at)
    if gone:
        out.append("<h2>Deleted while no spec named them</h2>")
        for finding in sorted(gone, key=sort_key):
            out += _finding_html(finding)
    out.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"
