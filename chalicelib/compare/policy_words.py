"""Policy elements in words a reviewer reads at 2 a.m.

Plain text helpers over strings and tuples, kept apart from `policy_document` so the
wording can change without touching what counts as drift. Operators we have no words for
are shown as IAM spells them: an unfamiliar word is better than a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# How many entries of a list are named before "and N more": the full list is in the
# change's expected/actual JSON, the summary only has to be read.
LIST_LIMIT = 8

FLAG_WORDS: Mapping[str, str] = {
    "public": "public",
    "admin": "admin",
    "near_admin": "near-admin",
    "cross_account": "cross-account",
}
FLAG_ORDER = ("public", "admin", "near_admin", "cross_account")

_ACCOUNT = re.compile(r"^\d{12}$")

_PRINCIPAL_NOUNS: Mapping[str, str] = {
    "Service": "service",
    "Federated": "federated",
    "CanonicalUser": "canonical user",
}

# operator (without ForAnyValue:/ForAllValues: and IfExists) -> verb before the values
_OPERATOR_WORDS: Mapping[str, str] = {
    "StringEquals": "is",
    "StringNotEquals": "is not",
    "StringEqualsIgnoreCase": "is (any case)",
    "StringNotEqualsIgnoreCase": "is not (any case)",
    "StringLike": "matches",
    "StringNotLike": "does not match",
    "NumericEquals": "=",
    "NumericNotEquals": "!=",
    "NumericLessThan": "<",
    "NumericLessThanEquals": "<=",
    "NumericGreaterThan": ">",
    "NumericGreaterThanEquals": ">=",
    "DateEquals": "is",
    "DateNotEquals": "is not",
    "DateLessThan": "before",
    "DateLessThanEquals": "at or before",
    "DateGreaterThan": "after",
    "DateGreaterThanEquals": "at or after",
    "Bool": "is",
    "BinaryEquals": "is",
    "IpAddress": "in",
    "NotIpAddress": "not in",
    "ArnEquals": "is",
    "ArnNotEquals": "is not",
    "ArnLike": "matches",
    "ArnNotLike": "does not match",
}


def join_words(items: Iterable[str], limit: int = LIST_LIMIT) -> str:
    """`a, b, c` — or `a, b, … and 12 more` when the list would drown the sentence."""
    names = list(items)
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def describe_principal(kind: str, value: str) -> str:
    """`everyone`, `account 210987654321`, `service ec2.amazonaws.com`, or an ARN as is."""
    if value == "*":
        return "everyone" if kind == "AWS" else f"any {_PRINCIPAL_NOUNS.get(kind, kind)}"
    if kind == "AWS":
        return f"account {value}" if _ACCOUNT.match(value) else value
    return f"{_PRINCIPAL_NOUNS.get(kind, kind)} {value}"


def describe_principals(pairs: Iterable[tuple[str, str]], *, negated: bool = False) -> str:
    """Several principals in one phrase; `negated` is NotPrincipal (everyone but these)."""
    words = join_words(describe_principal(kind, value) for kind, value in sorted(pairs))
    return f"everyone except {words}" if negated else words


def describe_condition(operator: str, key: str, values: Iterable[str]) -> str:
    """`aws:SourceIp in 10.0.0.0/8`, `aws:SecureTransport is false`, `any of s3:prefix …`."""
    listed = sorted(values)
    if not listed:
        shown = "nothing"
    elif len(listed) == 1:
        shown = listed[0]
    else:
        shown = f"one of {join_words(listed)}"
    base, quantifier, if_exists = _split_operator(operator)
    verb = _OPERATOR_WORDS.get(base)
    subject = f"{quantifier} of {key}" if quantifier else key
    if base == "Null" and len(listed) == 1 and listed[0].lower() in ("true", "false"):
        text = f"{subject} is {'absent' if listed[0].lower() == 'true' else 'present'}"
    elif verb is None:
        return f"{key} {operator} {shown}"
    else:
        text = f"{subject} {verb} {shown}"
    return f"{text} (if present)" if if_exists else text


def _split_operator(operator: str) -> tuple[str, str | None, bool]:
    """`ForAnyValue:StringLikeIfExists` -> (`StringLike`, `any`, True)."""
    quantifier = None
    base = operator
    for prefix, word in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
        if base.startswith(prefix):
            base, quantifier = base[len(prefix) :], word
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    return base, quantifier, if_exists


def describe_flags(flags: Iterable[str]) -> str:
    """` (public, admin)` — the marker words appended to a summary, or nothing."""
    present = set(flags)
    words = [FLAG_WORDS[flag] for flag in FLAG_ORDER if flag in present]
    return f" ({', '.join(words)})" if words else ""
