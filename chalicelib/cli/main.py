"""`setpoint`: the Lambda's code paths, run locally. The contract is in DESIGN.md.

Exit codes: 0 ok / in sync, 1 drift found, 2 error (bad input, bad spec, unreadable).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import textwrap
from collections.abc import Sequence

from chalicelib.cli.common import EXIT_ERROR, parse_fail_on
from chalicelib.cloud_text import visible_lines
from chalicelib.errors import SetpointError, SpecError, SpecSetError
from chalicelib.kinds.registry import ALL_KINDS, kind_named
from chalicelib.model import Kind

SPECS_HELP = (
    "desired state (repeatable): a spec directory, s3://BUCKET/PREFIX, terraform:PATH"
    " (a .tfstate, a directory of them, or s3://BUCKET/PREFIX) or ansible:PATH"
    " (default: policies)"
)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("setpoint")
    except PackageNotFoundError:
        return "unknown (not installed)"


EPILOG = f"""exit codes:
  0  in sync (check, explain), valid (validate), done (import, push, demo)
  1  drift found: drifted, missing or unmanaged resources
  2  error: bad input or spec, nothing compared, or a resource could not be read

kinds (--kinds, comma-separated; default all):
{textwrap.fill(", ".join(map(str, ALL_KINDS)), 92, initial_indent="  ", subsequent_indent="  ")}
sources (--specs, repeatable; default policies): DIR, s3://BUCKET/PREFIX, terraform:PATH,
  ansible:PATH
regions (check): --region as given; else SETPOINT_REGIONS (or the AWS default region) plus
  every region the specs name; --region enabled reads each account's enabled regions

"setpoint COMMAND --help" shows a command's flags."""


def parse_kinds(value: str | None) -> list[Kind] | None:
    if not value:
        return None
    kinds = []
    for name in value.split(","):
        name = name.strip()
        try:
            kinds.append(kind_named(name))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return kinds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="setpoint",
        description="Detect drift between AWS resources and their desired-state specs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"setpoint {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="schema-check every spec (errors name file, line, field)")
    p.add_argument("--specs", action="append", help=SPECS_HELP)

    p = sub.add_parser("import", help="write specs for the live resources")
    p.add_argument("--out", required=True, help="directory to write specs into")
    p.add_argument("--region", action="append", default=[], help="region (repeatable)")
    p.add_argument("--kinds", type=parse_kinds, default=None, help="comma-separated kinds")
    p.add_argument(
        "--dry-run", action="store_true", help="list the files it would write, write none"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="rewrite specs that already govern a resource (default: skip them, so import"
        " never turns drift into spec)",
    )
    p.add_argument("--only", metavar="ID", help="adopt one resource (its id, ARN or name)")

    p = sub.add_parser("check", help="compare every resource with its spec (a full sweep)")
    p.add_argument("--specs", action="append", help=SPECS_HELP)
    p.add_argument(
        "--verify-key", help="KMS key the s3:// specs must be signed with (refuse others)"
    )
    p.add_argument("--region", action="append", default=[], help="region (repeatable)")
    p.add_argument("--kinds", type=parse_kinds, default=None, help="comma-separated kinds")
    p.add_argument(
        "--format",
        choices=["text", "json", "junit", "sarif", "markdown", "html"],
        default="text",
        help="report format (default: text); sarif for GitHub code scanning, markdown for a "
        "pull-request comment, html for a self-contained page (with --output)",
    )
    p.add_argument(
        "--allow-no-specs",
        action="store_true",
        help="check even when no specs load (every resource is then unmanaged; default: exit 2)",
    )
    p.add_argument("--output", help="write the report to this file instead of stdout")
    p.add_argument(
        "--fail-on",
        type=parse_fail_on,
        default=None,
        metavar="RULES",
        help="what exits 1, comma-separated: drift (drifted or missing), unmanaged, world_open"
        " (opened to the internet), admin (admin access or an admin port open to the world);"
        " default: drift,unmanaged",
    )
    p.add_argument(
        "--accounts",
        help="comma-separated account ids, or 'organization' for every active account",
    )
    p.add_argument(
        "--role-name", help="read-only role assumed in each account (default: setpoint-readonly)"
    )
    p.add_argument("--external-id", help="external id for the assumed role")
    p.add_argument("--workers", type=int, default=None, help="shards read at once (default: 8)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: on a terminal only)",
    )

    p = sub.add_parser("explain", help="run the event path on one CloudTrail record")
    p.add_argument(
        "event", metavar="EVENT.json", help="a CloudTrail record or EventBridge envelope"
    )
    p.add_argument("--specs", action="append", help=SPECS_HELP)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--post", action="store_true", help="send the chat message it prints")
    p.add_argument("--chat-url", help="webhook URL (default: $SETPOINT_CHAT_URL)")
    p.add_argument("--chat-format", choices=["slack", "teams", "json"], default="slack")
    p.add_argument("--state", help="state table URI (dynamodb://TABLE)")
    p.add_argument(
        "--apply-reverts",
        action="store_true",
        help="do the reverts specs opt in to (on_drift: revert); without it they are printed",
    )

    p = sub.add_parser("push", help="validate, then upload the spec bundle to S3")
    p.add_argument("--specs", default="policies", help="spec directory (default: policies)")
    p.add_argument("--to", required=True, metavar="s3://BUCKET/PREFIX", help="where to upload")
    p.add_argument("--sign-key", help="asymmetric KMS key (id, ARN or alias) to sign the bundle")

    p = sub.add_parser("demo", help="the whole loop on an embedded moto server")
    p.add_argument("--keep", action="store_true", help="keep the demo's work directory")
    return parser


COMMANDS = ("validate", "import", "check", "explain", "push", "demo")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words and not words[0].startswith("-") and words[0] not in COMMANDS:
        close = difflib.get_close_matches(words[0], COMMANDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(COMMANDS)}"
        print(f"setpoint: error: unknown command {words[0]!r} ({hint})", file=sys.stderr)
        return EXIT_ERROR
    args = build_parser().parse_args(words)
    if args.command in ("validate", "check", "explain") and not args.specs:
        args.specs = ["policies"]
    try:
        if args.command == "validate":
            from chalicelib.cli.validate import run_validate

            return run_validate(args)
        if args.command == "import":
            from chalicelib.cli.importer import run_import

            return run_import(args)
        if args.command == "check":
            from chalicelib.cli.check import run_check

            return run_check(args)
        if args.command == "explain":
            from chalicelib.cli.explain import run_explain

            return run_explain(args)
        if args.command == "push":
            from chalicelib.cli.push import run_push

            return run_push(args)
        if args.command == "demo":
            from chalicelib.cli.demo import run_demo

            return run_demo(args)
    except SpecSetError as exc:
        for error in exc.errors:
            print(f"error: {visible_lines(error)}", file=sys.stderr)
        print(f"{len(exc.errors)} spec error(s)", file=sys.stderr)
        return EXIT_ERROR
    except (SpecError, SetpointError) as exc:
        print(f"error: {visible_lines(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `setpoint check | head`: the reader left; say so once, and keep Python from
        # failing again while flushing stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        print("error: output closed before the report was written (closed pipe)", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if type(exc).__module__.startswith("botocore"):
            # No credentials, endpoint unreachable, AccessDenied on STS: say so, exit 2.
            print(f"error: AWS: {visible_lines(exc)}", file=sys.stderr)
            return EXIT_ERROR
        raise
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
