"""`setpoint check`: the scheduled sweep, in process.

The same shards the Lambda fans out over SQS run here in a thread pool (`--workers`):
security groups per account and region, S3 and IAM once per account. `--accounts` reads
other accounts through `--role-name` (assumed as "setpoint-sweep"); an account or region
that cannot be read is reported `unknown` with the reason and the rest goes on. A progress
bar goes to stderr on a terminal only (never when piped, never with CI=true).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime

from chalicelib.aws import DEFAULT_ROLE_NAME, RoleSessions, partition_of_arn
from chalicelib.cli.common import (
    DEFAULT_FAIL_ON,
    check_output_path,
    exit_code,
    new_clients,
    regions_for,
    write_output,
)
from chalicelib.cli.regions import check_regions, regions_of_specs
from chalicelib.errors import ConfigError, SetpointError, SpecSetError
from chalicelib.kinds.registry import ALL_KINDS
from chalicelib.model import Status
from chalicelib.noise.apply import quiet
from chalicelib.pipeline import Pipeline
from chalicelib.report.html_report import render_html
from chalicelib.report.json_report import render_json_error, render_json_report
from chalicelib.report.junit_report import render_junit, render_junit_error
from chalicelib.report.markdown_report import render_markdown
from chalicelib.report.sarif_report import render_sarif
from chalicelib.report.scope import Scope
from chalicelib.report.text_report import render_text_report
from chalicelib.runtime import ENV_IGNORE, ENV_REGIONS, build_pipeline, spec_provider
from chalicelib.sources.undeclared import settle_undeclared
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.sweep.accounts import ENABLED, parse_accounts, partition_regions, resolve_accounts
from chalicelib.sweep.run import DEFAULT_WORKERS, ShardResult, ShardRunner, run_in_process
from chalicelib.sweep.shards import plan_shards

Progress = Callable[[ShardResult], None]


def run_check(args: argparse.Namespace) -> int:
    """The check; when it cannot run, `--format json|junit` still write a report (the
    error), so a CI job that reads the file shows why instead of "no report found"."""
    try:
        return _check(args)
    except Exception as exc:
        if isinstance(exc, SetpointError) or type(exc).__module__.startswith("botocore"):
            _error_report(args, exc)
        raise


def _error_report(args: argparse.Namespace, exc: Exception) -> None:
    message = str(exc)
    if isinstance(exc, SpecSetError):
        message = "\n".join(str(e) for e in exc.errors)
    kind = type(exc).__name__
    if args.format == "json":
        text = render_json_error(message, kind)
    elif args.format == "junit":
        text = render_junit_error(message, kind)
    else:
        return
    # the error itself is printed by main; an unwritable --output is named there
    with suppress(ConfigError, OSError):
        write_output(text, args.output)


def _check(args: argparse.Namespace) -> int:
    check_output_path(args.output)
    clients = new_clients()
    catalog = spec_provider(
        args.specs, clients, getattr(args, "verify_key", None), os.environ.get(ENV_IGNORE)
    )()
    identity = clients.client("sts").get_caller_identity()
    own = str(identity["Account"])
    spec_count = sum(len(specs) for specs in catalog.by_kind.values())
    if not spec_count and not args.allow_no_specs:
        # a mistyped prefix or an empty folder would call every resource unmanaged
        raise ConfigError(
            f"no specs loaded from {', '.join(args.specs)}: nothing to compare with"
            " (--allow-no-specs lists every resource as unmanaged)"
        )
    regions, regions_source = _regions(args.region, catalog)
    sessions = RoleSessions(
        clients,
        own_account=own,
        role_name=getattr(args, "role_name", None) or DEFAULT_ROLE_NAME,
        external_id=getattr(args, "external_id", None),
        partition=partition_of_arn(str(identity.get("Arn", ""))),
    )
    accounts = resolve_accounts(
        parse_accounts(getattr(args, "accounts", None)),
        lambda: own,
        lambda: clients.client("organizations"),
    )
    if not accounts:
        raise ConfigError(f"--accounts {args.accounts}: no accounts to check")
    enabled_only = [r.lower() for r in regions] == [ENABLED]
    planned = partition_regions(clients.client("ec2")) if enabled_only else regions
    shards = plan_shards(accounts, planned, args.kinds)
    runner = ShardRunner(sessions, enabled_only=enabled_only, build=_pipeline_for)
    workers = getattr(args, "workers", None) or DEFAULT_WORKERS
    with progress_bar(len(shards), getattr(args, "progress", None)) as advance:
        swept = run_in_process(shards, catalog, runner, workers=workers, on_result=advance)
    # what a source names without a spec (unresolved: unknown; state absent: must not exist)
    swept_findings = settle_undeclared(
        swept.findings,
        catalog.undeclared,
        kinds=[str(k) for k in args.kinds] if args.kinds else None,
        regions=None if enabled_only else regions,
    )
    today = datetime.now(UTC).date()  # an exception's `until` is a UTC day
    quieted = quiet(
        swept_findings, catalog.ignore_rules, catalog.noise, today, skipped=swept.ignored
    )
    findings = quieted.findings
    statuses = [f.status for f in findings]
    read = sum(s not in (Status.MISSING, Status.UNKNOWN) for s in statuses)
    if not read and Status.UNKNOWN not in statuses and not quieted.ignored:
        kinds = ",".join(args.kinds) if args.kinds else "all kinds"
        raise ConfigError(
            f"read 0 resources ({kinds}; regions {','.join(planned)};"
            f" {len(accounts)} account(s)): nothing was compared"
        )
    skipped = [
        f"{r.shard.account}/{r.shard.region}: {r.skipped}" for r in swept.results if r.skipped
    ]
    skipped += [
        f"{r.shard.account}/{r.shard.region}: not read ({r.unread})"
        for r in swept.results
        if r.unread
    ]
    scope = Scope(
        accounts=tuple(accounts),
        regions=tuple(planned),
        kinds=tuple(str(k) for k in (args.kinds or ALL_KINDS)),
        sources=tuple(args.specs),
        specs=spec_count,
        resources_read=read,
        regions_from=regions_source,
        skipped=tuple(dict.fromkeys([*skipped, *quieted.stale])),
        ignored=quieted.ignored,
        ignored_changes=quieted.ignored_changes,
        excepted=quieted.excepted,
    )
    if args.format == "json":
        text = render_json_report(findings, checked=len(findings), scope=scope)
    elif args.format == "junit":
        text = render_junit(findings, scope=scope)
    elif args.format == "sarif":
        text = render_sarif(findings, scope=scope)
    elif args.format == "markdown":
        text = render_markdown(findings, checked=len(findings), scope=scope)
    elif args.format == "html":
        generated = datetime.now(UTC).isoformat(timespec="seconds")
        text = render_html(findings, len(findings), scope, generated_at=generated)
    else:
        text = render_text_report(findings, checked=len(findings), scope=scope)
    write_output(text, args.output)
    return exit_code(findings, getattr(args, "fail_on", None) or DEFAULT_FAIL_ON)


def _regions(flags: Sequence[str], catalog: SpecCatalog) -> tuple[list[str], str]:
    """The regions to read and why: --region as given; otherwise the configured ones
    (SETPOINT_REGIONS, else the AWS default region) plus every region a spec names."""
    if flags:
        regions = list(dict.fromkeys(flags))
        if [r.lower() for r in regions] != [ENABLED]:
            check_regions(regions)
        return regions, "--region"
    configured = os.environ.get(ENV_REGIONS, "").strip()
    regions = regions_for([])
    source = ENV_REGIONS if configured else "the AWS default region"
    if [r.lower() for r in regions] == [ENABLED]:
        return [ENABLED], source
    check_regions(regions, flag=ENV_REGIONS if configured else "region")
    named = regions_of_specs(s for specs in catalog.by_kind.values() for s in specs)
    extra = [r for r in check_regions(named, flag="a spec's region") if r not in regions]
    if extra:
        source += " + the regions the specs name"
    return regions + extra, source


def _pipeline_for(sessions: RoleSessions, account: str) -> Pipeline:
    """One pipeline per account, on that account's clients (looked up here, so tests can
    swap `build_pipeline`)."""
    return build_pipeline(sessions.clients_for(account))


def show_progress(flag: bool | None, stream: object = None) -> bool:
    """--progress / --no-progress win; otherwise only on a terminal and never in CI."""
    if flag is not None:
        return flag
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    target = stream if stream is not None else sys.stderr
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress_bar(total: int, flag: bool | None) -> Iterator[Progress]:
    """A rich bar on stderr counting shards, or a no-op."""
    if not show_progress(flag) or total == 0:
        yield lambda _: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns: Sequence[object] = (
        TextColumn("sweeping"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:  # type: ignore[arg-type]
        task = bar.add_task("", total=total)

        def advance(result: ShardResult) -> None:
            bar.update(task, advance=1, description=result.shard.id)

        yield advance
