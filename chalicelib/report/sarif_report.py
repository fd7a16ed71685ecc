"""`setpoint check --format sarif`: findings as SARIF 2.1.0, for GitHub code scanning.

One result per finding that is off spec. The rule says what kind of problem it is (its
status, or `world-open` when a change opens the resource to the internet, which outranks
the status); the location is the spec file and line when a spec names the resource, else a
logical location naming the resource, so an unmanaged group still has an address.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.cloud_text import json_shown
from chalicelib.model import Finding, Status
from chalicelib.report.common import (
    alarming_first,
    change_line,
    described,
    is_alarming,
    is_off_spec,
    one_line,
    sort_key,
)
from chalicelib.report.scope import Scope

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "setpoint"
WORLD_OPEN = "world-open"

# rule id -> (level, short description); the order is the order of `tool.driver.rules`
RULES: Mapping[str, tuple[str, str]] = {
    WORLD_OPEN: ("error", "A change opens the resource to anyone on the internet"),
    Status.DRIFTED.value: ("error", "The resource drifted from its spec"),
    Status.MISSING.value: ("error", "A spec names a resource that does not exist"),
    Status.UNMANAGED.value: ("warning", "The resource is not managed by any spec"),
    Status.UNKNOWN.value: ("note", "The resource could not be read"),
}


def rule_id(finding: Finding) -> str:
    """`world-open` when any live change is open to the world, else the status."""
    if any(is_alarming(change) for change in finding.changes):
        return WORLD_OPEN
    return finding.status.value


def _message(finding: Finding) -> str:
    words = {
        Status.DRIFTED: "drifted from its spec",
        Status.MISSING: "is in a spec but does not exist",
        Status.UNMANAGED: "is not managed by any spec",
        Status.UNKNOWN: "could not be read",
    }
    where = f"account {one_line(finding.account or '?')}, region {one_line(finding.region)}"
    lines = [f"{described(finding)} {words.get(finding.status, finding.status.value)} ({where})"]
    if finding.reason:
        lines.append(f"reason: {one_line(finding.reason)}")
    lines += [change_line(change) for change in alarming_first(finding.changes)]
    return "\n".join(lines)


def _fully_qualified(finding: Finding) -> str:
    parts = [finding.account or "?", finding.region, finding.id or finding.name or "?"]
    return "/".join(one_line(part) for part in parts)


def _location(finding: Finding) -> dict[str, Any]:
    logical = {
        "name": one_line(finding.name or finding.id or "?"),
        "fullyQualifiedName": f"{finding.kind.value}/{_fully_qualified(finding)}",
        "kind": "resource",
    }
    location: dict[str, Any] = {"logicalLocations": [logical]}
    if finding.spec_path:
        physical: dict[str, Any] = {"artifactLocation": {"uri": finding.spec_path}}
        if finding.spec_line:
            physical["region"] = {"startLine": finding.spec_line}
        location = {"physicalLocation": physical, **location}
    return location


def result_for(finding: Finding) -> dict[str, Any]:
    rule = rule_id(finding)
    return {
        "ruleId": rule,
        "ruleIndex": list(RULES).index(rule),
        "level": RULES[rule][0],
        "message": {"text": _message(finding)},
        "locations": [_location(finding)],
        # the same resource keeps one alert in code scanning from run to run
        "partialFingerprints": {"setpointResource/v1": _fully_qualified(finding)},
        "properties": {
            "kind": finding.kind.value,
            "status": finding.status.value,
            "account": finding.account,
            "region": finding.region,
            "id": finding.id,
            "name": finding.name,
        },
    }


def sarif_log(findings: Sequence[Finding], scope: Scope | None = None) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict; in-sync and gone resources are not results."""
    problems = sorted((f for f in findings if is_off_spec(f)), key=sort_key)
    rules = [
        {
            "id": rid,
            "name": rid.replace("-", "_"),
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": level},
        }
        for rid, (level, text) in RULES.items()
    ]
    driver = {"name": TOOL_NAME, "rules": rules}
    run: dict[str, Any] = {"tool": {"driver": driver}, "results": [result_for(f) for f in problems]}
    if scope is not None:
        run["properties"] = {"scope": scope.to_dict()}  # SARIF's property bag for a run
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(findings: Sequence[Finding], scope: Scope | None = None) -> str:
    """The log as written for `github/codeql-action/upload-sarif`."""
    document = json.dumps(sarif_log(findings, scope), indent=2, ensure_ascii=False)
    return json_shown(document) + "\n"
