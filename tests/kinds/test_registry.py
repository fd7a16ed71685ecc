"""The registry is the one place kinds are known: a leaked kind or a missing handler fails."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest
from chalice.app import CloudWatchEventConfig

import app as lambda_app
from chalicelib.events.table import EVENT_TABLE, watched_event_names
from chalicelib.kinds import registry
from chalicelib.kinds.registry import FAMILIES, RESOURCE_KINDS, SPEC_KINDS, kind_named
from chalicelib.model import GUARD
from chalicelib.specs.top_schema import repository_text
from chalicelib.specs.validate import SCHEMA_DIR, TOP_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
KINDS_DIR = ROOT / "chalicelib" / "kinds"


def _kind_words() -> re.Pattern[str]:
    # the guard is Setpoint's own sight: the core names it (model.GUARD) by design, and
    # "guard" is an ordinary word (idempotency guards, guarded statements)
    kinds = [kind for kind in RESOURCE_KINDS if kind is not GUARD]
    names = {str(kind) for kind in kinds} | {str(k).upper() for k in kinds}
    names |= {family.name for family in FAMILIES if "_" in family.name}
    return re.compile(
        r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, names))) + r")(?![A-Za-z0-9_])"
    )


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose may name kinds)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def kind_mentions(path: Path, root: Path = ROOT) -> list[str]:
    """Every identifier, import path or string in code (not prose) that names a kind."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    words, skip = _kind_words(), _docstrings(tree)
    hits: list[str] = []
    for node in ast.walk(tree):
        texts: list[str] = []
        if isinstance(node, ast.Name):
            texts = [node.id]
        elif isinstance(node, ast.Attribute):
            texts = [node.attr]
        elif isinstance(node, ast.ImportFrom):
            texts = [node.module or "", *(alias.name for alias in node.names)]
        elif isinstance(node, ast.Import):
            texts = [alias.name for alias in node.names]
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ):
            texts = [node.value]
        for text in texts:
            for match in words.finditer(text):
                # a plural is a folder name people see ("security_groups/"), not a kind
                after = text[match.end() : match.end() + 1]
                if after != "s":
                    hits.append(
                        f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}: {text!r}"
                    )
    return sorted(set(hits))


def core_modules() -> list[Path]:
    """Every module outside the families' folders, the registry excepted."""
    modules = [ROOT / "app.py"]
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        inside = KINDS_DIR in path.parents
        if inside and path.parent != KINDS_DIR:
            continue  # a family's own folder
        if path == KINDS_DIR / "registry.py":
            continue
        modules.append(path)
    return modules


def test_no_kind_is_named_outside_its_folder_and_the_registry() -> None:
    leaks = [hit for path in core_modules() for hit in kind_mentions(path)]
    assert leaks == []


def test_the_leak_check_finds_a_kind_named_in_code(tmp_path: Path) -> None:
    # the check above must be able to fail: a core module that names a kind is caught
    module = tmp_path / "probe.py"
    module.write_text(
        '"""security_group in prose is fine."""\n'
        'FOLDER = "security_groups"\n'
        'KIND = "s3_bucket"\n'
        "from chalicelib.kinds.iam import IAM_ROLE\n"
    )
    assert kind_mentions(module, tmp_path) == [
        "probe.py:3: 's3_bucket'",
        "probe.py:4: 'IAM_ROLE'",
    ]


def test_every_family_has_an_eventbridge_handler_in_app() -> None:
    sources = {source.name: source for source in lambda_app.app.event_sources}
    for family in FAMILIES:
        assert family.handler in sources, f"app.py has no handler for {family.name}"
        handler = sources[family.handler]
        assert handler.handler_string == f"app.{family.handler}"
        assert isinstance(handler, CloudWatchEventConfig), handler
        pattern = handler.event_pattern
        watched = family.event_sources
        assert pattern["source"] == ["aws." + s.removesuffix(".amazonaws.com") for s in watched]
        # a family with filtered calls (the guard's PutObject) has one clause per filter
        clauses = pattern["detail"].get("$or", [pattern["detail"]])
        assert {s for clause in clauses for s in clause["eventSource"]} == set(watched)
        # the family's own calls only: S3's bucket calls never reach the guard's function,
        # nor the guard's PutObject S3's, though both come from s3.amazonaws.com
        names = {row.event_name for row in family.rows}
        assert names <= {name for source in watched for name in watched_event_names(source)}
        assert {n for clause in clauses for n in clause["eventName"]} == names
        for (source, name), extra in family.detail_filters.items():
            assert {"eventSource": [source], "eventName": [name], **extra} in clauses
        assert callable(getattr(lambda_app, family.handler))


RIDDEN = {row.event_name for family in FAMILIES for row in family.riders}


def test_every_event_row_belongs_to_its_familys_source() -> None:
    for family in FAMILIES:
        for row in family.rows:
            assert row.event_source in family.event_sources
            assert row.kind in family.kinds
            routed = EVENT_TABLE[(row.event_source, row.event_name)]
            # a row another family rides on (the guard on IAM's role calls) is wrapped
            assert routed is row or (routed.kind is row.kind and row.event_name in RIDDEN)
    for family in FAMILIES:
        for name, kind in (*family.creates.items(), *family.deletes.items()):
            assert kind in family.kinds and (family.event_source, name) in EVENT_TABLE, name


def test_a_kind_or_event_claimed_twice_fails_at_import() -> None:
    twin = replace(FAMILIES[0], name="twin", handler="on_twin_change")
    with pytest.raises(ValueError, match="claimed by both"):
        registry._unique((*FAMILIES, twin))


def test_unknown_kind_names_the_close_match() -> None:
    with pytest.raises(ValueError, match="did you mean security_group"):
        kind_named("security_gruop")
    assert kind_named("iam_role") is SPEC_KINDS["iam_role"].kind


def test_the_repository_top_schema_is_generated_from_the_registry() -> None:
    on_disk = (SCHEMA_DIR / TOP_SCHEMA).read_text(encoding="utf-8")
    assert on_disk == repository_text(), "run `make policy` to regenerate it"
    for spec in SPEC_KINDS.values():
        assert spec.schema.is_file() and KINDS_DIR in spec.schema.parents
