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
from contextlib import contextmanager

from chalicelib.aws import DEFAULT_ROLE_NAME, RoleSessions, partition_of_arn
from chalicelib.cli.common import exit_code, new_clients, regions_for, write_output
from chalicelib.errors import ConfigError
from chalicelib.model import Status
from chalicelib.pipeline import Pipeline
from chalicelib.report.json_report import render_json_report
from chalicelib.report.junit_report import render_junit
from chalicelib.report.markdown_report import render_markdown
from chalicelib.report.sarif_report import render_sarif
from chalicelib.report.text_report import render_text_report
from chalicelib.runtime import build_pipeline, spec_provider
from chalicelib.sweep.accounts import ENABLED, parse_accounts, partition_regions, resolve_accounts
from chalicelib.sweep.run import DEFAULT_WORKERS, ShardResult, ShardRunner, run_in_process
from chalicelib.sweep.shards import plan_shards

Progress = Callable[[ShardResult], None]


def run_check(args: argparse.Namespace) -> int:
    clients = new_clients()
    catalog = spec_provider(args.specs, clients, getattr(args, "verify_key", None))()
    identity = clients.client("sts").get_caller_identity()
    own = str(identity["Account"])
    if not sum(len(specs) for specs in catalog.by_kind.values()) and not args.allow_no_specs:
        # a mistyped prefix or an empty folder would call every resource unmanaged
        raise ConfigError(
            f"no specs loaded from {', '.join(args.specs)}: nothing to compare with"
            " (--allow-no-specs lists every resource as unmanaged)"
        )
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
    regions: list[str] | None = regions_for(args.region)
    if regions is not None and [r.lower() for r in regions] == [ENABLED]:
        regions = None  # each account's enabled regions
    planned = regions if regions is not None else partition_regions(clients.client("ec2"))
    shards = plan_shards(accounts, planned, args.kinds)
    runner = ShardRunner(sessions, enabled_only=regions is None, build=_pipeline_for)
    workers = getattr(args, "workers", None) or DEFAULT_WORKERS
    with progress_bar(len(shards), getattr(args, "progress", None)) as advance:
        swept = run_in_process(shards, catalog, runner, workers=workers, on_result=advance)
    findings = swept.findings
    statuses = [f.status for f in findings]
    read = sum(s not in (Status.MISSING, Status.UNKNOWN) for s in statuses)
    if not read and Status.UNKNOWN not in statuses:
        kinds = ",".join(args.kinds) if args.kinds else "all kinds"
        raise ConfigError(
            f"read 0 resources ({kinds}; regions {','.join(planned)};"
            f" {len(accounts)} account(s)): nothing was compared"
        )
    if args.format == "json":
        text = render_json_report(findings, checked=len(findings))
    elif args.format == "junit":
        text = render_junit(findings)
    elif args.format == "sarif":
        text = render_sarif(findings)
    elif args.format == "markdown":
        text = render_markdown(findings, checked=len(findings))
    else:
        text = render_text_report(findings, checked=len(findings))
    write_output(text, args.output)
    return exit_code(findings)


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
