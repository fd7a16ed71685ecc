"""Every example spec, mutated, through `setpoint validate`'s parse and checks.

What runs in CI: `EXAMPLES["spec_data"]` (2,000; 35 s measured) specs mutated as data and
written back as YAML, and `EXAMPLES["spec_text"]` (1,500; 15 to 18 s) mutated as text (YAML
traps, `!!python` tags, alias bombs, junk lines, cut files). Each goes through `parse_file` and
`build_catalog`, what `validate`, `push`, `check` and the Lambda's spec loading run. The
answer is a catalog or a `SpecSetError` whose every error names the file, and a line or
a field; nothing else escapes.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import SpecError, SpecSetError
from chalicelib.specs.loading import build_catalog
from chalicelib.specs.parse import parse_file
from tests.fuzz.mutations import (
    ALIAS_BOMB,
    ROOT,
    fuzz_settings,
    mutated,
    mutated_text,
    spec_fixtures,
    to_yaml,
)

SEEDS = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in spec_fixtures()
}
DOCUMENTS = [
    (name, document)
    for name, text in SEEDS.items()
    for document in yaml.safe_load_all(text)
    if document is not None
]


def test_the_seeds_are_every_example_spec() -> None:
    assert len(SEEDS) >= 9 and len(DOCUMENTS) >= 9, sorted(SEEDS)
    assert all(parse_file(name, text).errors == () for name, text in SEEDS.items())


def assert_valid_or_named(name: str, text: str) -> None:
    try:
        build_catalog([parse_file(name, text)])
    except SpecSetError as exc:
        assert exc.errors
        for error in exc.errors:
            assert isinstance(error, SpecError)
            assert error.file == name, error
            # a file over the size budget is refused whole, before it has lines
            assert error.line or error.field or "over the budget" in error.message, error
            assert error.message and str(error), error


@st.composite
def mutated_specs(draw: Any) -> tuple[str, str]:
    name, document = draw(st.sampled_from(DOCUMENTS))
    return name, to_yaml(draw(mutated(document, deepest=200)))


@fuzz_settings("spec_data")
@given(mutated_specs())
def test_a_mutated_spec_is_valid_or_refused_naming_file_and_field(spec: tuple[str, str]) -> None:
    assert_valid_or_named(*spec)


@st.composite
def broken_spec_texts(draw: Any) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    return name, draw(mutated_text(SEEDS[name]))


@fuzz_settings("spec_text")
@given(broken_spec_texts())
def test_broken_spec_text_is_refused_naming_file_and_line(spec: tuple[str, str]) -> None:
    assert_valid_or_named(*spec)


def _only_errors(text: str) -> list[SpecError]:
    parsed = parse_file("policies/bomb.yaml", text)
    assert parsed.specs == ()
    return list(parsed.errors)


def test_an_alias_bomb_is_refused_with_file_and_line() -> None:
    """Nine aliases of nine, nine levels deep: 387 million strings if expanded."""
    (error,) = _only_errors(ALIAS_BOMB + "kind: security_group\nname: x\n")
    assert error.file == "policies/bomb.yaml" and error.line
    assert "aliases expand too far" in error.message


def test_a_python_tag_is_refused_with_file_and_line() -> None:
    text = "kind: security_group\nname: !!python/object/apply:os.system ['true']\n"
    (error,) = _only_errors(text)
    assert (error.file, error.line) == ("policies/bomb.yaml", 2)
    assert "python/object/apply:os.system" in error.message
