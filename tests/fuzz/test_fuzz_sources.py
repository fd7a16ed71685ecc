"""Every Terraform state and Ansible playbook fixture, mutated, through its source's loader.

What runs in CI: `EXAMPLES["terraform"]` (600; 3 to 8 s measured) states, mutated as data or
as JSON text (deep nesting, lone surrogate escapes, integers past the digit limit, cut
files), through `terraform_provider` as `--specs terraform:FILE` reads them;
`EXAMPLES["ansible"]` (400; 14 to 35 s) playbooks, vars files and role tasks mutated as data
or as text, one file of a copied fixture tree at a time, through `load_ansible` as `--specs
ansible:DIR` reads them. The answer is a catalog, or a `SpecSetError` / `ConfigError` naming
the file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.aws import ClientCache
from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.sources.ansible.provider import load_ansible
from chalicelib.sources.terraform.provider import terraform_provider
from tests.fuzz.mutations import (
    FIXTURES,
    ansible_fixtures,
    fuzz_settings,
    load_json,
    mutated,
    mutated_text,
    terraform_fixtures,
    to_yaml,
)

STATES = [load_json(path) for path in terraform_fixtures()]
PLAYBOOK_DIRS = sorted(
    {path.relative_to(FIXTURES / "ansible").parts[0] for path in ansible_fixtures()}
)


def test_the_seeds_are_every_state_and_playbook() -> None:
    assert len(STATES) >= 5 and len(PLAYBOOK_DIRS) >= 5


def assert_named(error: SpecSetError | ConfigError, shown: str) -> None:
    if isinstance(error, ConfigError):
        assert shown in str(error), error
        return
    assert error.errors
    for item in error.errors:
        assert isinstance(item, SpecError)
        assert item.file and item.message, item


@st.composite
def json_texts(draw: Any, value: Any) -> str:
    """JSON for `value`, sometimes broken where JSON parsing is fragile."""
    text = json.dumps(value, indent=2)
    trick = draw(st.sampled_from(["none", "none", "deep", "surrogate", "digits", "cut"]))
    if trick == "deep":
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        text = '{"version": 4, "resources": ' + "[" * depth + "]" * depth + "}"
    elif trick == "surrogate":
        text = text.replace('"type"', '"\\udc00type"', 1).replace("arn:aws", "arn:\\ud800aws", 1)
    elif trick == "digits":
        text = text.replace('"version"', '"serial": ' + "7" * 5000 + ', "version"', 1)
    elif trick == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    return text


@st.composite
def states(draw: Any) -> str:
    return draw(json_texts(draw(mutated(draw(st.sampled_from(STATES)), deepest=200))))


@fuzz_settings("terraform")
@given(states())
def test_a_mutated_state_is_read_or_refused_naming_the_state(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz.tfstate"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        terraform_provider(str(path), ClientCache())()
    except (SpecSetError, ConfigError) as error:
        assert_named(error, str(path))


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the Ansible fixtures: each example rewrites one file, then puts it back."""
    root = tmp_path_factory.mktemp("ansible")
    shutil.copytree(FIXTURES / "ansible", root, dirs_exist_ok=True)
    yield root


ANSIBLE_FILES = [path.relative_to(FIXTURES / "ansible") for path in ansible_fixtures()]


@st.composite
def playbook_edits(draw: Any) -> tuple[Path, str]:
    relative = draw(st.sampled_from(ANSIBLE_FILES))
    text = (FIXTURES / "ansible" / relative).read_text(encoding="utf-8")
    if draw(st.booleans()):
        return relative, draw(mutated_text(text))
    data = yaml.safe_load(text)
    broken = draw(mutated(data, deepest=200))
    return relative, to_yaml(broken, allow_unicode=True)


@fuzz_settings("ansible")
@given(playbook_edits())
def test_a_mutated_playbook_is_read_or_refused_naming_the_file(
    playbooks: Path, edit: tuple[Path, str]
) -> None:
    relative, text = edit
    target = playbooks / relative
    original = target.read_bytes()
    target.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_ansible(str(playbooks / relative.parts[0]))
    except (SpecSetError, ConfigError) as error:
        assert_named(error, relative.parts[0])
    finally:
        target.write_bytes(original)
