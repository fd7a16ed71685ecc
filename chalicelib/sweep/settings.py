"""Sweep settings, from the Lambda's environment (the CLI builds them from its flags)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chalicelib.aws import DEFAULT_ROLE_NAME
from chalicelib.env_numbers import whole_number
from chalicelib.sweep.accounts import parse_accounts, parse_regions
from chalicelib.sweep.dead_letters import queue_urls
from chalicelib.sweep.lake import (
    DEFAULT_LAKE_DAYS,
    MAX_LAKE_DAYS,
    EventDataStore,
    parse_event_data_store,
)

ENV_QUEUE_URL = "SETPOINT_SWEEP_QUEUE_URL"
ENV_ACCOUNTS = "SETPOINT_ACCOUNTS"
ENV_ROLE_NAME = "SETPOINT_ROLE_NAME"
ENV_EXTERNAL_ID = "SETPOINT_EXTERNAL_ID"
ENV_WINDOW = "SETPOINT_SWEEP_WINDOW_SECONDS"
ENV_CONCURRENCY = "SETPOINT_SWEEP_CONCURRENCY"
ENV_REGIONS = "SETPOINT_REGIONS"
ENV_STATE = "SETPOINT_STATE"
ENV_OUTBOX_DLQ_URL = "SETPOINT_OUTBOX_DLQ_URL"
# the dead-letter queues whose contents the digest lists (comma-separated URLs)
ENV_DEAD_LETTER_QUEUE_URLS = "SETPOINT_DEAD_LETTER_QUEUE_URLS"
# hours of CloudTrail event history searched for who made drift only the sweep saw
# (0: never look up); LookupEvents keeps 90 days
ENV_LOOKUP_HOURS = "SETPOINT_ACTOR_LOOKUP_HOURS"
DEFAULT_LOOKUP_HOURS = 90 * 24
# a CloudTrail Lake event data store (ARN or id) searched first, for older history, and
# how many days back (sweep/lake.py)
ENV_LAKE_EVENT_DATA_STORE = "SETPOINT_ACTOR_LAKE_EVENT_DATA_STORE"
ENV_LAKE_DAYS = "SETPOINT_ACTOR_LAKE_DAYS"
# where the sweep keeps its report (default: the spec bucket of SETPOINT_SPECS, reports/)
ENV_REPORT_BUCKET = "SETPOINT_REPORT_BUCKET"
ENV_REPORT_PREFIX = "SETPOINT_REPORT_PREFIX"
ENV_REPORT_URL_SECONDS = "SETPOINT_REPORT_URL_SECONDS"
ENV_SPECS = "SETPOINT_SPECS"
DEFAULT_REPORT_PREFIX = "reports/"
DEFAULT_REPORT_URL_SECONDS = 24 * 3600
DEFAULT_WINDOW_SECONDS = 600
DEFAULT_CONCURRENCY = 10


@dataclass(frozen=True)
class SweepSettings:
    """`accounts`: ids, "organization", or None (own account). `regions`: a list, or None
    for each account's enabled regions (SETPOINT_REGIONS=enabled)."""

    accounts: list[str] | str | None = None
    regions: tuple[str, ...] | None = None
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    queue_url: str | None = None
    state_uri: str = "memory://"
    outbox_dlq_url: str | None = None
    dead_letter_queue_urls: tuple[str, ...] = ()
    # the Lambda looks up by default (settings_from_env); settings built by hand (the CLI,
    # tests on moto, which lacks LookupEvents) leave it off unless they ask
    lookup_hours: int = 0
    # CloudTrail Lake, asked before LookupEvents when set (None: LookupEvents only)
    lake_store: EventDataStore | None = None
    lake_days: int = DEFAULT_LAKE_DAYS
    # None: no report is written (settings built by hand); the Lambda defaults to the
    # spec bucket
    report_bucket: str | None = None
    report_prefix: str = DEFAULT_REPORT_PREFIX
    report_url_seconds: int = DEFAULT_REPORT_URL_SECONDS


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    return whole_number(name, env.get(name), default, low, high)


def settings_from_env(
    env: Mapping[str, str] | None = None, default_regions: Sequence[str] = ()
) -> SweepSettings:
    env = os.environ if env is None else env
    regions = parse_regions(env.get(ENV_REGIONS), default_regions)
    return SweepSettings(
        accounts=parse_accounts(env.get(ENV_ACCOUNTS)),
        regions=tuple(regions) if regions is not None else None,
        role_name=env.get(ENV_ROLE_NAME, "").strip() or DEFAULT_ROLE_NAME,
        external_id=env.get(ENV_EXTERNAL_ID, "").strip() or None,
        window_seconds=_int(env, ENV_WINDOW, DEFAULT_WINDOW_SECONDS, 0, 12 * 3600),
        concurrency=_int(env, ENV_CONCURRENCY, DEFAULT_CONCURRENCY, 1, 1000),
        queue_url=env.get(ENV_QUEUE_URL, "").strip() or None,
        state_uri=env.get(ENV_STATE, "").strip() or "memory://",
        outbox_dlq_url=env.get(ENV_OUTBOX_DLQ_URL, "").strip() or None,
        dead_letter_queue_urls=queue_urls(env.get(ENV_DEAD_LETTER_QUEUE_URLS)),
        lookup_hours=_int(env, ENV_LOOKUP_HOURS, DEFAULT_LOOKUP_HOURS, 0, DEFAULT_LOOKUP_HOURS),
        lake_store=parse_event_data_store(
            ENV_LAKE_EVENT_DATA_STORE, env.get(ENV_LAKE_EVENT_DATA_STORE)
        ),
        lake_days=_int(env, ENV_LAKE_DAYS, DEFAULT_LAKE_DAYS, 1, MAX_LAKE_DAYS),
        report_bucket=env.get(ENV_REPORT_BUCKET, "").strip()
        or report_bucket_from(env.get(ENV_SPECS)),
        report_prefix=env.get(ENV_REPORT_PREFIX, "").strip() or DEFAULT_REPORT_PREFIX,
        report_url_seconds=_int(
            env, ENV_REPORT_URL_SECONDS, DEFAULT_REPORT_URL_SECONDS, 60, 7 * 24 * 3600
        ),
    )


def report_bucket_from(specs: str | None) -> str | None:
    """The spec bucket: the first `s3://` source of SETPOINT_SPECS, if any."""
    for source in (specs or "").split(","):
        source = source.strip()
        if source.startswith("s3://"):
            return source[len("s3://") :].split("/", 1)[0] or None
    return None
