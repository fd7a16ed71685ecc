"""`setpoint explain EVENT.json`: the Lambda's event path on one record, printed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib.cli.common import EXIT_ERROR, exit_code, new_clients
from chalicelib.errors import ConfigError
from chalicelib.handlers import EventOutcome, deliver, handle_cloudtrail_event
from chalicelib.model import Finding
from chalicelib.notify.message import render_json, render_slack, render_text
from chalicelib.report.json_report import report_to_dict
from chalicelib.runtime import ENV_CHAT_URL, Runtime, build_pipeline, spec_provider


def _load_event(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def _message(finding: Finding, chat_format: str) -> Any:
    return render_slack(finding) if chat_format == "slack" else render_json(finding)


def _print_text(outcome: EventOutcome) -> None:
    for skip in outcome.skipped:
        print(f"skipped ({skip.reason.value}): {skip.detail}")
    for finding in outcome.findings:
        print(render_text(finding))
        print()


def _print_json(outcome: EventOutcome, chat_format: str) -> None:
    report = report_to_dict(outcome.findings, checked=len(outcome.findings))
    report["skipped"] = [{"reason": s.reason.value, "detail": s.detail} for s in outcome.skipped]
    report["errors"] = outcome.errors
    report["messages"] = [_message(f, chat_format) for f in outcome.findings if f.is_problem]
    print(json.dumps(report, indent=2, ensure_ascii=False))


def run_explain(args: argparse.Namespace) -> int:
    if args.chat_format == "teams":
        raise ConfigError("--chat-format teams is not supported by this version (slack or json)")
    if args.state:
        raise ConfigError("--state is not supported by this version: findings are not deduplicated")
    payload = _load_event(args.event)
    clients = new_clients()
    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(args.specs, clients),
    )
    outcome = handle_cloudtrail_event(payload, runtime)
    if args.format == "json":
        _print_json(outcome, args.chat_format)
    else:
        _print_text(outcome)
    for error in outcome.errors:
        print(f"error: {error}", file=sys.stderr)
    if outcome.errors:
        return EXIT_ERROR
    if args.post:
        url = args.chat_url or os.environ.get(ENV_CHAT_URL)
        if not url:
            raise ConfigError("--post needs --chat-url URL or $SETPOINT_CHAT_URL")
        from chalicelib.notify.delivery import notifier_for

        runtime.notifiers = [notifier_for(url, args.chat_format)]
        deliver(runtime, outcome.findings, outcome)
        print(f"posted {outcome.delivered} message(s)")
    return exit_code(outcome.findings)
