"""The spec bundle `setpoint push` uploads: every spec file in one JSON object.

One object means one S3 version per push, one ETag for the Lambda to compare and one
EventBridge "Object Created" per merge, instead of a storm of partial states while a
sync uploads file after file. The reader is `s3_source.parse_bundle`; the format version
comes from there so writer and reader cannot disagree.

The content hash covers the file names and texts only (not the hash field itself, not
the upload time), so pushing the same specs twice yields the same hash and the second
push can be skipped.

A bundle made from validated specs also carries their index (`spec_index`): what each
spec can be named by, so the Lambda's event path parses only the specs an event names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.noise.parse import IGNORE_FILE
from chalicelib.specs.loading import build_catalog, check_total_size, read_spec_text, spec_files
from chalicelib.specs.parse import ParsedFile
from chalicelib.specs.s3_source import BUNDLE_FORMAT_VERSION, content_hash, parse_member
from chalicelib.specs.spec_index import build_index

# The object name when `--to` names a prefix; s3_source loads a `.json` key as a bundle.
BUNDLE_NAME = "bundle.json"


@dataclass(frozen=True)
class SpecBundle:
    """File name (repository path) -> YAML text, and the hash of exactly that."""

    specs: Mapping[str, str]
    content_hash: str
    # `spec_index.build_index` of these specs; None: a bundle without one (parsed whole)
    index: Mapping[str, Any] | None = None

    def body(self) -> bytes:
        """The object's bytes: stable for the same specs (sorted keys, fixed separators)."""
        document: dict[str, Any] = {
            "format_version": BUNDLE_FORMAT_VERSION,
            "content_hash": self.content_hash,
            "specs": dict(sorted(self.specs.items())),
        }
        if self.index is not None:
            document["index"] = self.index
        return json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")


def make_bundle(specs: Mapping[str, str], index: Mapping[str, Any] | None = None) -> SpecBundle:
    return SpecBundle(dict(specs), content_hash(specs), index)


def indexed_bundle(specs: Mapping[str, str]) -> SpecBundle:
    """The bundle of `specs` with their index; raises SpecSetError as `validate` would."""
    parsed = {name: parse_member(name, specs[name]) for name in sorted(specs)}
    build_catalog(parsed.values())  # raises SpecSetError
    return make_bundle(specs, build_index(parsed))


def display_root(root: str | os.PathLike[str], cwd: Path | None = None) -> str:
    """How the spec folder is named inside the bundle: its path in the repository.

    A relative path is kept as typed ("policies"); an absolute one is made relative to the
    working directory when it lies below it, else only its last component is kept, so no
    machine path ever lands in the bucket (or in a finding).
    """
    path = PurePath(os.fspath(root))
    if not path.is_absolute():
        return path.as_posix()
    here = Path.cwd() if cwd is None else cwd
    try:
        return Path(path).resolve().relative_to(here.resolve()).as_posix() or "."
    except ValueError:
        return path.name


def read_spec_texts(root: str | os.PathLike[str]) -> tuple[dict[str, str], list[SpecError]]:
    """(name -> text of every spec file under `root`, errors of files that could not be read)."""
    shown = display_root(root)
    single = Path(root).is_file()
    texts: dict[str, str] = {}
    errors: list[SpecError] = []
    files = spec_files(root)
    check_total_size(root, (path for _, path in files))
    for _, path in files:
        relative = path.relative_to(root).as_posix() if not single else ""
        display = shown if single else relative if shown == "." else f"{shown}/{relative}"
        text, error = read_spec_text(display, path)
        if text is not None:
            texts[display] = text
        elif error is not None:
            errors.append(error)
    ignore = Path(root) / IGNORE_FILE
    if not single and ignore.is_file():
        # the rules travel with the specs they silence, so the Lambda applies them too
        name = IGNORE_FILE if shown == "." else f"{shown}/{IGNORE_FILE}"
        text, error = read_spec_text(name, ignore)
        if text is not None:
            texts[name] = text
        elif error is not None:
            errors.append(error)
    return texts, errors


def validated_bundle(root: str | os.PathLike[str]) -> SpecBundle:
    """The bundle of every spec under `root`, after the checks `setpoint validate` makes.

    Raises SpecSetError with every problem (file, line, field) and builds nothing then:
    what is uploaded is exactly the text that was validated.
    """
    texts, unreadable = read_spec_texts(root)
    parsed = {name: parse_member(name, text) for name, text in sorted(texts.items())}
    files: Iterable[ParsedFile] = [
        *(ParsedFile(e.file, (), (e,)) for e in unreadable),
        *parsed.values(),
    ]
    build_catalog(files)  # raises SpecSetError
    return make_bundle(texts, build_index(parsed))
