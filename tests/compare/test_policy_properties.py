"""Property tests: any respelling of a policy compares equal; any added or removed action,
resource, principal or condition value is found and named.

Policies are drawn as meaning first (`Meaning`: sets per element), then written out in one
of the many ways IAM accepts. Fresh values (never in the pools) make sure a mutation cannot
be hidden by an identical grant elsewhere in the document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from random import Random
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.compare.policy_document import PolicyDocument, diff_policies, parse_policy

ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:*",
    "iam:PassRole",
    "sts:AssumeRole",
    "ec2:DescribeInstances",
    "kms:Decrypt",
    "*",
]
RESOURCES = [
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::B/*",
    "arn:aws:iam::123456789012:role/app",
    "arn:aws:kms:eu-west-1:123456789012:key/k1",
]
ACCOUNTS = ["123456789012", "210987654321"]
PRINCIPALS = [
    ("AWS", "*"),
    ("AWS", ACCOUNTS[0]),
    ("AWS", ACCOUNTS[1]),
    ("AWS", "arn:aws:iam::111122223333:role/deploy"),
    ("Service", "ec2.amazonaws.com"),
    ("Federated", "cognito-identity.amazonaws.com"),
]
# (operator, key, values): values may be bools and numbers, which IAM reads as strings
CONDITIONS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("StringEquals", "aws:SourceAccount", ("123456789012",)),
    ("Bool", "aws:SecureTransport", (False,)),
    ("IpAddress", "aws:SourceIp", ("10.0.0.0/8", "192.168.0.0/16")),
    ("NumericLessThan", "s3:max-keys", (10,)),
    ("StringLike", "s3:prefix", ("home/*", "public/*")),
]

FRESH_ACTION = "fresh:DoSomethingNew"
FRESH_RESOURCE = "arn:aws:s3:::fresh-bucket/*"
FRESH_ACCOUNT = "999988887777"
FRESH_VALUE = "fresh-value"

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Meaning:
    """One statement as sets; `*_field` names the element used (Not… or absent)."""

    effect: str
    action_field: str
    actions: frozenset[str]
    resource_field: str | None
    resources: frozenset[str]
    principal_field: str | None
    principals: frozenset[tuple[str, str]]
    conditions: frozenset[int]  # indexes into CONDITIONS
    extra_condition_values: frozenset[str] = frozenset()  # added to the first condition


def subset(pool: list[Any], max_size: int = 3) -> st.SearchStrategy[frozenset[Any]]:
    return st.frozensets(st.sampled_from(pool), min_size=1, max_size=max_size)


meanings = st.builds(
    Meaning,
    effect=st.sampled_from(["Allow", "Deny"]),
    action_field=st.sampled_from(["Action", "Action", "Action", "NotAction"]),
    actions=subset(ACTIONS, 4),
    resource_field=st.sampled_from([None, "Resource", "Resource", "NotResource"]),
    resources=subset(RESOURCES),
    principal_field=st.sampled_from([None, "Principal", "Principal", "NotPrincipal"]),
    principals=subset(PRINCIPALS),
    conditions=st.frozensets(st.integers(0, len(CONDITIONS) - 1), max_size=2),
)
policies = st.lists(meanings, min_size=1, max_size=4)


# ------------------------------------------------------------------- respelling
# The spelling choices come from one seeded `random.Random` that hypothesis draws (a failing
# seed replays): drawing every coin flip as its own strategy made generation 20x slower.


def only(meaning: Meaning, element: str, value: Any) -> Meaning:
    changes: dict[str, Any] = {element: frozenset({value})}
    return replace(meaning, **changes)


def split(rnd: Random, meaning: Meaning) -> list[Meaning]:
    """Sound splits: one statement per action, resource or principal (positive ones only)."""
    out = [meaning]
    for element, positive in (
        ("actions", meaning.action_field == "Action"),
        ("resources", meaning.resource_field == "Resource"),
        ("principals", meaning.principal_field == "Principal"),
    ):
        if positive and rnd.random() < 0.5:
            out = [only(m, element, value) for m in out for value in getattr(m, element)]
    return out


def shuffled(rnd: Random, items: list[Any]) -> list[Any]:
    """Any order, sometimes with an entry repeated."""
    items = list(items)
    if items and rnd.random() < 0.3:
        items.append(rnd.choice(items))
    rnd.shuffle(items)
    return items


def one_or_list(rnd: Random, items: list[Any]) -> Any:
    values = shuffled(rnd, items)
    if len(values) == 1 and rnd.random() < 0.5:
        return values[0]
    return values


def recased(rnd: Random, text: str) -> str:
    return rnd.choice([text, text.lower(), text.upper(), text.swapcase()])


def principal_json(rnd: Random, pairs: frozenset[tuple[str, str]]) -> Any:
    if pairs == {("AWS", "*")}:
        return rnd.choice(["*", {"AWS": "*"}, {"AWS": ["*"]}])
    by_kind: dict[str, list[str]] = {}
    for kind, value in sorted(pairs):
        if kind == "AWS" and value in ACCOUNTS:
            value = rnd.choice([value, f"arn:aws:iam::{value}:root"])
        by_kind.setdefault(kind, []).append(value)
    kinds = sorted(by_kind)
    rnd.shuffle(kinds)
    return {kind: one_or_list(rnd, by_kind[kind]) for kind in kinds}


def condition_value(rnd: Random, value: Any) -> Any:
    if isinstance(value, bool):
        return rnd.choice([value, "true" if value else "false"])
    if isinstance(value, int):
        return rnd.choice([value, str(value)])
    return value


def condition_json(rnd: Random, meaning: Meaning) -> dict[str, Any]:
    block: dict[str, dict[str, Any]] = {}
    for number, index in enumerate(sorted(meaning.conditions)):
        operator, key, values = CONDITIONS[index]
        listed = [condition_value(rnd, v) for v in values]
        if number == 0:
            listed.extend(sorted(meaning.extra_condition_values))
        block.setdefault(operator, {})[recased(rnd, key)] = one_or_list(rnd, listed)
    return block


def statement_json(rnd: Random, meaning: Meaning) -> dict[str, Any]:
    items: list[tuple[str, Any]] = [("Effect", meaning.effect)]
    if rnd.random() < 0.5:
        items.append(("Sid", rnd.choice(["A", "B", "Stmt1"])))
    actions = [recased(rnd, a) for a in sorted(meaning.actions)]
    items.append((meaning.action_field, one_or_list(rnd, actions)))
    if meaning.resource_field:
        items.append((meaning.resource_field, one_or_list(rnd, sorted(meaning.resources))))
    if meaning.principal_field:
        items.append((meaning.principal_field, principal_json(rnd, meaning.principals)))
    conditions = condition_json(rnd, meaning)
    if conditions or rnd.random() < 0.3:
        items.append(("Condition", conditions))
    rnd.shuffle(items)
    return dict(items)


def write(rnd: Random, policy: list[Meaning]) -> Any:
    """The policy in one of the spellings IAM, CloudTrail or a spec author would use."""
    pieces = [part for meaning in policy for part in split(rnd, meaning)]
    statements = [statement_json(rnd, m) for m in shuffled(rnd, pieces)]
    body: Any = statements[0] if len(statements) == 1 and rnd.random() < 0.5 else statements
    top = [("Version", "2012-10-17"), ("Statement", body)]
    rnd.shuffle(top)
    encoding = rnd.choice(["dict", "json", "pretty", "url", "bytes"])
    if encoding == "dict":
        return dict(top)
    text = json.dumps(dict(top), indent=2 if encoding == "pretty" else None)
    if encoding == "url":
        return quote(text)
    return text.encode() if encoding == "bytes" else text


randoms = st.randoms(use_true_random=True)


def written(policy: list[Meaning]) -> st.SearchStrategy[Any]:
    return randoms.map(lambda rnd: write(rnd, policy))


def with_spellings(policy_strategy: st.SearchStrategy[list[Meaning]]) -> Any:
    return policy_strategy.flatmap(
        lambda policy: st.tuples(st.just(policy), written(policy), written(policy))
    )


# ------------------------------------------------------------------- properties


def mentioned(changes: tuple[Any, ...], op: str, words: str) -> bool:
    return any(c.op == op and words.lower() in c.summary.lower() for c in changes)


@PROPERTY
@given(with_spellings(policies))
def test_any_respelling_compares_equal(case):
    _, first, second = case
    left, right = parse_policy(first), parse_policy(second)
    assert left == right
    assert hash(left) == hash(right)
    assert diff_policies(left, right, path="policy") == ()
    assert diff_policies(right, left, path="policy") == ()


def grow(policy: list[Meaning], index: int, element: str) -> list[Meaning]:
    """The same policy with one fresh value added to one statement's `element`."""
    meaning = policy[index]
    if element == "actions":
        changed = replace(meaning, actions=meaning.actions | {FRESH_ACTION})
    elif element == "resources":
        field = meaning.resource_field or "Resource"
        changed = replace(
            meaning, resource_field=field, resources=meaning.resources | {FRESH_RESOURCE}
        )
    elif element == "principals":
        field = meaning.principal_field or "Principal"
        fresh = ("AWS", FRESH_ACCOUNT)
        changed = replace(meaning, principal_field=field, principals=meaning.principals | {fresh})
    else:
        changed = replace(
            meaning,
            conditions=meaning.conditions or frozenset({0}),
            extra_condition_values=frozenset({FRESH_VALUE}),
        )
    return [*policy[:index], changed, *policy[index + 1 :]]


FRESH_WORDS = {
    "actions": FRESH_ACTION,
    "resources": FRESH_RESOURCE,
    "principals": f"account {FRESH_ACCOUNT}",
    "conditions": FRESH_VALUE,
}


@st.composite
def grown(draw: st.DrawFn) -> tuple[str, Any, Any]:
    policy = draw(policies)
    index = draw(st.integers(0, len(policy) - 1))
    element = draw(st.sampled_from(sorted(FRESH_WORDS)))
    rnd = draw(randoms)
    return element, write(rnd, policy), write(rnd, grow(policy, index, element))


@PROPERTY
@given(grown())
def test_an_added_action_resource_principal_or_condition_value_is_found(case):
    element, smaller, bigger = case
    spec, live = parse_policy(smaller), parse_policy(bigger)
    assert spec != live
    changes = diff_policies(spec, live, path="policy")
    assert mentioned(changes, "add", FRESH_WORDS[element]), changes


@PROPERTY
@given(grown())
def test_a_removed_action_resource_principal_or_condition_value_is_found(case):
    element, smaller, bigger = case
    spec, live = parse_policy(bigger), parse_policy(smaller)
    changes = diff_policies(spec, live, path="policy")
    assert mentioned(changes, "remove", FRESH_WORDS[element]), changes


def atoms_of(statements: list[dict[str, Any]]) -> frozenset[Any]:
    return parse_policy({"Statement": statements}).atoms if statements else frozenset()


@PROPERTY
@given(policies.flatmap(written), policies.flatmap(written))
def test_changes_cover_exactly_the_difference(first, second):
    """Each change's statement JSON, read back, holds exactly the atoms on one side only."""
    spec, live = parse_policy(first), parse_policy(second)
    changes = diff_policies(spec, live, path="policy")
    added = atoms_of([c.actual for c in changes if c.op == "add"])
    removed = atoms_of([c.expected for c in changes if c.op == "remove"])
    assert added == live.atoms - spec.atoms
    assert removed == spec.atoms - live.atoms
    reported = sum(len(atoms_of([c.actual or c.expected])) for c in changes)
    assert reported == len(added) + len(removed)  # no atom in two changes
    assert (changes == ()) == (spec == live)
    for change in changes:
        assert change.path == "policy"
        assert change.summary.endswith(("— not in spec", "— in spec, missing"))
        assert change.world_open == ("(public" in change.summary)


@PROPERTY
@given(policies.flatmap(written))
def test_written_out_and_read_back_is_the_same_policy(value):
    from chalicelib.compare.policy_document import document_json

    parsed = parse_policy(value)
    again = parse_policy(json.dumps(document_json(parsed)))
    assert isinstance(again, PolicyDocument)
    assert again == parsed
