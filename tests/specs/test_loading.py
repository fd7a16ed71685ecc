"""Which files a spec directory holds: a symlink out of the directory is refused, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.cli.main import main
from chalicelib.errors import SpecSetError
from chalicelib.specs.bundle import validated_bundle
from chalicelib.specs.loading import load_directory, spec_files

WEB = "kind: security_group\nname: web\n"


def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A spec directory with one spec, and a spec file outside it."""
    root = tmp_path / "policies"
    root.mkdir()
    (root / "web.yaml").write_text(WEB)
    outside = tmp_path / "elsewhere" / "db.yaml"
    outside.parent.mkdir()
    outside.write_text(WEB.replace("web", "db"))
    return root, outside


def test_a_symlink_out_of_the_spec_directory_is_refused_naming_it(tmp_path: Path) -> None:
    root, outside = tree(tmp_path)
    (root / "db.yaml").symlink_to(outside)
    for load in (spec_files, load_directory, validated_bundle):
        with pytest.raises(SpecSetError) as raised:
            load(root)
        (error,) = raised.value.errors
        assert error.file == f"{root}/db.yaml"
        assert "outside the spec directory" in error.message
        assert str(outside) in error.message


def test_validate_exits_2_on_a_symlink_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = tree(tmp_path)
    (root / "db.yaml").symlink_to(outside)
    assert main(["validate", "--specs", str(root)]) == 2
    assert f"{root}/db.yaml: symlink to {outside}, outside" in capsys.readouterr().err


def test_a_symlink_through_a_parent_directory_is_refused(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    (root / "up.yaml").symlink_to(Path("..") / "elsewhere" / "db.yaml")
    with pytest.raises(SpecSetError, match=r"up\.yaml: symlink to"):
        load_directory(root)


def test_a_symlink_inside_the_spec_directory_is_followed(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    (root / "common").mkdir()
    (root / "common" / "db.yaml").write_text(WEB.replace("web", "db"))
    (root / "db.yaml").symlink_to(root / "common" / "db.yaml")
    names = [name for name, _ in spec_files(root)]
    assert names == [f"{root}/common/db.yaml", f"{root}/db.yaml", f"{root}/web.yaml"]


def test_a_spec_directory_that_is_itself_a_symlink_is_read(tmp_path: Path) -> None:
    root, _ = tree(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(root)
    assert [name for name, _ in spec_files(link)] == [f"{link}/web.yaml"]
