"""`setpoint check --format junit`: drift as failing tests, for CI watchdogs (Jenkins).

One testcase per checked resource, so a resource that drifts shows up as a test that
"started failing" and one that is fixed as a test that passes again. Unreadable
resources are errors, not failures: the check itself could not run.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from chalicelib.cloud_text import visible_lines
from chalicelib.model import Finding, Status, is_gone
from chalicelib.report.common import change_line, kind_noun, one_line, sort_key
from chalicelib.report.scope import Scope

SUITE_NAME = "setpoint"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Characters XML 1.0 cannot carry at all, escaped or not; ElementTree writes them through
# and the report would no longer parse.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_FAILURE_WORDS = {
    Status.DRIFTED: "drifted from its spec",
    Status.UNMANAGED: "has no spec",
    Status.MISSING: "is in a spec but does not exist",
}


def _xml_text(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _line(text: object) -> str:
    """Cloud text for a name, message or failure line: one line, nothing hidden, and only
    characters XML can carry (a forged "Back to normal" line stays inside its own)."""
    return _xml_text(one_line(text))


def testcase_name(finding: Finding) -> str:
    """`us-east-1/sg-0abc jenkins`; the name alone when there is no id (missing)."""
    parts = [one_line(p) for p in (finding.id, finding.name) if p]
    if len(parts) == 2 and parts[0] == parts[1]:
        parts = parts[:1]
    return f"{one_line(finding.region)}/{' '.join(parts) or '?'}"


def _detail(finding: Finding) -> str:
    lines = [
        f"{kind_noun(finding.kind)} {testcase_name(finding)}",
        f"account: {one_line(finding.account or '?')}",
        f"spec: {one_line(finding.spec or '(none)')}",
    ]
    if finding.reason:
        lines.append(f"reason: {one_line(finding.reason)}")
    lines += [change_line(c) for c in finding.changes]
    return "\n".join(lines)


def render_junit(
    findings: Sequence[Finding], *, timestamp: str | None = None, scope: Scope | None = None
) -> str:
    """The report as an XML document; pass every finding, in-sync ones included.

    Write it to disk as UTF-8, which is what the declaration says.

    `timestamp` (ISO 8601) is written when given; renderers never read the clock.
    """
    ordered = sorted(findings, key=sort_key)
    gone = sum(is_gone(f) for f in ordered)
    failures = sum(f.status in _FAILURE_WORDS and not is_gone(f) for f in ordered)
    errors = sum(f.status is Status.UNKNOWN for f in ordered)
    counts = {"tests": str(len(ordered)), "failures": str(failures), "errors": str(errors)}
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts, "skipped": str(gone)})
    if timestamp:
        suite.set("timestamp", _xml_text(timestamp))
    if scope is not None:
        properties = ET.SubElement(suite, "properties")
        for name, value in scope.properties().items():
            ET.SubElement(properties, "property", {"name": name, "value": _line(value)})
    # several accounts (--accounts): IAM names and bucket-less names repeat across them, and
    # CI tools merge test cases with equal names; the account keeps them apart
    several = len({f.account for f in ordered if f.account}) > 1
    for finding in ordered:
        name = testcase_name(finding)
        if several and finding.account:
            name = f"{one_line(finding.account)}/{name}"
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": str(finding.kind.value), "name": _xml_text(name)},
        )
        if is_gone(finding):
            # deleted while no spec named it: nothing to fix, so not a failure
            message = f"gone: {finding.reason or 'deleted, and no spec names it'}"
            ET.SubElement(case, "skipped", {"message": _line(message)})
        elif finding.status in _FAILURE_WORDS:
            changes = len(finding.changes)
            message = f"{finding.status.value}: {_FAILURE_WORDS[finding.status]}"
            if changes:
                message += f" ({changes} change{'s' if changes != 1 else ''})"
            failure = ET.SubElement(
                case, "failure", {"type": finding.status.value, "message": _xml_text(message)}
            )
            failure.text = _xml_text(_detail(finding))
        elif finding.status is Status.UNKNOWN:
            message = f"unknown: could not read it: {finding.reason or 'no reason recorded'}"
            error = ET.SubElement(case, "error", {"type": "unknown", "message": _line(message)})
            error.text = _xml_text(_detail(finding))
    return _document(root)


def _document(root: ET.Element) -> str:
    ET.indent(root)
    # Declared by hand: ElementTree would declare the locale's encoding, not UTF-8.
    return _DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def render_junit_error(error: str, kind: str) -> str:
    """The check could not run: one test case in error, so Jenkins' junit step shows why
    (a missing report file would only say "no test report found")."""
    counts = {"tests": "1", "failures": "0", "errors": "1"}
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **counts, "skipped": "0"})
    case = ET.SubElement(suite, "testcase", {"classname": "setpoint", "name": "setpoint check"})
    element = ET.SubElement(case, "error", {"type": kind, "message": _line(error)})
    element.text = _xml_text(visible_lines(error))
    return _document(root)
