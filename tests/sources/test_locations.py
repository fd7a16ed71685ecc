"""`--specs` values: which source each names, and the mistakes a user makes typing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.errors import ConfigError
from chalicelib.sources.locations import parse_location, parse_locations


def test_each_prefix_names_its_source() -> None:
    assert parse_location("policies").scheme == "setpoint"
    assert parse_location("s3://specs/prod").scheme == "setpoint"
    assert parse_location("s3://specs/prod").on_s3
    tf = parse_location("terraform:s3://tf-states/network")
    assert (tf.scheme, tf.target, tf.on_s3) == ("terraform", "s3://tf-states/network", True)
    assert parse_location("ansible:site.yml").target == "site.yml"


def test_a_comma_separated_value_is_several_sources() -> None:
    found = parse_locations(["policies, terraform:states/", "ansible:playbooks"])
    assert [loc.raw for loc in found] == ["policies", "terraform:states/", "ansible:playbooks"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("terraform:", "needs a path"),
        ("ansible:s3://b/p", "not S3"),
        ("terrafrom:state.tfstate", "unknown source 'terrafrom:'"),
        (" , ", "no source given"),
    ],
)
def test_a_mistyped_source_is_refused_by_name(value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_locations([value])


def test_the_same_source_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="given twice"):
        parse_locations(["policies", "policies"])


def test_a_path_with_a_colon_that_exists_is_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a drive letter, or a folder that is really named "team:a", is a path, not a prefix
    assert parse_location("C:/specs").scheme == "setpoint"
    folder = tmp_path / "team:a"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse_location("team:a").scheme == "setpoint"
    assert parse_location("team:a").target == "team:a"
