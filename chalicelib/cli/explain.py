"""`setpoint explain EVENT.json`: the Lambda's event path on one record, printed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from chalicelib.cli.common import EXIT_ERROR, exit_code, new_clients
from chalicelib.cloud_text import json_shown, one_line, visible_lines
from chalicelib.errors import ConfigError
from chalicelib.events.event_file import read_event_file
from chalicelib.handlers import EventOutcome, handle_cloudtrail_event
from chalicelib.iac_principals import iac_from_env
from chalicelib.notify.alert import Alert
from chalicelib.notify.alert_message import render_alert_json, render_alert_slack, render_alert_text
from chalicelib.notify.delivery import notifier_for
from chalicelib.notify.message import render_text
from chalicelib.notify.teams import render_alert_teams
from chalicelib.report.json_report import report_to_dict
from chalicelib.revert.settings import revert_settings_from_env
from chalicelib.runtime import (
    ENV_CHAT_URL,
    ENV_IGNORE,
    PostsAlerts,
    Runtime,
    build_pipeline,
    build_reverter,
    spec_provider,
    state_store,
)
from chalicelib.state import is_gone


def _message(alert: Alert, chat_format: str) -> Any:
    if chat_format == "slack":
        return render_alert_slack(alert)
    if chat_format == "teams":
        return render_alert_teams(alert)
    return render_alert_json(alert)


def _alerts_by_finding(outcome: EventOutcome) -> dict[int, Alert]:
    return {id(alert.finding): alert for alert in outcome.alerts}


def _print_text(outcome: EventOutcome) -> None:
    for skip in outcome.skipped:
        # the detail quotes the record (event names, ids): shown, never obeyed
        print(f"skipped ({skip.reason.value}): {one_line(skip.detail)}")
    alerts = _alerts_by_finding(outcome)
    for finding in outcome.findings:
        alert = alerts.get(id(finding))
        if alert is not None:
            print(render_alert_text(alert))
        elif finding.is_problem and not is_gone(finding):
            print(render_text(finding))
            print("(already alerted: this drift is known to the state store, nothing to post)")
        else:
            print(render_text(finding))
        print()


def _print_json(outcome: EventOutcome, chat_format: str) -> None:
    report = report_to_dict(outcome.findings, checked=len(outcome.findings))
    report["skipped"] = [{"reason": s.reason.value, "detail": s.detail} for s in outcome.skipped]
    report["errors"] = outcome.errors
    report["messages"] = [_message(alert, chat_format) for alert in outcome.alerts]
    print(json_shown(json.dumps(report, indent=2, ensure_ascii=False)))


def run_explain(args: argparse.Namespace) -> int:
    payload = read_event_file(args.event)
    clients = new_clients()
    notifiers: list[PostsAlerts] = []
    if args.post:
        url = args.chat_url or os.environ.get(ENV_CHAT_URL)
        if not url:
            raise ConfigError("--post needs --chat-url URL or $SETPOINT_CHAT_URL")
        notifiers.append(notifier_for(url, args.chat_format))
    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(args.specs, clients, ignore=os.environ.get(ENV_IGNORE)),
        notifiers=notifiers,
        state=state_store(args.state or "memory://", clients),
    )
    runtime.iac = iac_from_env(os.environ)
    runtime.reverter = build_reverter(
        runtime,
        revert_settings_from_env(os.environ),
        apply=bool(getattr(args, "apply_reverts", False)),
    )
    outcome = handle_cloudtrail_event(payload, runtime)
    if args.format == "json":
        _print_json(outcome, args.chat_format)
    else:
        _print_text(outcome)
    for error in outcome.errors:
        print(f"error: {visible_lines(error)}", file=sys.stderr)
    if outcome.errors:
        return EXIT_ERROR
    if args.post:
        print(f"posted {outcome.delivered} message(s)")
    return exit_code(outcome.findings)
