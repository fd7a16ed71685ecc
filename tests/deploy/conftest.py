"""The packaged prod template, built once per run for every module that reads it.

`chalice package --merge-template infra/setpoint.yaml` runs on an unchanged copy of the
project, then `finish` as `make package` runs it. `make test-fast` skips the modules that
use it (tests/deploy/test_package.py, test_deploy_examples.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.deploy.finish import finish
from tests.deploy.test_policy import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _scratch_project(target: Path) -> None:
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "venv")
    for folder in ("chalicelib", "infra", ".chalice"):
        shutil.copytree(ROOT / folder, target / folder, ignore=ignore)


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    project = tmp_path_factory.mktemp("project")
    _scratch_project(project)
    out = tmp_path_factory.mktemp("out") / "package"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            "infra/setpoint.yaml",
            str(out),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert finish(out / "sam.yaml") == ["on_outbox", "on_recheck", "on_sweep_shard"]
    text = (out / "sam.yaml").read_text(encoding="utf-8")
    template = yaml.load(text, Loader=_CfnLoader)
    yield out / "sam.yaml", template
