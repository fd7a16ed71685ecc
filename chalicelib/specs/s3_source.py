"""Specs read from S3, re-read only when they change.

The Lambda keeps one `S3SpecSource` at module level, so a warm invocation pays one
ListObjectsV2 and fetches only objects whose ETag moved. Parsed results (errors too) are
cached per object: an unchanged broken file is reported again without being fetched.

`s3://bucket/prefix` loads every .yaml/.yml object under the prefix (as a folder: the
prefix is taken to end with "/"), and the bundle `prefix/bundle.json` that
`setpoint push --to s3://bucket/prefix` writes, so push and check take the same URI.
`s3://bucket/key.yaml|.yml|.json` loads that one object; a .json object is a bundle:
`{"format_version": "1", "specs": {"policies/security_groups/web.yaml": "<yaml>", ...}}`,
whose entries keep their repository paths as names.

With a verifier (`--verify-key`, `SETPOINT_SPECS_VERIFY_KEY`) every object must carry a
signature by that key (see `signing.py`). A refused object is never parsed: the source
keeps the last verified version of it and lists the refusal in `refusals`, so the Lambda
goes on comparing against specs that were approved and reports the refusal once. With no
verified version to keep (a cold start, `setpoint check`) `load()` raises instead, so
nothing is ever called in sync against unapproved specs.

Objects over the size budgets (`budgets.py`) are refused by the size the listing gives,
never fetched, and reads are capped at the budget in case the object grew since: a
`.yaml` object over the per-file budget, a bundle over the per-bundle one. Without a
verifier that is a spec error naming the object; with one it is a refusal like a bad
signature (a signed push never exceeds the budget, as push validates the same budgets),
so an oversized upload cannot unseat the verified specs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ConfigError, SpecError
from chalicelib.noise.model import IgnoreRule
from chalicelib.noise.parse import IGNORE_FILE
from chalicelib.specs.budgets import (
    MAX_BUNDLE_OBJECT_BYTES,
    MAX_INDEXED_BUNDLE_BYTES,
    MAX_SPEC_FILE_BYTES,
    bundle_object_too_large,
    bundle_too_large,
    file_too_large,
    size_text,
    text_bytes,
)
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import (
    SPEC_SUFFIXES,
    build_catalog,
    is_ignore_file,
    parse_ignore_text,
)
from chalicelib.specs.parse import ParsedFile, parse_file
from chalicelib.specs.signing import KmsVerifier, SpecSignatureError
from chalicelib.specs.spec_index import IndexedSpecs, indexed_specs

logger = logging.getLogger("setpoint")

BUNDLE_FORMAT_VERSION = "1"
# the bundle's object name in a folder (`setpoint push --to s3://bucket/prefix`)
FOLDER_BUNDLE_NAME = "bundle.json"
_SINGLE_SUFFIXES = (*SPEC_SUFFIXES, ".json")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
HASH_PREFIX = "sha256:"


def content_hash(specs: Mapping[str, str]) -> str:
    """sha256 over the sorted (name, text) pairs, each length-prefixed so no two sets collide."""
    digest = hashlib.sha256()
    for name in sorted(specs):
        for part in (name, specs[name]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)
    return HASH_PREFIX + digest.hexdigest()


def listing_version(listed: Mapping[str, str], extra_rules: Sequence[IgnoreRule] = ()) -> str:
    """What identifies the specs one listing holds: sha256 over each object's key and
    ETag and the rules given beside the bucket. Any push, deletion or new object moves it
    (an identical re-push may too, as ETags of encrypted objects differ): a sweep then
    treats the specs as changed, which costs only a wider actor lookup."""
    listing = content_hash(listed)  # keys and ETags, hashed as a bundle's names and texts
    rules = repr(tuple(extra_rules))
    return HASH_PREFIX + hashlib.sha256(f"{listing}\n{rules}".encode()).hexdigest()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix); ConfigError when it is not one."""
    if not uri.startswith("s3://"):
        raise ConfigError(f"spec location {uri!r} is not an s3://bucket/prefix URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not _BUCKET_RE.match(bucket):
        raise ConfigError(f"spec location {uri!r}: {bucket!r} is not a valid bucket name")
    return bucket, key


def is_single_object(key: str) -> bool:
    return key.lower().endswith(_SINGLE_SUFFIXES)


@dataclass(frozen=True)
class LoadStats:
    """What the last `load()` cost, for logs and tests."""

    list_calls: int = 0
    get_calls: int = 0
    reused: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class _Cached:
    etag: str
    files: tuple[ParsedFile, ...]


def parse_bundle(name: str, body: bytes) -> list[ParsedFile]:
    """The files of a `setpoint push` bundle; a malformed bundle is one error on `name`."""
    too_large = bundle_object_too_large(name, len(body))
    if too_large is not None:
        return [ParsedFile(name, (), (too_large,))]
    bundle, error = decode_bundle(name, body)
    if error is not None:
        return [ParsedFile(name, (), (error,))]
    specs = bundle["specs"]
    # the specs' text is what parsing costs (an index beside them is not parsed)
    too_large = bundle_too_large(name, sum(text_bytes(text) for text in specs.values()))
    if too_large is not None:
        return [ParsedFile(name, (), (too_large,))]
    return [parse_member(file, specs[file]) for file in sorted(specs)]


def decode_bundle(name: str, body: bytes) -> tuple[dict[str, Any], SpecError | None]:
    """The bundle document, checked (format, specs, content hash), or the error saying why
    it is not one."""
    try:
        bundle = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, SpecError(f"not a JSON spec bundle: {exc}", name)
    if not isinstance(bundle, dict) or bundle.get("format_version") != BUNDLE_FORMAT_VERSION:
        version = bundle.get("format_version") if isinstance(bundle, dict) else None
        message = (
            f"unsupported bundle format_version {version!r} (this Setpoint reads "
            f"{BUNDLE_FORMAT_VERSION!r})"
        )
        return {}, SpecError(message, name, field="format_version")
    specs = bundle.get("specs")
    if not isinstance(specs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in specs.items()
    ):
        message = "bundle 'specs' must map file names to YAML text"
        return {}, SpecError(message, name, field="specs")
    claimed = bundle.get("content_hash")
    if claimed is not None and claimed != content_hash(specs):
        # a hand-made bundle (or a damaged one): what it says it holds is not what it holds
        message = f"content_hash {claimed!r} does not match the specs it holds"
        return {}, SpecError(message, name, field="content_hash")
    return bundle, None


def parse_member(name: str, text: str) -> ParsedFile:
    """One file of the specs: YAML, or the `.setpointignore` that travels with them."""
    return parse_ignore_text(name, text) if is_ignore_file(name) else parse_file(name, text)


def _is_bundle(key: str) -> bool:
    return key.lower().endswith(".json")


def _budget(key: str) -> int:
    return MAX_BUNDLE_OBJECT_BYTES if _is_bundle(key) else MAX_SPEC_FILE_BYTES


class S3SpecSource:
    """Loads a SpecCatalog from S3, caching parsed objects by ETag across calls."""

    def __init__(
        self,
        s3_client: Any,
        uri: str,
        verifier: KmsVerifier | None = None,
        extra_rules: Sequence[IgnoreRule] = (),
    ) -> None:
        self._s3 = s3_client
        self.verifier = verifier
        # SETPOINT_IGNORE: rules given beside the bucket, on top of a pushed .setpointignore
        self.extra_rules = tuple(extra_rules)
        # key -> (ETag, reason) of the object now there, refused: not fetched again
        self._refused: dict[str, tuple[str, str]] = {}
        self._sizes: dict[str, int] = {}  # key -> Size at the last listing
        self.uri = uri
        self.bucket, key = parse_s3_uri(uri)
        self.single = is_single_object(key)
        self.prefix = key if self.single or not key or key.endswith("/") else f"{key}/"
        self._cache: dict[str, _Cached] = {}
        self._catalog: SpecCatalog | None = None
        self._last_good: SpecCatalog | None = None
        # the event path's indexed bundle: (ETag, its specs, or None when it has no index)
        self._indexed: tuple[str, IndexedSpecs | None] | None = None
        self.last_stats = LoadStats()

    def _fail(self, exc: Exception, action: str, key: str | None = None) -> ConfigError:
        where = f"s3://{self.bucket}/{key if key is not None else self.prefix}"
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code == "NoSuchBucket":
                detail = f"bucket {self.bucket!r} does not exist (NoSuchBucket)"
            elif code in ("AccessDenied", "403"):
                detail = f"access to bucket {self.bucket!r} denied ({code})"
            else:
                detail = f"bucket {self.bucket!r}: {code}"
            return ConfigError(f"cannot {action} specs at {where}: {detail}")
        return ConfigError(f"cannot {action} specs at {where}: {exc}")

    def _list(self) -> tuple[dict[str, str], int]:
        """(key -> ETag of every spec object, pages read), in one listing."""
        found: dict[str, str] = {}
        sizes: dict[str, int] = {}
        pages = 0
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                pages += 1
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if self.owns(key):
                        found[key] = item.get("ETag", "")
                        sizes[key] = int(item.get("Size", 0))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "list") from exc
        self._sizes = sizes
        if self.single and not found:
            raise ConfigError(f"spec object s3://{self.bucket}/{self.prefix} does not exist")
        return found, pages

    def _get(self, key: str, budget: int | None = None) -> tuple[str, bytes, dict[str, str]] | None:
        """(ETag, body, user metadata) of one object; None when it vanished since the listing."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            # one byte past the budget is enough to tell it is over (the object may have
            # grown since the listing)
            body = response["Body"].read((budget or _budget(key)) + 1)
            return response.get("ETag", ""), body, response.get("Metadata", {})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._fail(exc, "read", key) from exc
        except BotoCoreError as exc:
            raise self._fail(exc, "read", key) from exc

    def _too_large(self, key: str, size: int) -> SpecError | None:
        """The error for object `key` of `size` bytes when that is over its budget."""
        name = f"s3://{self.bucket}/{key}"
        if _is_bundle(key):
            return bundle_object_too_large(name, size)
        return file_too_large(name, size)

    def _parse(self, key: str, body: bytes) -> tuple[ParsedFile, ...]:
        name = f"s3://{self.bucket}/{key}"
        too_large = self._too_large(key, len(body))
        if too_large is not None:
            return (ParsedFile(name, (), (too_large,)),)
        if _is_bundle(key):
            return tuple(parse_bundle(name, body))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return (ParsedFile(name, (), (SpecError(f"not UTF-8 text: {exc}", name),)),)
        return (parse_member(name, text),)

    def load(self) -> SpecCatalog:
        """The current catalog; raises SpecSetError (invalid specs) or ConfigError (S3)."""
        return self._load(*self._list())

    def load_for_event(self) -> SpecCatalog:
        """The catalog one event needs, at the same one listing per call as `load`.

        When the prefix holds a pushed bundle and nothing else, and the bundle carries its
        index, the catalog parses only the specs the event's kinds look up (`spec_index`),
        each once per bundle version. Anything else (spec objects one per file, loose
        objects beside a bundle, a bundle pushed by an older Setpoint, a refused or
        oversized one) is loaded whole by `load`, exactly as before. Raises as `load`.
        """
        listed, pages = self._list()
        key = self.prefix if self.single else self.prefix + FOLDER_BUNDLE_NAME
        if not _is_bundle(key) or set(listed) != {key}:
            self._indexed = None
            return self._load(listed, pages)
        etag = listed[key]
        gets = 0
        if self._indexed is None or self._indexed[0] != etag:
            gets = 1
            kept = self._indexed[1] if self._indexed is not None else None
            try:
                self._indexed = (etag, self._fetch_indexed(key))
            except SpecSignatureError as exc:
                if kept is None:  # nothing verified to keep: `load` refuses the set
                    self._indexed = None
                    return self._load(listed, pages)
                # the last verified version stays in force, as `load` keeps it
                logger.error("spec_refused", extra={"key": key, "reason": str(exc)})
                self._refused[key] = (etag, f"{exc}; refused")
                self._indexed = (etag, kept)
        indexed = self._indexed[1]
        if indexed is None:
            return self._load(listed, pages)
        self.last_stats = LoadStats(pages, gets, 1 - gets, 0)
        return indexed.catalog()

    def _fetch_indexed(self, key: str) -> IndexedSpecs | None:
        """The bundle at `key` behind its index; None when `load` must read it instead.
        With a verify key, a bundle too large to fetch cannot be verified: it is refused
        (SpecSignatureError), so the last verified version stays in force."""
        name = f"s3://{self.bucket}/{key}"
        size = self._sizes.get(key, 0)
        fetched = None
        if size <= MAX_INDEXED_BUNDLE_BYTES:
            fetched = self._get(key, MAX_INDEXED_BUNDLE_BYTES)
        if fetched is not None and len(fetched[1]) > MAX_INDEXED_BUNDLE_BYTES:
            size, fetched = len(fetched[1]), None
        if fetched is None:
            if self.verifier is not None and size > MAX_INDEXED_BUNDLE_BYTES:
                raise SpecSignatureError(
                    f"{name}: {size_text(size)}, over the budget of "
                    f"{size_text(MAX_INDEXED_BUNDLE_BYTES)}: it cannot be verified"
                )
            return None
        _, body, metadata = fetched
        if self.verifier is not None:
            self.verifier.verify(name, body, metadata)  # SpecSignatureError: refused
        bundle, error = decode_bundle(name, body)
        if error is not None:
            return None  # `load` reports it
        return indexed_specs(name, bundle, self.extra_rules)

    def _load(self, listed: dict[str, str], pages: int) -> SpecCatalog:
        cache: dict[str, _Cached] = {}
        gets = reused = oversized = 0
        refused: dict[str, tuple[str, str]] = {}
        for key in sorted(listed):
            cached = self._cache.get(key)
            was_refused = self._refused.get(key)
            if was_refused is not None and was_refused[0] == listed[key]:
                refused[key] = was_refused
                if cached is not None:
                    cache[key] = cached  # the last verified version stays in force
                reused += 1
                continue
            if cached is not None and cached.etag == listed[key]:
                cache[key] = cached
                reused += 1
                continue
            name = f"s3://{self.bucket}/{key}"
            too_large = self._too_large(key, self._sizes.get(key, 0))
            if too_large is None:
                gets += 1
                fetched = self._get(key)
                if fetched is None:
                    continue
                etag, body, metadata = fetched
                too_large = self._too_large(key, len(body))
            if too_large is not None:  # never parsed, and not fetched when listed so
                if self.verifier is None:
                    cache[key] = _Cached(listed[key], (ParsedFile(name, (), (too_large,)),))
                    oversized += 1  # a new entry with no GetObject: the catalog changes too
                    continue
                refused[key] = (listed[key], f"{too_large}; refused")
                if cached is not None:
                    cache[key] = cached
                continue
            if self.verifier is not None:
                try:
                    self.verifier.verify(name, body, metadata)
                except SpecSignatureError as exc:
                    refused[key] = (etag or listed[key], str(exc))
                    if cached is not None:
                        cache[key] = cached
                    continue
            cache[key] = _Cached(etag or listed[key], self._parse(key, body))
        dropped = len(set(self._cache) - set(cache))
        changed_refusals = refused != self._refused
        self._cache = cache
        self._refused = refused
        self.last_stats = LoadStats(pages, gets, reused, dropped)
        unbacked = [reason for key, (_, reason) in sorted(refused.items()) if key not in cache]
        if unbacked:
            # nothing verified to keep in its place: refuse the whole set, never half of it
            self._catalog = None
            raise SpecSignatureError(
                "; ".join(unbacked) + " (and no earlier verified version is loaded to keep)"
            )
        # with an object refused, what is in force is whichever verified version this
        # container kept: the listing cannot say which, so the specs have no version
        version = None if refused else listing_version(listed, self.extra_rules)
        unchanged = gets == 0 and oversized == 0 and dropped == 0 and not changed_refusals
        if unchanged and self._catalog is not None:
            # nothing changed: skip re-checking duplicates across specs
            if self._catalog.version != version:
                self._catalog = dataclasses.replace(self._catalog, version=version)
                self._last_good = self._catalog
            return self._catalog
        self._catalog = None
        built = build_catalog(
            (parsed for key in sorted(cache) for parsed in cache[key].files), self.extra_rules
        )
        self._catalog = dataclasses.replace(built, version=version)
        self._last_good = self._catalog
        return self._catalog

    # --- what a spec change needs: the catalog before it ----------------------------------

    @property
    def refusals(self) -> tuple[str, ...]:
        """Why objects now in the bucket were refused at the last `load()` (their last
        verified versions are in force instead); empty when all were accepted."""
        return tuple(reason for _, (_, reason) in sorted(self._refused.items()))

    @property
    def last_catalog(self) -> SpecCatalog | None:
        """The catalog the last successful `load()` returned; None before the first."""
        return self._last_good

    def owns(self, key: str) -> bool:
        """True when `key` in this bucket is (part of) the specs this source loads."""
        if self.single:
            return key == self.prefix
        if not key.startswith(self.prefix):
            return False
        return key.lower().endswith(SPEC_SUFFIXES) or key in (
            self.prefix + FOLDER_BUNDLE_NAME,
            self.prefix + IGNORE_FILE,
        )

    def forget(self, key: str) -> None:
        """Make the next `load()` fetch one object again (its parsed files stay, as the
        last verified version should the new one be refused)."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache[key] = _Cached("", cached.files)
        self._refused.pop(key, None)

    def previous_bodies(
        self, key: str, version_id: str | None, limit: int = 5
    ) -> Iterator[bytes | None]:
        """The object's contents before version `version_id` was written, newest first.

        Yields None (and stops) where the object did not exist: it is new, or was deleted
        before. A caller looking for the last version that loads walks back at most
        `limit` versions. Raises ConfigError when the history cannot be told: no version
        id (an unversioned bucket), a version the listing does not show (expired), or S3
        refused ListObjectVersions.
        """
        if not version_id or version_id == "null":
            raise ConfigError(f"s3://{self.bucket}/{key}: no version id (is the bucket versioned?)")
        history = self._versions(key)
        ids = [entry[2] for entry in history]
        if version_id not in ids:
            raise ConfigError(f"s3://{self.bucket}/{key}: version {version_id} is not listed")
        position = ids.index(version_id)
        older = history[position + 1 :][:limit]
        # listings give times to the second: a delete marker and a version written within
        # the same second cannot be put in order, so do not guess
        markers = {moment for moment, deleted, _ in history if deleted}
        tied = markers & {moment for moment, deleted, _ in history if not deleted}
        if not older:
            yield None
            return
        for moment, deleted, older_id in older:
            if moment in tied or history[position][0] in tied:
                raise ConfigError(
                    f"s3://{self.bucket}/{key}: versions and a deletion within one second "
                    "cannot be ordered"
                )
            if deleted:
                yield None
                return
            try:
                response = self._s3.get_object(Bucket=self.bucket, Key=key, VersionId=older_id)
                body: bytes = response["Body"].read(_budget(key) + 1)
            except (ClientError, BotoCoreError) as exc:
                raise self._fail(exc, "read an earlier version of", key) from exc
            if self.verifier is not None:
                try:
                    self.verifier.verify(key, body, response.get("Metadata", {}))
                except SpecSignatureError:
                    continue  # never in force: walk back past it
            yield body

    def _versions(self, key: str) -> list[tuple[datetime, bool, str]]:
        """(last modified, is a delete marker, version id) of `key`, newest first."""
        entries: list[tuple[datetime, bool, str]] = []
        paginator = self._s3.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for item in page.get("Versions", []):
                    if item["Key"] == key:
                        entries.append((item["LastModified"], False, item["VersionId"]))
                for item in page.get("DeleteMarkers", []):
                    if item["Key"] == key:
                        entries.append((item["LastModified"], True, item["VersionId"]))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, "list versions of", key) from exc
        # S3 lists each kind newest first; merging by time keeps that order within a second
        return sorted(entries, key=lambda entry: entry[0], reverse=True)

    def catalog_with(self, key: str, body: bytes | None) -> SpecCatalog:
        """The loaded specs with object `key` as `body` (None: without it).

        Raises SpecSetError when that set does not load (as `load` would have).
        """
        files: dict[str, tuple[ParsedFile, ...]] = {k: c.files for k, c in self._cache.items()}
        files.pop(key, None)
        if body is not None:
            files[key] = self._parse(key, body)
        return build_catalog(
            (parsed for k in sorted(files) for parsed in files[k]), self.extra_rules
        )


class S3SpecProvider:
    """The runtime's spec provider for `s3://` locations, exposing its source.

    Calling it loads the catalog (see `S3SpecSource.load`); the spec-change handler uses
    `source` to reach the cache and the object's earlier versions.
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        uri: str,
        make_verifier: Callable[[], KmsVerifier] | None = None,
        extra_rules: Sequence[IgnoreRule] = (),
    ) -> None:
        self.uri = uri
        self.extra_rules = tuple(extra_rules)
        self._make_client = make_client
        self._make_verifier = make_verifier
        self._source: S3SpecSource | None = None

    @property
    def source(self) -> S3SpecSource:
        if self._source is None:
            verifier = self._make_verifier() if self._make_verifier is not None else None
            self._source = S3SpecSource(self._make_client(), self.uri, verifier, self.extra_rules)
        return self._source

    def __call__(self) -> SpecCatalog:
        return self.source.load()

    def for_event(self) -> SpecCatalog:
        """What one event is evaluated against (`S3SpecSource.load_for_event`)."""
        return self.source.load_for_event()
