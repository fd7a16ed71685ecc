"""`.setpointignore` files and the `ignore:` / `exceptions:` fields every spec may carry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.model import SourceLocation
from chalicelib.noise.model import ON_DRIFT_CHOICES, IgnoreRule, SpecException, SpecNoise
from chalicelib.specs.yamldoc import SpecDocument

IGNORE_FILE = ".setpointignore"
FIELDS = ("ignore", "exceptions", "on_drift")
MAX_EXCEPTION_DAYS = 366  # "until" at most a year ahead: an exception is not a new spec
_CHANGE_KEYS = frozenset({"op", "path", "actual", "expected"})
# what the pasted exception says until a reviewer fills it in (`next_steps.exception_yaml`)
REASON_PLACEHOLDER = "WHY"


def parse_ignore_file(name: str, text: str, kinds: Iterable[str]) -> list[IgnoreRule]:
    """Every rule of one ignore file; SpecSetError-style errors raised as a list at once."""
    known = set(kinds)
    rules: list[IgnoreRule] = []
    errors: list[SpecError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = SourceLocation(name, number)
        negate = line.startswith("!")
        body = line[1:].strip() if negate else line
        if body.startswith("tag:"):
            key, sep, glob = body[4:].partition("=")
            if not sep or not key.strip() or not glob.strip():
                errors.append(SpecError("a tag rule is tag:KEY=VALUE_GLOB", name, number))
                continue
            rules.append(IgnoreRule(where, negate, None, None, None, key.strip(), glob.strip()))
            continue
        parts = _rule_parts(body)
        if len(parts) < 2 or not parts[1]:
            errors.append(
                SpecError(
                    f"{body!r}: a rule is KIND:ID_GLOB or KIND:ID_GLOB:PATH_GLOB", name, number
                )
            )
            continue
        kind = parts[0].strip()
        if kind not in known:
            errors.append(
                SpecError(
                    f"unknown kind {kind!r} (known: {', '.join(sorted(known))})", name, number
                )
            )
            continue
        path_glob = parts[2].strip() if len(parts) == 3 and parts[2].strip() else None
        rules.append(IgnoreRule(where, negate, kind, parts[1].strip(), path_glob))
    if errors:
        from chalicelib.errors import SpecSetError

        raise SpecSetError(errors)
    return rules


def _rule_parts(body: str) -> list[str]:
    """KIND, ID_GLOB and maybe PATH_GLOB; an ID that is an ARN keeps its own colons
    (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, the ids of load balancers, IAM
    policies, trails and rules), so only a colon after its sixth field starts the path."""
    kind, sep, rest = body.partition(":")
    if not sep:
        return [kind]
    if rest.strip().startswith("arn:"):
        fields = rest.strip().split(":", 6)
        if len(fields) >= 6:
            return [kind, ":".join(fields[:6]), *fields[6:]]
    return [kind, *rest.split(":", 1)]


def split_noise(
    doc: SpecDocument, today: date | None = None
) -> tuple[SpecDocument, SpecNoise | None, list[SpecError]]:
    """The document without the noise fields (the kind's schema never sees them), what
    they say, and their errors (named by file, line and field)."""
    data = doc.data
    if not isinstance(data, dict) or not any(key in data for key in FIELDS):
        return doc, None, []
    errors: list[SpecError] = []
    ignore = _ignore_globs(doc, data.get("ignore"), errors)
    exceptions = _exceptions(doc, data.get("exceptions"), errors, today or datetime.now(UTC).date())
    on_drift = _on_drift(doc, data.get("on_drift"), errors)
    rest = {k: v for k, v in data.items() if k not in FIELDS}
    stripped = SpecDocument(doc.file, doc.index, rest, doc.line, doc.lines, doc.plain)
    return stripped, SpecNoise(tuple(ignore), tuple(exceptions), on_drift), errors


def _on_drift(doc: SpecDocument, value: Any, errors: list[SpecError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in ON_DRIFT_CHOICES:
        choices = ", ".join(ON_DRIFT_CHOICES)
        errors.append(doc.error(("on_drift",), f"on_drift is one of {choices}, not {value!r}"))
        return None
    return value


def _ignore_globs(doc: SpecDocument, value: Any, errors: list[SpecError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        errors.append(doc.error(("ignore",), "ignore is a list of change paths or globs"))
        return []
    return list(value)


def _exceptions(
    doc: SpecDocument, value: Any, errors: list[SpecError], today: date
) -> list[SpecException]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(doc.error(("exceptions",), "exceptions is a list of {change, until, reason}"))
        return []
    found: list[SpecException] = []
    for index, item in enumerate(value):
        path: tuple[str | int, ...] = ("exceptions", index)
        if not isinstance(item, dict):
            errors.append(doc.error(path, "an exception is {change, until, reason}"))
            continue
        unknown = sorted(set(item) - {"change", "until", "reason", "ticket", "approved_by"})
        if unknown:
            errors.append(doc.error((*path, unknown[0]), f"unknown field {unknown[0]!r}"))
        change = item.get("change")
        if not isinstance(change, dict) or not change or set(change) - _CHANGE_KEYS:
            errors.append(
                doc.error(
                    (*path, "change"),
                    "change is a change object from a report (op, path, actual, expected)",
                )
            )
            continue
        reason = item.get("reason")
        bad_reason = True
        if not isinstance(reason, str) or not reason.strip():
            errors.append(doc.error((*path, "reason"), "an exception needs a reason"))
        elif reason.strip() == REASON_PLACEHOLDER:
            errors.append(
                doc.error((*path, "reason"), "replace the placeholder WHY with the reason")
            )
        else:
            bad_reason = False
        # both mistakes of a pasted, unfilled exception at once
        until = _until(doc, (*path, "until"), item.get("until"), today, errors)
        if until is None or bad_reason or not isinstance(reason, str):
            continue
        line = doc.lines.get(path, doc.line)
        found.append(
            SpecException(
                SourceLocation(doc.file, line),
                dict(change),
                until,
                reason.strip(),
                str(item["ticket"]) if item.get("ticket") is not None else None,
                str(item["approved_by"]) if item.get("approved_by") is not None else None,
            )
        )
    return found


def _until(
    doc: SpecDocument,
    path: tuple[str | int, ...],
    value: Any,
    today: date,
    errors: list[SpecError],
) -> str | None:
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            errors.append(doc.error(path, f"until {value!r} is not a date (YYYY-MM-DD)"))
            return None
    else:
        errors.append(doc.error(path, "an exception needs until: YYYY-MM-DD"))
        return None
    if day > today + timedelta(days=MAX_EXCEPTION_DAYS):
        errors.append(
            doc.error(path, f"until {day} is more than a year ahead: fix the spec instead")
        )
        return None
    return day.isoformat()
