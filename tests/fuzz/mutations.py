"""Mutations of real inputs, drawn by hypothesis, for the fuzz tests beside this module.

A mutation starts from a fixture (a CloudTrail record, an example spec, a Terraform state,
a playbook) so that most draws stay close enough to real input to reach deep code, then
breaks it in the ways pipelines and people break things: a value of another type, a key
gone, a huge value, hostile Unicode (lone surrogates, bidi overrides, NUL), nesting far
deeper than any real document.

How much runs: `EXAMPLES` below, 10,000 in all, split over the targets. They run in CI
under the `setpoint-fuzz` profile (derandomized, so a run is reproducible, and no
deadline: a busy machine is not a failure). `SETPOINT_FUZZ_SCALE=5` runs five times as
many, and `SETPOINT_FUZZ_RANDOM=1` draws new examples each run (a local hunt).

Measured 2026-12-03 on a 2-core machine shared with other sessions: the 10,000 take 107 to
131 s wall, 95 to 98 s CPU for `pytest tests/fuzz` (docs/security.md, "Fuzzing", has the split).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
# libyaml's emitter: writing the mutated documents back is most of a draw's cost otherwise
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def to_yaml(value: Any, allow_unicode: bool = False) -> str:
    """YAML for a mutated document; lone surrogates (which libyaml cannot write) by the
    Python emitter, as escapes."""
    options: dict[str, Any] = {"allow_unicode": allow_unicode, "sort_keys": False, "width": 10_000}
    try:
        return yaml.dump(value, Dumper=DUMPER, **options)
    except UnicodeEncodeError:
        return yaml.dump(value, Dumper=yaml.SafeDumper, **options)


FIXTURES = ROOT / "tests" / "fixtures"

# how many examples each target draws in CI (10,000 in all)
EXAMPLES = {
    "event_handler": 4000,
    "event_file": 1500,
    "spec_data": 2000,
    "spec_text": 1500,
    "terraform": 600,
    "ansible": 400,
}
SCALE = max(1, int(os.environ.get("SETPOINT_FUZZ_SCALE", "1") or 1))

settings.register_profile(
    "setpoint-fuzz",
    deadline=None,
    database=None,
    # CI draws the same examples every run; SETPOINT_FUZZ_RANDOM=1 draws new ones
    derandomize=not os.environ.get("SETPOINT_FUZZ_RANDOM"),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz_settings(target: str) -> settings:
    """The profile with the target's share of the examples."""
    return settings(settings.get_profile("setpoint-fuzz"), max_examples=EXAMPLES[target] * SCALE)


def cloudtrail_fixtures() -> list[Path]:
    """Every CloudTrail record the tests keep (fixtures/cloudtrail and tests/events)."""
    found = sorted((FIXTURES / "cloudtrail").rglob("*.json"))
    found += sorted((ROOT / "tests" / "events" / "fixtures").rglob("*.json"))
    return found


def spec_fixtures() -> list[Path]:
    """Every example spec: the repository's policies/ and the examples' spec folders."""
    found = sorted((ROOT / "policies").rglob("*.yaml"))
    found += sorted(p for p in (ROOT / "examples").rglob("*.yaml") if "kind:" in p.read_text())
    return found


def terraform_fixtures() -> list[Path]:
    return sorted(FIXTURES.joinpath("terraform").rglob("*.tfstate"))


def ansible_fixtures() -> list[Path]:
    return sorted(FIXTURES.joinpath("ansible").rglob("*.yml"))


# -- values that break things ----------------------------------------------------------

LONE_SURROGATES = ["\ud800", "\udfff", "a\udc00b", "\ud83d"]
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "\u202e0.0.0.0/0",  # right-to-left override
    "<!channel>",
    "*bold* _it_ `code`",
    "\n\nCritical: forged line",
    "sg-0a1b2c3d4e5f60718\u200b",  # zero-width space
    "ÄÖÜ\u0301\u0301",
    "😀" * 3,
    "%00%ff",
    "${jndi:x}",
    "{{ lookup('env', 'HOME') }}",
    "*",
    "arn:aws:iam::123456789012:role/" + "a" * 200,
    "true",
    "null",
    "-1",
    "1e309",
]

unicode_text = st.text(
    alphabet=st.characters(codec=None, categories=None),  # every code point, surrogates too
    max_size=40,
)
texts = st.sampled_from(LONE_SURROGATES + NASTY_TEXT) | unicode_text
# ints that Python's json module would still parse (it refuses more than 4,300 digits)
numbers = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([0, -1, 65535, 65536, 10**12, 123456789012, 10**4000])
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.none() | st.booleans() | numbers | texts
small_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def huge(kind: str, size: int) -> Any:
    if kind == "text":
        return "A" * size
    if kind == "unicode":
        return "Ω\u202e" * (size // 2)
    if kind == "list":
        return ["x"] * (size // 10)
    return {f"k{i}": i for i in range(size // 100)}


def nested(depth: int, leaf: Any, as_list: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"a": value}
    return value


# -- mutating a parsed value -----------------------------------------------------------

Path_ = tuple[str | int, ...]


def paths_of(value: Any, limit: int = 2000) -> list[Path_]:
    """Every path to a node of `value` (the root first), breadth first, at most `limit`."""
    out: list[Path_] = [()]
    queue: list[tuple[Path_, Any]] = [((), value)]
    while queue and len(out) < limit:
        path, item = queue.pop(0)
        children: list[tuple[str | int, Any]] = []
        if isinstance(item, dict):
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        for key, child in children:
            out.append((*path, key))
            queue.append(((*path, key), child))
    return out


def _get(value: Any, path: Path_) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: Path_, new: Any) -> Any:
    if not path:
        return new
    _get(value, path[:-1])[path[-1]] = new
    return value


def _delete(value: Any, path: Path_) -> Any:
    if not path:
        return value
    del _get(value, path[:-1])[path[-1]]
    return value


OPS = ("delete", "swap", "huge", "unicode", "nest", "rename", "duplicate", "wrap")


@st.composite
def mutated(draw: Callable[..., Any], seed: Any, max_ops: int = 4, deepest: int = 900) -> Any:
    """`seed` with 1 to `max_ops` mutations at drawn places. `deepest` caps added nesting
    (a payload the Lambda receives went through json.loads, which stops near 1,000)."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        paths = paths_of(value)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        op = draw(st.sampled_from(OPS))
        if op == "delete":
            value = _delete(value, path)
        elif op == "swap":
            value = _set(value, path, draw(small_values))
        elif op == "huge":
            kind = draw(st.sampled_from(["text", "unicode", "list", "dict"]))
            value = _set(value, path, huge(kind, draw(st.sampled_from([10_000, 300_000]))))
        elif op == "unicode":
            value = _set(value, path, draw(texts))
        elif op == "nest":
            depth = draw(st.sampled_from([20, 65, 200, deepest]))
            value = _set(value, path, nested(depth, _get(value, path), draw(st.booleans())))
        elif op == "rename" and path and isinstance(path[-1], str):
            parent = _get(value, path[:-1])
            new_key = draw(st.sampled_from([path[-1].upper(), path[-1].lower()]) | texts)
            parent[new_key] = parent.pop(path[-1])
        elif op == "duplicate":
            target = _get(value, path)
            if isinstance(target, list):
                target.extend(copy.deepcopy(target) * 3)
        elif op == "wrap":
            value = _set(value, path, [_get(value, path)])
    return value


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# -- mutating text -----------------------------------------------------------------------

ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
YAML_TRAPS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "&x [*x]",
    "*undefined",
    "<<: *nope",
    "{a: 1, a: 2}",
    "22:22",
    "on",
    "2026-13-45",
    "0x_ff",
    "'unterminated",
    "- [" * 300,
    "\t- tab",
    "%YAML 9.9",
    "---\n...\n---",
    "? complex\n: key",
]


@st.composite
def mutated_text(draw: Callable[..., Any], seed: str) -> str:
    """`seed` with a drawn line replaced or followed by YAML traps, junk or an alias bomb."""
    lines = seed.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        choice = draw(st.sampled_from(["trap", "trap_value", "junk", "bomb", "cut", "indent"]))
        if choice == "trap":
            lines.insert(at, draw(st.sampled_from(YAML_TRAPS)))
        elif choice == "trap_value" and lines:
            head = lines[at].split(":", 1)[0]
            lines[at] = f"{head}: {draw(st.sampled_from(YAML_TRAPS))}"
        elif choice == "junk":
            lines.insert(at, draw(texts))
        elif choice == "bomb":
            return ALIAS_BOMB + "\n".join(lines)
        elif choice == "cut" and lines:
            del lines[at:]
        elif choice == "indent" and lines:
            lines[at] = "   " + lines[at]
    return "\n".join(lines) + "\n"
