"""The spec bundle: what push writes is what the Lambda's reader parses, hashes are stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.errors import SpecSetError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.specs.bundle import content_hash, display_root, make_bundle, validated_bundle
from chalicelib.specs.loading import build_catalog
from chalicelib.specs.s3_source import parse_bundle

WEB = """kind: security_group
name: web
ingress:
  - proto: tcp
    ports: 443
    cidr: 0.0.0.0/0
"""


def test_the_reader_parses_what_the_writer_writes() -> None:
    bundle = make_bundle({"policies/security_groups/web.yaml": WEB})
    files = parse_bundle("s3://b/policies/bundle.json", bundle.body())
    catalog = build_catalog(files)
    (spec,) = catalog.specs_of(SECURITY_GROUP)
    assert spec.name == "web"
    assert str(spec.source).startswith("policies/security_groups/web.yaml")


def test_the_hash_depends_on_content_only() -> None:
    a = {"p/a.yaml": WEB, "p/b.yaml": "x: 1\n"}
    assert content_hash(a) == content_hash(dict(reversed(list(a.items()))))
    assert make_bundle(a).body() == make_bundle(dict(reversed(list(a.items())))).body()
    assert content_hash(a) != content_hash({**a, "p/b.yaml": "x: 2\n"})
    # moving text between files is a change, even when the concatenation is the same
    assert content_hash({"a": "xy", "b": ""}) != content_hash({"a": "x", "b": "y"})
    # a rename is a change
    assert content_hash({"p/a.yaml": WEB}) != content_hash({"p/c.yaml": WEB})


def test_the_body_carries_its_hash() -> None:
    bundle = make_bundle({"p/a.yaml": WEB})
    document = json.loads(bundle.body())
    assert document["content_hash"] == bundle.content_hash
    assert document["content_hash"].startswith("sha256:")


def test_an_absolute_folder_leaves_no_machine_path_in_the_bundle(tmp_path: Path) -> None:
    folder = tmp_path / "repo" / "policies"
    (folder / "security_groups").mkdir(parents=True)
    (folder / "security_groups" / "web.yaml").write_text(WEB, encoding="utf-8")
    bundle = validated_bundle(folder)
    assert list(bundle.specs) == ["policies/security_groups/web.yaml"]
    assert display_root(folder, cwd=tmp_path / "repo") == "policies"
    assert display_root(folder, cwd=tmp_path / "elsewhere") == "policies"
    assert display_root("specs/prod") == "specs/prod"


def test_every_error_is_reported_before_anything_is_built(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(WEB.replace("443", "70000"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("kind: security_group\nname: [\n", encoding="utf-8")
    with pytest.raises(SpecSetError) as raised:
        validated_bundle(tmp_path)
    assert len(raised.value.errors) == 2
