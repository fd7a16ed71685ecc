"""`setpoint check --format json`: the object other tools parse (DESIGN.md, format 1).

Field names are a contract: add fields freely, never rename or drop one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chalicelib.cloud_text import json_shown
from chalicelib.model import Actor, Change, Finding, is_gone
from chalicelib.report.common import count_statuses, exception_for, is_off_spec, sort_key
from chalicelib.report.scope import Scope, Silenced

FORMAT_VERSION = "1"


def change_to_dict(change: Change) -> dict[str, Any]:
    data = {
        "op": change.op,
        "path": change.path,
        "expected": change.expected,
        "actual": change.actual,
        "summary": change.summary,
        "world_open": change.world_open,
    }
    if change.flags:
        data["flags"] = list(change.flags)
    if change.spec_line is not None:
        data["spec_line"] = change.spec_line  # the line of the spec field it departs from
    if change.revert is not None:
        data["revert"] = change.revert  # the command (or console action) that reverts it
    if change.accept is not None:
        data["accept"] = change.accept  # the spec edit that accepts it
        data["exception"] = exception_for(change)  # or accepts it until a date
    return data


def actor_to_dict(actor: Actor) -> dict[str, Any]:
    return {
        "arn": actor.arn,
        "event_name": actor.event_name,
        "event_time": actor.event_time,
        "event_id": actor.event_id,
        "source_ip": actor.source_ip,
        "user_agent": actor.user_agent,
        "session_issuer": actor.session_issuer,
        "via": actor.via,
        "via_source": actor.via_source,  # "user_agent": only the caller's user agent says so
        "identity_type": actor.identity_type,
        "account": actor.account,
        "region": actor.region,
        "source": actor.source or "event",  # "lookup": found afterwards in CloudTrail history
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """One finding, contract fields first; `actor` only when the finding has one."""
    out: dict[str, Any] = {
        "kind": str(finding.kind.value),
        "id": finding.id,
        "name": finding.name,
        "account": finding.account,
        "region": finding.region,
        "status": str(finding.status.value),
        "spec": finding.spec_path,
        "spec_line": finding.spec_line,
        "changes": [change_to_dict(c) for c in finding.changes],
    }
    if finding.actor is not None:
        out["actor"] = actor_to_dict(finding.actor)
    if finding.first_seen is not None:  # the sweep's report: since when it is off spec
        out["first_seen"] = finding.first_seen
    out["vpc_id"] = finding.vpc_id
    out["reason"] = finding.reason
    out["tags"] = finding.tag_map  # the live tags, for routing in the tools that read this
    if finding.excepted:
        out["excepted"] = [
            {"change": change_to_dict(e.change), "until": e.until, "reason": e.reason}
            for e in finding.excepted
        ]
    if finding.reverts:
        out["reverts"] = [
            {
                "change": change_to_dict(r.change),
                "action": r.action,
                "call": r.call,
                "done": r.done,
                "error": r.error,
            }
            for r in finding.reverts
        ]
    return out


def report_to_dict(
    findings: Sequence[Finding],
    checked: int,
    scope: Scope | None = None,
    silenced: Silenced | None = None,
) -> dict[str, Any]:
    """The whole report; in-sync findings are counted, never listed. `silenced`: the
    counts of what the specs silenced, for a report without a scope (the sweep's).

    Resources deleted while no spec named them are not drift: they are listed under
    `gone` (present only when there is one), never under `findings`.
    """
    problems = sorted((f for f in findings if is_off_spec(f)), key=sort_key)
    report: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "summary": count_statuses(findings, checked),
        "findings": [finding_to_dict(f) for f in problems],
    }
    if scope is not None:
        report["summary"]["ignored"] = scope.ignored
        report["summary"]["excepted"] = scope.excepted
        report["scope"] = scope.to_dict()
    elif silenced is not None:
        report["summary"]["ignored"] = silenced.ignored
        report["summary"]["excepted"] = silenced.excepted
    gone = sorted((f for f in findings if is_gone(f)), key=sort_key)
    if gone:
        report["gone"] = [finding_to_dict(f) for f in gone]
    return report


def render_json_report(
    findings: Sequence[Finding],
    checked: int,
    scope: Scope | None = None,
    silenced: Silenced | None = None,
) -> str:
    """The report as printed: indented, UTF-8 kept readable, trailing newline."""
    report = report_to_dict(findings, checked, scope, silenced)
    return json_shown(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"


def render_json_error(error: str, kind: str) -> str:
    """What `--format json` writes when the check could not run: the error, no findings,
    so a CI job reading the file sees why instead of a missing report."""
    report = {"format_version": FORMAT_VERSION, "error": {"type": kind, "message": error}}
    return json_shown(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"
