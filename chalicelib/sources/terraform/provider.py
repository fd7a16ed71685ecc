"""`terraform:PATH` -> one spec catalog from every state it names, re-read only when changed.

PATH is a `.tfstate` file, a directory (every `*.tfstate` below it, sorted, shown relative
to it: `network/terraform.tfstate`), or `s3://BUCKET/PREFIX`: every `*.tfstate` object under
the prefix (a folder: `network` reads `network/...`, not `network-old/...`; a key ending in
`.tfstate` is that one object) plus the S3 backend's workspace copies of them
(`env:/WS/PREFIX...`), each shown by its key. A warm Lambda keeps the provider, so a load
is one listing and one GET per object whose ETag moved; each state is parsed once per
version.

All instances of all states go to every registered family's mapping at once (a group and
its rule resources may sit in different states); what they declare is checked by the
kinds' own schemas and builders, then for duplicates as a spec directory would be.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.registry import FAMILIES
from chalicelib.sources.declared import Declared, declared_file
from chalicelib.sources.terraform.model import TerraformMapping, TfInstance
from chalicelib.sources.terraform.state import parse_state
from chalicelib.specs.catalog import SpecCatalog, Undeclared
from chalicelib.specs.loading import build_catalog
from chalicelib.specs.parse import ParsedFile, ParsedSpec
from chalicelib.specs.s3_source import parse_s3_uri

if TYPE_CHECKING:
    from chalicelib.aws import ClientCache

STATE_SUFFIX = ".tfstate"
# the S3 backend's default `workspace_key_prefix`: workspace WS of key K is "env:/WS/K"
WORKSPACE_PREFIX = "env:/"


@dataclass(frozen=True)
class _Read:
    """One state version as read: its instances, or why it could not be used."""

    version: str  # ETag (S3) or mtime and size (a file)
    instances: tuple[TfInstance, ...] = ()
    error: SpecError | None = None


def _parse(origin: str, version: str, text: str | bytes) -> _Read:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return _Read(version, error=SpecError("not a Terraform state (not UTF-8)", origin))
    try:
        return _Read(version, tuple(parse_state(origin, text)))
    except SpecError as exc:
        return _Read(version, error=exc)


def mappings() -> list[TerraformMapping]:
    """Every registered family's mapping (each loaded on first use)."""
    return [family.terraform() for family in FAMILIES if family.terraform is not None]


def declare_all(
    instances: Sequence[TfInstance], found: Iterable[TerraformMapping] | None = None
) -> list[Declared | SpecError]:
    """What every mapping declares from the instances of its types, in state order."""
    out: list[Declared | SpecError] = []
    for mapping in mappings() if found is None else found:
        mine = [instance for instance in instances if instance.type in mapping.types]
        if mine:
            out.extend(mapping.declare(mine))
    return out


# a declared document -> what its kind's schema and builder made of it
Checked = dict[tuple[str, int | None, str], ParsedFile]


def _document_key(item: Declared) -> tuple[str, int | None, str]:
    return item.origin, item.line, json.dumps(item.data, sort_keys=True, default=str)


def check_declared(
    name: str, items: Iterable[Declared | SpecError], memo: Checked | None = None
) -> tuple[ParsedFile, Checked]:
    """`declared_file` over the items, reusing what `memo` holds for an identical document
    (schema checks are most of a load's cost, and most documents are unchanged between two
    loads); returns the file and the memo of this load's documents."""
    specs: list[ParsedSpec] = []
    errors: list[SpecError] = []
    used: Checked = {}
    for item in items:
        if isinstance(item, SpecError):
            errors.append(item)
            continue
        key = _document_key(item)
        checked = (memo or {}).get(key) or used.get(key) or declared_file(name, [item])
        used[key] = checked
        specs.extend(checked.specs)
        errors.extend(checked.errors)
    return ParsedFile(name, tuple(specs), tuple(errors)), used


def catalog_of(
    name: str, reads: Sequence[tuple[str, _Read]], memo: Checked | None = None
) -> tuple[SpecCatalog, Checked]:
    """The catalog of (origin, read) pairs; every unreadable state and every declared
    resource that fails its kind's checks is reported at once."""
    errors = [read.error for _, read in reads if read.error is not None]
    instances = [instance for _, read in reads for instance in read.instances]
    parsed, used = check_declared(name, declare_all(instances), memo)
    if errors:
        parsed = ParsedFile(parsed.name, parsed.specs, (*errors, *parsed.errors))
    catalog = build_catalog([parsed])  # raises SpecSetError with every error
    files = tuple(origin for origin, _ in reads)
    return replace(catalog, files=files, undeclared=unread_types(name, instances)), used


def unread_types(name: str, instances: Sequence[TfInstance]) -> tuple[Undeclared, ...]:
    """The AWS resource types of the states that no family maps, with their instance
    counts, for `validate` to list (a VPC, an instance: not kinds Setpoint checks)."""
    read = frozenset(t for mapping in mappings() for t in mapping.types)
    counts: dict[str, int] = {}
    for instance in instances:
        if instance.type not in read:
            counts[instance.type] = counts.get(instance.type, 0) + 1
    if not counts:
        return ()
    listed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return (Undeclared("unread", name, None, f"{listed} (types no Setpoint kind reads)"),)


class LocalStates:
    """A `.tfstate` file or a directory of them; a file is parsed again only when its
    modification time or size changes."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.root = Path(target)
        self._cache: dict[str, _Read] = {}

    def files(self) -> list[tuple[str, Path]]:
        """(origin as shown, path), sorted; hidden directories (`.terraform/`) skipped."""
        if self.root.is_file():
            return [(self.root.as_posix(), self.root)]
        if not self.root.is_dir():
            raise ConfigError(f"terraform:{self.target}: no such file or directory")
        found = []
        for path in self.root.rglob(f"*{STATE_SUFFIX}"):
            relative = path.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts[:-1]) or not path.is_file():
                continue
            found.append((relative.as_posix(), path))
        if not found:
            raise ConfigError(f"terraform:{self.target}: no *{STATE_SUFFIX} file below it")
        return sorted(found)

    def load(self) -> list[tuple[str, _Read]]:
        reads: list[tuple[str, _Read]] = []
        cache: dict[str, _Read] = {}
        for origin, path in self.files():
            try:
                stat = path.stat()
                version = f"{stat.st_mtime_ns}:{stat.st_size}"
                cached = self._cache.get(origin)
                if cached is not None and cached.version == version:
                    read = cached
                else:
                    read = _parse(origin, version, path.read_bytes())
            except OSError as exc:
                message = f"cannot read the state: {exc.strerror or exc}"
                read = _Read("", error=SpecError(message, origin))
            cache[origin] = read
            reads.append((origin, read))
        self._cache = cache
        return reads


@dataclass(frozen=True)
class LoadStats:
    """What the last S3 load cost, for logs and tests."""

    list_calls: int = 0
    get_calls: int = 0
    reused: int = 0


class S3States:
    """State objects under `s3://BUCKET/PREFIX`, cached by ETag across loads."""

    def __init__(self, make_client: Callable[[], Any], uri: str) -> None:
        self.uri = uri
        self.bucket, key = parse_s3_uri(uri)
        # one state object, or a folder: s3://b/network reads network/... not network-old/...
        self.single = key.endswith(STATE_SUFFIX)
        self.prefix = key if self.single or not key or key.endswith("/") else f"{key}/"
        self._make_client = make_client
        self._s3: Any = None
        self._cache: dict[str, _Read] = {}
        self.last_stats = LoadStats()

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._make_client()
        return self._s3

    def owns(self, key: str) -> bool:
        """A state object of this prefix, directly or as a workspace's copy of one."""
        if not key.endswith(STATE_SUFFIX):
            return False
        candidates = [key]
        if key.startswith(WORKSPACE_PREFIX):
            candidates.append(key[len(WORKSPACE_PREFIX) :].partition("/")[2])
        if self.single:
            return self.prefix in candidates
        return any(candidate.startswith(self.prefix) for candidate in candidates)

    def _fail(self, exc: Exception, action: str, key: str) -> ConfigError:
        where = f"s3://{self.bucket}/{key}"
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            return ConfigError(f"terraform: cannot {action} {where}: {code}")
        return ConfigError(f"terraform: cannot {action} {where}: {exc}")

    def _list(self) -> tuple[dict[str, str], int]:
        """(key -> ETag of every state object, pages read)."""
        prefixes = [self.prefix]
        if self.prefix and not self.prefix.startswith(WORKSPACE_PREFIX):
            prefixes.append(WORKSPACE_PREFIX)  # workspaces keep their states there
        found: dict[str, str] = {}
        pages = 0
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix in prefixes:
            try:
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                    pages += 1
                    for item in page.get("Contents", []):
                        if self.owns(item["Key"]):
                            found[item["Key"]] = item.get("ETag", "")
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, "list", prefix) from exc
        if not found:
            raise ConfigError(f"terraform:{self.uri}: no *{STATE_SUFFIX} object under it")
        return found, pages

    def _get(self, key: str, etag: str) -> _Read | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
            body: bytes = response["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None  # deleted since the listing
            raise self._fail(exc, "read", key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "read", key) from exc
        return _parse(key, response.get("ETag") or etag, body)

    def load(self) -> list[tuple[str, _Read]]:
        listed, pages = self._list()
        cache: dict[str, _Read] = {}
        gets = reused = 0
        for key in sorted(listed):
            cached = self._cache.get(key)
            if cached is not None and cached.version == listed[key]:
                cache[key] = cached
                reused += 1
                continue
            gets += 1
            read = self._get(key, listed[key])
            if read is not None:
                cache[key] = read
        self._cache = cache
        self.last_stats = LoadStats(pages, gets, reused)
        return sorted(cache.items())


class TerraformProvider:
    """The spec provider for one `terraform:` value: a catalog per call, rebuilt only when
    a state changed since the last one."""

    def __init__(self, target: str, states: LocalStates | S3States) -> None:
        self.target = target
        self.states = states
        self._seen: tuple[tuple[str, str], ...] | None = None
        self._catalog: SpecCatalog | None = None
        self._checked: Checked = {}

    @property
    def last_catalog(self) -> SpecCatalog | None:
        """The catalog of the last successful load (what was in force before a state write)."""
        return self._catalog

    def owns(self, bucket: str, key: str) -> bool:
        """Whether the S3 object `bucket`/`key` is one of this source's states."""
        states = self.states
        return isinstance(states, S3States) and states.bucket == bucket and states.owns(key)

    def __call__(self) -> SpecCatalog:
        reads = self.states.load()
        seen = tuple((origin, read.version) for origin, read in reads)
        if self._catalog is not None and seen == self._seen:
            return self._catalog
        self._catalog = None
        try:
            catalog, self._checked = catalog_of(f"terraform:{self.target}", reads, self._checked)
        except SpecSetError:
            self._seen = None
            raise
        self._catalog, self._seen = catalog, seen
        return catalog


def terraform_provider(target: str, clients: ClientCache) -> Callable[[], SpecCatalog]:
    """A `.tfstate` file, a directory of them, or `s3://BUCKET/PREFIX`."""
    if target.startswith("s3://"):
        return TerraformProvider(target, S3States(lambda: clients.client("s3"), target))
    if not Path(target).exists():
        raise ConfigError(f"terraform:{target}: no such file or directory")
    return TerraformProvider(target, LocalStates(target))
