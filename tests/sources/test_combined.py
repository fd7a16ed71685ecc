"""Several `--specs` sources at once: one catalog, and a resource two of them declare."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.aws import ClientCache
from chalicelib.cli.main import main
from chalicelib.errors import SpecSetError
from chalicelib.sources.combined import merge_catalogs
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.sources.provider import sources_provider
from chalicelib.specs.loading import load_documents

WEB = "kind: security_group\nname: web\nregion: us-east-1\ningress: []\n"
BUCKET = "kind: s3_bucket\nname: logs\n"


def _specs(root: Path, name: str, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root


def test_two_directories_give_one_catalog(tmp_path: Path) -> None:
    a = _specs(tmp_path / "network", "web.yaml", WEB)
    b = _specs(tmp_path / "storage", "logs.yaml", BUCKET)
    catalog = sources_provider([str(a), str(b)], ClientCache())()
    assert len(catalog.specs_of("security_group")) == 1
    assert len(catalog.specs_of("s3_bucket")) == 1
    assert len(catalog.files) == 2


def test_merged_specs_have_a_version_only_when_every_source_has_one() -> None:
    """The sweep narrows its actor lookups only for specs whose version it can compare."""
    web = load_documents([("web.yaml", WEB)])
    logs = load_documents([("logs.yaml", BUCKET)])
    versioned = merge_catalogs(
        [replace(web, version="sha256:a"), replace(logs, version="sha256:b")]
    )
    assert versioned.version == "sha256:a+sha256:b"
    assert merge_catalogs([replace(web, version="sha256:a"), logs]).version is None


def test_a_resource_in_two_sources_names_both_places(tmp_path: Path) -> None:
    a = _specs(tmp_path / "team-a", "web.yaml", WEB)
    b = _specs(tmp_path / "team-b", "copy.yaml", "# same group\n" + WEB)
    with pytest.raises(SpecSetError) as raised:
        sources_provider(f"{a},{b}", ClientCache())()
    (error,) = raised.value.errors
    assert str(error).startswith(f"{b}/copy.yaml:2")
    assert f"{a}/web.yaml:1" in str(error)


def test_validate_sums_up_each_source_then_refuses_the_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _specs(tmp_path / "a", "web.yaml", WEB)
    b = _specs(tmp_path / "b", "web.yaml", WEB + "description: again\n")
    assert main(["validate", "--specs", str(a), "--specs", str(b)]) == 2
    out, err = capsys.readouterr()
    assert f"{a}: 1 spec(s) valid (1 security_group)" in out
    assert f"{b}: 1 spec(s) valid (1 security_group)" in out
    assert "also" in err and f"{a}/web.yaml" in err


def test_validate_with_two_sources_that_agree_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _specs(tmp_path / "a", "web.yaml", WEB)
    b = _specs(tmp_path / "b", "logs.yaml", BUCKET)
    assert main(["validate", "--specs", f"{a},{b}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{a}: 1 spec(s) valid (1 security_group)",
        f"{b}: 1 spec(s) valid (1 s3_bucket)",
    ]


def test_every_source_reports_its_errors_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _specs(tmp_path / "a", "bad.yaml", "kind: security_group\nname: web\ningress: 5\n")
    b = _specs(tmp_path / "b", "bad.yaml", "kind: s3_bucket\n")
    assert main(["validate", "--specs", str(a), "--specs", str(b)]) == 2
    err = capsys.readouterr().err
    assert f"{a}/bad.yaml:3" in err and f"{b}/bad.yaml:1" in err


def test_a_declared_resource_is_held_to_the_spec_schema() -> None:
    # what a Terraform or Ansible mapping produces goes through the kind's own checks
    origin = "network/terraform.tfstate: aws_security_group.web"
    good = Declared({"kind": "security_group", "name": "web", "ingress": []}, origin)
    bad = Declared(
        {"kind": "security_group", "name": "db", "ingress": [{"proto": "tcp", "ports": 99999}]},
        "site.yml",
        line=12,
    )
    parsed = declared_file("states", [good, bad])
    assert [item.spec.name for item in parsed.specs] == ["web"]
    assert str(parsed.specs[0].spec.source) == origin
    assert parsed.errors and all(str(e).startswith("site.yml:12") for e in parsed.errors)
