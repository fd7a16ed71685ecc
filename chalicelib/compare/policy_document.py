"""IAM policy documents compared by what they mean, not how they are spelled.

Identity policies, bucket policies and role trust policies all go through `parse_policy`
into a `PolicyDocument`, and two documents are equal when they grant and deny the same
things. Pure: no boto3, no clock, no environment.

Never drift (sound rewrites, IAM evaluates both spellings the same):
- statement order, duplicate statements, duplicate entries in any list, `Sid`, `Id`,
  JSON whitespace and key order, a JSON string, a URL-encoded JSON string or a dict;
- a single string versus a list, for Action/NotAction/Resource/NotResource, every
  principal type and condition values;
- the letter case of action names and of condition keys (IAM ignores both), and of
  `Effect`;
- `"Principal": "*"` versus `{"AWS": "*"}`; an account id versus `arn:<partition>:iam::
  <id>:root` (both name the whole account);
- condition values written as JSON booleans or numbers versus strings (`true` is `"true"`,
  as IAM reads them), and an empty `Condition` versus none;
- one statement listing several actions, resources or principals versus several
  statements that each list some of them. Every statement is expanded into atoms,
  one per (action, resource, principal) it matches under its effect and whole
  condition block; documents compare as sets of atoms. This is exact because IAM ORs
  the entries of Action, Resource and Principal, and ORs statements.
- `Version` only changes how `${…}` policy variables are read, so it is compared only
  when such a variable appears (a missing Version is 2008-10-17, as in IAM).

Still drift (conservative: a reviewer sees it, even where IAM might agree):
- NotAction/NotResource/NotPrincipal lists and condition blocks stay whole: they are
  ANDed, so splitting them across statements would change the meaning;
- one wildcard covering another (`s3:*` next to `s3:GetObject`, `*` versus `*:*`), and
  an Allow shadowed by a Deny: that is evaluation, not spelling;
- the case of resources, principals and condition values, and number spellings
  (`5` versus `5.0`): IAM compares most of them case-sensitively.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from itertools import product
from typing import Any, NamedTuple
from urllib.parse import unquote

from chalicelib.compare.policy_words import (
    describe_condition,
    describe_flags,
    describe_principals,
    join_words,
)
from chalicelib.errors import SetpointError
from chalicelib.model import Change

CURRENT_VERSION = "2012-10-17"
LEGACY_VERSION = "2008-10-17"  # also what a document without Version means

Principal = tuple[str, str]  # (type, value): ("AWS", "123456789012"), ("Service", "…")
Condition = tuple[str, str, frozenset[str]]  # (operator, key lower-cased, values)

PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
EVERYONE: Principal = ("AWS", "*")

_DOCUMENT_KEYS = ("Version", "Id", "Statement")
_STATEMENT_KEYS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_ACCOUNT = re.compile(r"^\d{12}$")
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
# Actions that grant admin on `*`: everything, or IAM (which can grant itself everything).
_ADMIN_ACTIONS = frozenset({"*", "*:*", "iam:*"})

# Keys that tie a grant to an account, organization, network or calling resource: with
# one of them (matched positively), "everyone" is no longer the whole internet.
_RESTRICTING_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
    }
)
_MATCH_ALL_VALUES = frozenset({"*", "0.0.0.0/0", "::/0"})
_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})
_ORG_PATH_KEYS = frozenset({"aws:sourceorgpaths", "aws:principalorgpaths"})
# Keys whose value is the calling account's id.
_ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:principalaccount", "aws:sourceowner"})
_TRUST_ACTIONS = frozenset({"sts:tagsession", "sts:setsourceidentity", "sts:setcontext"})


class PolicyError(SetpointError, ValueError):
    """A policy document that cannot be read: not JSON, wrong shape, unknown element."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Statement:
    """One statement in canonical form.

    Empty sets mean the element is absent (IAM rejects empty lists, and `parse_policy`
    does too). Actions and condition keys are lower-cased; `spelling` remembers how they
    were written, for display only. `sid` is display only as well.
    """

    effect: str
    actions: frozenset[str] = frozenset()
    not_actions: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    not_resources: frozenset[str] = frozenset()
    principals: frozenset[Principal] = frozenset()
    not_principals: frozenset[Principal] = frozenset()
    conditions: frozenset[Condition] = frozenset()
    sid: str | None = field(default=None, compare=False)
    spelling: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @cached_property
    def atoms(self) -> frozenset[Atom]:
        """The statement as a set of one-action, one-resource, one-principal grants."""
        actions = _parts(self.actions, self.not_actions)
        resources = _parts(self.resources, self.not_resources)
        principals = _parts(self.principals, self.not_principals)
        return frozenset(
            Atom(self.effect, action, resource, principal, self.conditions)
            for action, resource, principal in product(actions, resources, principals)
        )

    def spelled(self, canonical: str) -> str:
        return self.spelling.get(canonical, canonical)


class Atom(NamedTuple):
    """The unit documents are compared by.

    Each part is `(negated, values)`: a positive part holds exactly one value, a negated
    part (NotAction, NotResource, NotPrincipal) the whole list; None when the statement
    has neither form of that element.
    """

    effect: str
    action: tuple[bool, frozenset[str]]
    resource: tuple[bool, frozenset[str]] | None
    principal: tuple[bool, frozenset[Principal]] | None
    conditions: frozenset[Condition]


def _parts(positive: frozenset[Any], negative: frozenset[Any]) -> list[Any]:
    if positive:
        return [(False, frozenset({value})) for value in positive]
    if negative:
        return [(True, negative)]
    return [None]


@dataclass(frozen=True, eq=False)
class PolicyDocument:
    """A parsed policy. `==` and `hash` follow meaning (atoms), not spelling."""

    statements: frozenset[Statement]
    version: str | None = None

    @cached_property
    def atoms(self) -> frozenset[Atom]:
        return frozenset(atom for statement in self.statements for atom in statement.atoms)

    @property
    def effective_version(self) -> str:
        return self.version or LEGACY_VERSION

    @cached_property
    def uses_variables(self) -> bool:
        """True when a `${…}` policy variable appears where IAM substitutes them."""
        for statement in self.statements:
            values = [*statement.resources, *statement.not_resources]
            values.extend(value for _, _, vals in statement.conditions for value in vals)
            if any("${" in value for value in values):
                return True
        return False

    def _meaning(self) -> tuple[frozenset[Atom], str | None]:
        return self.atoms, self.effective_version if self.uses_variables else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicyDocument):
            return NotImplemented
        return self._meaning() == other._meaning()

    def __hash__(self) -> int:
        return hash(self._meaning())


# ---------------------------------------------------------------------------- parsing


def parse_policy(value: str | bytes | Mapping[str, Any] | PolicyDocument) -> PolicyDocument:
    """A dict, a JSON string or a URL-encoded JSON string -> `PolicyDocument`.

    Raises `PolicyError` naming the statement and element that is wrong. A document that
    is already parsed is returned as is, so callers need not care which side they hold.
    """
    if isinstance(value, PolicyDocument):
        return value
    data = _load(value)
    if not isinstance(data, Mapping):
        raise PolicyError(f"a policy document must be a JSON object, not {_kind(data)}")
    for key in data:
        if key not in _DOCUMENT_KEYS:
            raise PolicyError(f"unknown element {key!r} (a policy has {', '.join(_DOCUMENT_KEYS)})")
    version = _version(data.get("Version"))
    if "Statement" not in data:
        raise PolicyError("the policy has no Statement")
    raw = data["Statement"]
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise PolicyError(f"Statement must be an object or a list, not {_kind(raw)}")
    statements = frozenset(_statement(item, index) for index, item in enumerate(raw, 1))
    return PolicyDocument(statements=statements, version=version)


def _load(value: object) -> object:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError("the policy document is not UTF-8 text") from None
    if not isinstance(value, str):
        raise PolicyError(f"a policy document must be JSON text or an object, not {_kind(value)}")
    text = value.strip()
    if not text.startswith(("{", "[", '"')) and "%" in text:
        # CloudTrail and GetAccountAuthorizationDetails URL-encode documents.
        text = unquote(text).strip()
    if not text:
        raise PolicyError("the policy document is empty")
    try:
        data = json.loads(text)
        if isinstance(data, str) and data.lstrip().startswith("{"):
            data = json.loads(data)  # a document encoded twice, as some tools log it
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"the policy document is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    return data


def _version(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.date):  # YAML reads an unquoted 2012-10-17 as a date
        value = value.isoformat()
    if value not in (CURRENT_VERSION, LEGACY_VERSION):
        raise PolicyError(
            f"Version must be {CURRENT_VERSION} or {LEGACY_VERSION}, not {value!r}", "Version"
        )
    return str(value)


def _statement(raw: object, index: int) -> Statement:
    where = f"Statement {index}"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"must be an object, not {_kind(raw)}", where)
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str | int) or isinstance(sid, bool):
            raise PolicyError(f"Sid must be a string, not {_kind(sid)}", where)
        sid = str(sid)
        where = f"{where} (Sid {sid!r})"
    for key in raw:
        if key not in _STATEMENT_KEYS:
            raise PolicyError(
                f"unknown element {key!r} (a statement has {', '.join(_STATEMENT_KEYS)})", where
            )
    for element in ("Action", "Resource", "Principal"):
        if element in raw and f"Not{element}" in raw:
            raise PolicyError(f"has both {element} and Not{element}; use one", where)
    if "Action" not in raw and "NotAction" not in raw:
        raise PolicyError("has no Action or NotAction", where)

    spelling: dict[str, str] = {}
    return Statement(
        effect=_effect(raw.get("Effect"), where),
        actions=_actions(raw, "Action", where, spelling),
        not_actions=_actions(raw, "NotAction", where, spelling),
        resources=_optional_strings(raw, "Resource", where),
        not_resources=_optional_strings(raw, "NotResource", where),
        principals=_principals(raw, "Principal", where),
        not_principals=_principals(raw, "NotPrincipal", where),
        conditions=_conditions(raw.get("Condition"), where, spelling),
        sid=sid,
        spelling=spelling,
    )


def _effect(value: object, where: str) -> str:
    if value is None:
        raise PolicyError("has no Effect", where)
    if isinstance(value, str) and value.lower() in ("allow", "deny"):
        return value.capitalize()
    raise PolicyError(f"Effect must be Allow or Deny, not {value!r}", where)


def _strings(value: object, element: str, where: str) -> list[str]:
    """The one helper for IAM's string-or-list elements."""
    items: list[object] = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyError(f"{element} is an empty list", where)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise PolicyError(f"{element} entries must be strings, not {_kind(item)}", where)
        if not item:
            raise PolicyError(f"{element} has an empty string", where)
        out.append(item)
    return out


def _optional_strings(raw: Mapping[str, Any], element: str, where: str) -> frozenset[str]:
    if element not in raw:
        return frozenset()
    return frozenset(_strings(raw[element], element, where))


def _actions(
    raw: Mapping[str, Any], element: str, where: str, spelling: dict[str, str]
) -> frozenset[str]:
    if element not in raw:
        return frozenset()
    out = set()
    for action in _strings(raw[element], element, where):
        if action != "*" and ":" not in action:
            raise PolicyError(f"{element} {action!r} is not service:action or *", where)
        canonical = action.lower()
        spelling.setdefault(canonical, action)
        out.add(canonical)
    return frozenset(out)


def _principals(raw: Mapping[str, Any], element: str, where: str) -> frozenset[Principal]:
    if element not in raw:
        return frozenset()
    value = raw[element]
    if value == "*":
        return frozenset({EVERYONE})
    if not isinstance(value, Mapping):
        raise PolicyError(
            f'{element} must be "*" or an object like {{"AWS": ...}}, not {value!r}', where
        )
    if not value:
        raise PolicyError(f"{element} is empty", where)
    out = set()
    for kind, names in value.items():
        if kind not in PRINCIPAL_TYPES:
            raise PolicyError(
                f"unknown {element} type {kind!r} (use {', '.join(PRINCIPAL_TYPES)})", where
            )
        for name in _strings(names, f"{element}.{kind}", where):
            out.add(canonical_principal(kind, name))
    return frozenset(out)


def canonical_principal(kind: str, value: str) -> Principal:
    """`arn:aws:iam::123456789012:root` is the account `123456789012`, in any partition."""
    if kind == "AWS":
        match = _ACCOUNT_ROOT.match(value)
        if match:
            return kind, match.group(1)
    return kind, value


def _conditions(value: object, where: str, spelling: dict[str, str]) -> frozenset[Condition]:
    if value is None:
        return frozenset()
    if not isinstance(value, Mapping):
        raise PolicyError(f"Condition must be an object, not {_kind(value)}", where)
    out = set()
    for operator, block in value.items():
        if not isinstance(operator, str) or not operator:
            raise PolicyError(f"Condition operator {operator!r} is not a name", where)
        if not isinstance(block, Mapping):
            raise PolicyError(
                f"Condition {operator} must map keys to values, not {_kind(block)}", where
            )
        for key, values in block.items():
            if not isinstance(key, str) or not key:
                raise PolicyError(f"Condition {operator} has a key {key!r}", where)
            canonical = key.lower()
            spelling.setdefault(canonical, key)
            items = values if isinstance(values, list) else [values]
            texts = frozenset(_condition_value(item, f"{operator}.{key}", where) for item in items)
            out.add((operator, canonical, texts))
    return frozenset(out)


def _condition_value(value: object, element: str, where: str) -> str:
    """Condition values as IAM reads them: `true` is "true", 5 is "5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise PolicyError(f"Condition {element} values must be strings, not {_kind(value)}", where)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, int | float):
        return f"a number ({value})"
    return type(value).__name__


# ------------------------------------------------------------------------- as JSON


def statement_json(statement: Statement) -> dict[str, Any]:
    """A statement as IAM JSON (sorted lists, one value as a plain string)."""
    out: dict[str, Any] = {}
    if statement.sid:
        out["Sid"] = statement.sid
    out["Effect"] = statement.effect
    for element, principals in (
        ("Principal", statement.principals),
        ("NotPrincipal", statement.not_principals),
    ):
        if principals:
            out[element] = _principal_json(principals)
    for element, actions in (("Action", statement.actions), ("NotAction", statement.not_actions)):
        if actions:
            out[element] = _one_or_list(statement.spelled(a) for a in sorted(actions))
    for element, resources in (
        ("Resource", statement.resources),
        ("NotResource", statement.not_resources),
    ):
        if resources:
            out[element] = _one_or_list(sorted(resources))
    if statement.conditions:
        condition: dict[str, dict[str, Any]] = {}
        for operator, key, values in sorted(statement.conditions, key=_condition_sort_key):
            block = condition.setdefault(operator, {})
            block[statement.spelled(key)] = _one_or_list(sorted(values))
        out["Condition"] = condition
    return out


def document_json(document: PolicyDocument) -> dict[str, Any]:
    """The whole document as IAM JSON, statements in a stable order."""
    out: dict[str, Any] = {}
    if document.version:
        out["Version"] = document.version
    out["Statement"] = [statement_json(s) for s in sorted(document.statements, key=_sort_key)]
    return out


def _principal_json(principals: frozenset[Principal]) -> Any:
    if principals == {EVERYONE}:
        return "*"
    by_kind: dict[str, list[str]] = {}
    for kind, value in sorted(principals):
        by_kind.setdefault(kind, []).append(value)
    return {kind: _one_or_list(values) for kind, values in by_kind.items()}


def _one_or_list(values: Iterable[str]) -> str | list[str]:
    items = list(values)
    return items[0] if len(items) == 1 else items


def _condition_sort_key(condition: Condition) -> tuple[str, str, list[str]]:
    operator, key, values = condition
    return operator, key, sorted(values)


def _sort_key(statement: Statement) -> str:
    return json.dumps(statement_json(statement), sort_keys=True)


# --------------------------------------------------------------------- flags, words


def principal_account(principal: Principal) -> str | None:
    """The account a principal belongs to: `123456789012` for the id, a user or role ARN."""
    kind, value = principal
    if kind != "AWS":
        return None
    if _ACCOUNT.match(value):
        return value
    parts = value.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        return parts[4] if _ACCOUNT.match(parts[4]) else None
    return None


def _is_everyone(principal: Principal) -> bool:
    kind, value = principal
    if value == "*":
        return True
    parts = value.split(":")
    return kind == "AWS" and len(parts) >= 6 and parts[0] == "arn" and parts[4] == "*"


def _positive(operator: str) -> bool:
    """An operator that is true only when the key is present and matches the values."""
    if operator.startswith("ForAllValues:") or operator.endswith("IfExists"):
        return False  # both are true when the key is absent from the request
    base = operator.removeprefix("ForAnyValue:")
    return "Not" not in base and base != "Null"


def _has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def _restricting_value(key: str, value: str) -> bool:
    """One condition value that pins a known account, org, network or caller.

    A wildcard (`*`, `?`) pins nothing (`o-*` is every organization, `12345678901?` ten
    accounts), except inside an ARN whose account field is written out
    (`arn:aws:sns:*:123456789012:*` is that account's topics) and after the organization
    id of an org path (`o-abc123/*` is that organization).
    """
    if value in _MATCH_ALL_VALUES:
        return False
    if not _has_wildcard(value):
        return True
    if key in _ARN_KEYS:
        parts = value.split(":")
        return len(parts) >= 6 and parts[0] == "arn" and bool(_ACCOUNT.match(parts[4]))
    if key in _ORG_PATH_KEYS:
        org, slash, _ = value.partition("/")
        return bool(slash) and bool(org) and not _has_wildcard(org)
    return False


def _restricting(condition: Condition) -> bool:
    """A condition that narrows "everyone" to a known account, org, network or caller.

    Every value must pin something: the values are ORed, so one broad value opens it.
    """
    operator, key, values = condition
    if key not in _RESTRICTING_KEYS or not values or not _positive(operator):
        return False
    return all(_restricting_value(key, value) for value in values)


def condition_accounts(statement: Statement) -> set[str]:
    """Accounts named by positive conditions on the caller: aws:PrincipalAccount,
    aws:SourceAccount, aws:SourceOwner, and the account field of aws:SourceArn /
    aws:PrincipalArn values."""
    found: set[str] = set()
    for operator, key, values in statement.conditions:
        if not _positive(operator):
            continue
        for value in values:
            if key in _ACCOUNT_KEYS and _ACCOUNT.match(value):
                found.add(value)
            elif key in _ARN_KEYS:
                parts = value.split(":")
                if len(parts) >= 6 and parts[0] == "arn" and _ACCOUNT.match(parts[4]):
                    found.add(parts[4])
    return found


def _covers_iam(pattern: str) -> bool:
    """True when an action pattern matches every IAM action (`iam:*`, `i*`, `*`)."""
    return fnmatchcase("iam:*", pattern.lower())


def _broad_resource(statement: Statement) -> bool:
    """`Resource: "*"`, or NotResource (everything except a few)."""
    return "*" in statement.resources or bool(statement.not_resources)


def admin_flag(statement: Statement) -> str | None:
    """The admin flag of an Allow statement's actions and resources, or None.

    admin: `*`, `*:*` or `iam:*` (which can grant itself everything) on `*` or with
    NotResource; NotAction on `*` that leaves IAM in (it grants iam:*).
    near_admin: NotAction on `*` that takes IAM out (every other service, like
    PowerUserAccess).
    """
    if statement.effect != "Allow" or not _broad_resource(statement):
        return None
    if statement.actions & _ADMIN_ACTIONS:
        return "admin"
    if statement.not_actions:
        if any(_covers_iam(action) for action in statement.not_actions):
            return "near_admin"
        return "admin"
    return None


def policy_flags(statement: Statement, own_account: str | None = None) -> set[str]:
    """Why a reviewer should look twice: "public", "admin", "near_admin", "cross_account".

    Only Allow statements are flagged: a Deny never opens anything. Cross-account reads
    principals and the account ids in caller conditions (aws:SourceAccount, …).
    """
    flags: set[str] = set()
    if statement.effect != "Allow":
        return flags
    everyone = bool(statement.not_principals) or any(map(_is_everyone, statement.principals))
    if everyone and not any(map(_restricting, statement.conditions)):
        flags.add("public")
    admin = admin_flag(statement)
    if admin is not None:
        flags.add(admin)
    if own_account is not None:
        accounts = {principal_account(p) for p in statement.principals}
        accounts |= condition_accounts(statement)
        if accounts - {None, own_account}:
            flags.add("cross_account")
    return flags


def change_policy_flags(change: Change, own_account: str | None = None) -> frozenset[str]:
    """The flags of a statement change made by `diff_policies`, for renderers.

    `Change` carries only `world_open` (= "public"); the statement JSON in `actual` (or
    `expected`) holds the rest, so it is read back here. Empty for any other change.
    """
    value = change.actual if change.actual is not None else change.expected
    if not isinstance(value, Mapping) or "Effect" not in value:
        return frozenset()
    try:
        statement = _statement(value, 1)
    except PolicyError:
        return frozenset()
    return frozenset(policy_flags(statement, own_account))


def _is_trust(statement: Statement) -> bool:
    """A role trust statement: Allow sts:AssumeRole* to someone, on no resource."""
    return (
        statement.effect == "Allow"
        and bool(statement.principals or statement.not_principals)
        and not (statement.resources or statement.not_resources)
        and bool(statement.actions)
        and any(a.startswith("sts:assumerole") for a in statement.actions)
        and all(a.startswith("sts:assumerole") or a in _TRUST_ACTIONS for a in statement.actions)
    )


def describe_statement(statement: Statement, own_account: str | None = None) -> str:
    """`Allow s3:GetObject on arn:aws:s3:::b/* to everyone (public)`,
    `role trusts account 210987654321`, `Allow * on * (admin)`."""
    negated_principal = bool(statement.not_principals)
    who = describe_principals(
        statement.not_principals or statement.principals, negated=negated_principal
    )
    if statement.actions:
        actions = join_words(statement.spelled(a) for a in sorted(statement.actions))
    else:
        spelled = (statement.spelled(a) for a in sorted(statement.not_actions))
        actions = f"every action except {join_words(spelled)}"
    if _is_trust(statement):
        text = f"role trusts {who}"
        if statement.actions != {"sts:assumerole"}:
            text += f" with {actions}"
    else:
        text = f"{statement.effect} {actions}"
        if statement.resources:
            text += f" on {join_words(sorted(statement.resources))}"
        elif statement.not_resources:
            text += f" on everything except {join_words(sorted(statement.not_resources))}"
        if who:
            text += f" {'to' if statement.effect == 'Allow' else 'for'} {who}"
    if statement.conditions:
        words = (
            describe_condition(operator, statement.spelled(key), values)
            for operator, key, values in sorted(statement.conditions, key=_condition_sort_key)
        )
        text += f" when {' and '.join(words)}"
    return text + describe_flags(policy_flags(statement, own_account))


# --------------------------------------------------------------------------- diffing


def _merge(rows: Iterable[tuple[Any, ...]], dim: int) -> list[tuple[Any, ...]]:
    """Union the positive values of one element across rows that agree on all others."""
    merged: dict[tuple[Any, ...], set[Any] | None] = {}
    for row in rows:
        part = row[dim]
        if part is None or part[0]:  # absent or negated: a unit, never merged
            merged.setdefault(row, None)
            continue
        key = (*row[:dim], None, *row[dim + 1 :], "merge")
        bucket = merged.setdefault(key, set())
        assert bucket is not None
        bucket.update(part[1])
    out = []
    for key, values in merged.items():
        if values is None:
            out.append(key)
        else:
            out.append((*key[:dim], (False, frozenset(values)), *key[dim + 1 : -1]))
    return out


def regroup(
    atoms: Iterable[Atom], *, sid: str | None = None, spelling: Mapping[str, str] | None = None
) -> list[Statement]:
    """Atoms back into as few statements as a simple merge finds (exactly these atoms)."""
    rows: list[tuple[Any, ...]] = [tuple(atom) for atom in atoms]
    for dim in (1, 2, 3):  # actions, then resources, then principals
        rows = _merge(rows, dim)
    out = []
    for effect, action, resource, principal, conditions in rows:
        negated_action, action_values = action
        negated_resource, resource_values = resource or (False, frozenset())
        negated_principal, principal_values = principal or (False, frozenset())
        out.append(
            Statement(
                effect=effect,
                actions=frozenset() if negated_action else action_values,
                not_actions=action_values if negated_action else frozenset(),
                resources=frozenset() if negated_resource else resource_values,
                not_resources=resource_values if negated_resource else frozenset(),
                principals=frozenset() if negated_principal else principal_values,
                not_principals=principal_values if negated_principal else frozenset(),
                conditions=conditions,
                sid=sid,
                spelling=spelling or {},
            )
        )
    return sorted(out, key=_sort_key)


def _one_side(document: PolicyDocument, other: frozenset[Atom]) -> Iterator[Statement]:
    """Each statement narrowed to what the other side lacks, every atom reported once."""
    claimed: set[Atom] = set()
    for statement in sorted(document.statements, key=_sort_key):
        fresh = statement.atoms - other - claimed
        claimed.update(fresh)
        yield from regroup(fresh, sid=statement.sid, spelling=statement.spelling)


def diff_policies(
    expected: PolicyDocument | None,
    actual: PolicyDocument | None,
    *,
    path: str,
    own_account: str | None = None,
) -> tuple[Change, ...]:
    """What `actual` (live) grants or denies that `expected` (spec) does not, and back.

    One change per statement, narrowed to the part that differs: a statement that gained
    an action shows as `+ Allow <that action> on …`. `add` is live only, `remove` is spec
    only. Empty exactly when the documents are equal.
    """
    changes: list[Change] = []
    want = expected.atoms if expected is not None else frozenset()
    have = actual.atoms if actual is not None else frozenset()
    if actual is not None:
        for part in _one_side(actual, want):
            changes.append(_change("add", part, path, own_account))
    if expected is not None:
        for part in _one_side(expected, have):
            changes.append(_change("remove", part, path, own_account))
    if (
        expected is not None
        and actual is not None
        and expected.uses_variables
        and actual.uses_variables
        and expected.effective_version != actual.effective_version
    ):
        changes.append(
            Change(
                op="modify",
                path=f"{path}.Version",
                expected=expected.version,
                actual=actual.version,
                summary=(
                    f"Version is {actual.effective_version}, spec says "
                    f"{expected.effective_version}: policy variables like ${{aws:username}} "
                    "are read differently"
                ),
            )
        )
    order = {"add": 0, "remove": 1, "modify": 2}
    return tuple(sorted(changes, key=lambda c: (order[c.op], c.summary)))


def _change(op: str, statement: Statement, path: str, own_account: str | None) -> Change:
    value = statement_json(statement)
    why = "not in spec" if op == "add" else "in spec, missing"
    return Change(
        op="add" if op == "add" else "remove",
        path=path,
        expected=None if op == "add" else value,
        actual=value if op == "add" else None,
        summary=f"{describe_statement(statement, own_account)} — {why}",
        world_open="public" in policy_flags(statement, own_account),
    )
