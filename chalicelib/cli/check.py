"""`setpoint check`: the scheduled sweep, in process."""

from __future__ import annotations

import argparse

from chalicelib.cli.common import exit_code, new_clients, regions_for, write_output
from chalicelib.report.json_report import render_json_report
from chalicelib.report.junit_report import render_junit
from chalicelib.report.text_report import render_text_report
from chalicelib.runtime import build_pipeline, spec_provider


def run_check(args: argparse.Namespace) -> int:
    clients = new_clients()
    catalog = spec_provider(args.specs, clients)()
    regions = regions_for(args.region)
    result = build_pipeline(clients).sweep(catalog, clients.account_id(), regions, args.kinds)
    if args.format == "json":
        text = render_json_report(result.findings, checked=result.checked)
    elif args.format == "junit":
        text = render_junit(result.findings)
    else:
        text = render_text_report(result.findings, checked=result.checked)
    write_output(text, args.output)
    return exit_code(result.findings)
