"""The scheduled sweep's report, kept in S3 for people to open from the digest.

Each run writes the JSON report (`--format json`) and the HTML page (`--format html`)
twice: under `history/<time>-<run>` (kept: the history) and as `latest.*` (overwritten).
The digest links to `latest.html` with a presigned GET URL that lasts
`SETPOINT_REPORT_URL_SECONDS` (a URL signed by the Lambda's role can end sooner, when the
role session that signed it does). In the SQS fan-out no process sees every finding, so
each shard leaves its findings under `runs/<run>/<index>.json` and the shard that posts
the digest reads them back into one report.

Keys (below the prefix, `reports/` by default, in the spec bucket unless
`SETPOINT_REPORT_BUCKET` names another):

    latest.json, latest.html
    history/20261201T090000Z-<run>.json, .html
    runs/<run>/<index>.json          (a shard's findings, codec JSON)

boto3 stays here: the store takes its S3 client in the constructor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.aws import ClientCache, client_config, default_region
from chalicelib.errors import ConfigError, SetpointError
from chalicelib.model import Finding
from chalicelib.notify.codec import MalformedAlertError, from_data, to_data
from chalicelib.report.html_report import render_html
from chalicelib.report.json_report import render_json_report
from chalicelib.report.scope import Silenced

logger = logging.getLogger("setpoint")

DEFAULT_PREFIX = "reports/"
DEFAULT_URL_SECONDS = 24 * 3600
MAX_URL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may last


class ReportStoreError(SetpointError):
    """The report could not be written or read back; the digest says so."""


@dataclass(frozen=True)
class PublishedReport:
    latest_key: str
    history_keys: tuple[str, ...]
    url: str


def _stamp(generated_at: str) -> str:
    """`2026-12-01T09:00:00+00:00` -> `20261201T090000Z` (sorts by time, safe in a key)."""
    digits = "".join(ch for ch in generated_at[:19] if ch.isdigit())
    return f"{digits[:8]}T{digits[8:14]}Z"


class ReportStore:
    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        prefix: str = DEFAULT_PREFIX,
        url_seconds: int = DEFAULT_URL_SECONDS,
    ) -> None:
        if not bucket:
            raise ConfigError("the sweep report needs a bucket (SETPOINT_REPORT_BUCKET)")
        if not 1 <= url_seconds <= MAX_URL_SECONDS:
            raise ConfigError(
                f"SETPOINT_REPORT_URL_SECONDS={url_seconds} is outside 1..{MAX_URL_SECONDS}"
            )
        self._s3 = s3_client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.url_seconds = url_seconds

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _put(self, key: str, body: str, content_type: str) -> None:
        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body.encode("utf-8"),
                ContentType=content_type,
                CacheControl="no-store",
            )
        except (ClientError, BotoCoreError) as exc:
            raise ReportStoreError(f"s3://{self.bucket}/{key}: {_reason(exc)}") from exc

    def publish(
        self,
        findings: Sequence[Finding],
        checked: int,
        run_id: str,
        generated_at: str,
        silenced: Silenced | None = None,
    ) -> PublishedReport:
        """Write this run's report to its history and as the latest; a URL to the latest.
        `silenced`: the shards' counts of what the specs silenced (`summary.ignored`, ...)."""
        bodies = {
            "json": (
                render_json_report(findings, checked, silenced=silenced),
                "application/json",
            ),
            "html": (
                render_html(findings, checked, generated_at=generated_at, silenced=silenced),
                "text/html; charset=utf-8",
            ),
        }
        history = f"history/{_stamp(generated_at)}-{run_id}"
        for ext, (body, content_type) in bodies.items():
            for name in (f"{history}.{ext}", f"latest.{ext}"):
                self._put(self.key(name), body, content_type)
        latest = self.key("latest.html")
        url = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": latest},
            ExpiresIn=self.url_seconds,
        )
        kept = tuple(self.key(f"{history}.{ext}") for ext in bodies)
        return PublishedReport(latest, kept, url)

    # -- the fan-out's parts ----------------------------------------------------------

    def part_key(self, run_id: str, index: int) -> str:
        return self.key(f"runs/{run_id}/{index}.json")

    def put_part(self, run_id: str, index: int, findings: Sequence[Finding]) -> None:
        body = json.dumps([to_data(f) for f in findings], ensure_ascii=False, sort_keys=True)
        self._put(self.part_key(run_id, index), body, "application/json")

    def parts(self, run_id: str, total: int) -> tuple[list[Finding], list[str]]:
        """Every shard's findings, and one line per part that could not be read."""
        findings: list[Finding] = []
        missing: list[str] = []
        for index in range(total):
            key = self.part_key(run_id, index)
            try:
                body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                items = json.loads(body)
                findings += [
                    from_data(Finding, item, f"{key}[{i}]") for i, item in enumerate(items)
                ]
            except (ClientError, BotoCoreError) as exc:
                missing.append(f"s3://{self.bucket}/{key}: {_reason(exc)}")
            except (ValueError, TypeError, MalformedAlertError) as exc:
                missing.append(f"s3://{self.bucket}/{key}: unreadable ({exc})")
        return findings, missing


def report_store_for(
    clients: ClientCache, bucket: str, prefix: str, url_seconds: int
) -> ReportStore:
    """A store on its own S3 client that signs links with SigV4 (the only signature that
    allows lifetimes up to seven days; older clients default to SigV2 in us-east-1)."""
    from botocore.config import Config

    config = client_config().merge(Config(signature_version="s3v4"))
    client = clients.session.client("s3", region_name=default_region(), config=config)
    return ReportStore(client, bucket, prefix, url_seconds)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"S3 refused ({error.get('Code', '?')})"
    return f"S3 unreachable ({exc})"
