"""`setpoint validate` on `on_drift:`: alert and revert are accepted, anything else named."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.cli.main import main


def _write(tmp_path: Path, body: str) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "web.yaml").write_text(body)
    return specs


@pytest.mark.parametrize("choice", ["alert", "revert"])
def test_validate_accepts_alert_and_revert(tmp_path: Path, choice: str) -> None:
    specs = _write(tmp_path, f"kind: security_group\nname: web\ningress: []\non_drift: {choice}\n")
    assert main(["validate", "--specs", str(specs)]) == 0


def test_validate_refuses_another_word_at_its_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = _write(tmp_path, "kind: security_group\nname: web\ningress: []\non_drift: undo\n")
    assert main(["validate", "--specs", str(specs)]) == 2
    err = capsys.readouterr().err
    assert f"{specs}/web.yaml:4" in err
    assert "on_drift is one of alert, revert, not 'undo'" in err


def test_validate_refuses_revert_on_a_kind_that_has_nothing_to_revert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "kind: guard\nname: trails\non_drift: revert\n"
    specs = _write(tmp_path, body)
    assert main(["validate", "--specs", str(specs)]) == 2
    assert "Setpoint reverts nothing of kind guard" in capsys.readouterr().err
