"""The last touch on the packaged template: what Chalice 1.34 cannot say about SQS triggers.

`on_sweep_shard`, `on_recheck` and `on_outbox` answer with a partial batch response
(`batchItemFailures`), so only the failed records come back. Lambda honours it only
when the event source mapping has `FunctionResponseTypes: [ReportBatchItemFailures]`;
without it a batch with one failure would be retried whole (duplicate chat messages)
or deleted whole (lost alerts). Chalice has no option for it, and the merge template
cannot add it safely: a deep merge into a function the app does not define creates a
resource without a type. So `make package` runs this after `chalice package`, on the
functions that exist.

It also lets the stack's resource names win: a variable the merge template sets for
every function (Globals) is dropped from a function's own variables, where SAM would
otherwise prefer it. `.chalice/config.json` may then name local resources for
`chalice.test` and the dev stage without ever pointing a deployed function at them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

# Handlers that return a partial batch response (see chalicelib/recheck.py, notify/outbox.py).
PARTIAL_BATCH_FUNCTIONS = frozenset({"on_sweep_shard", "on_recheck", "on_outbox"})
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def report_batch_item_failures(template: dict[str, Any]) -> list[str]:
    """Turn partial batch responses on for those functions' SQS triggers; names changed."""
    changed = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        name = str(props.get("Handler", "")).removeprefix("app.")
        if name not in PARTIAL_BATCH_FUNCTIONS:
            continue
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["FunctionResponseTypes"] = [REPORT_BATCH_ITEM_FAILURES]
                changed.append(name)
    return sorted(changed)


def template_resources_win(template: dict[str, Any]) -> list[str]:
    """Drop function variables that Globals sets; "function: VAR" for each one dropped."""
    shared = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables")
    ) or {}
    dropped = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        variables = props.get("Environment", {}).get("Variables", {})
        for key in sorted(set(variables) & set(shared)):
            del variables[key]
            dropped.append(f"{str(props.get('Handler', '')).removeprefix('app.')}: {key}")
    return dropped


def finish(path: Path) -> list[str]:
    """Rewrite a packaged template (sam.json or sam.yaml) in place."""
    text = path.read_text(encoding="utf-8")
    is_json = path.suffix == ".json"
    # Chalice writes intrinsics in their long form (Fn::Sub: ...), so plain YAML reads it.
    template = json.loads(text) if is_json else yaml.safe_load(text)
    changed = report_batch_item_failures(template)
    dropped = sorted({item.split(": ", 1)[1] for item in template_resources_win(template)})
    if dropped:
        print(f"from the stack, not .chalice/config.json: {', '.join(dropped)}")
    if is_json:
        path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(template, allow_unicode=True), encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m chalicelib.deploy.finish PACKAGED_TEMPLATE", file=sys.stderr)
        return 2
    changed = finish(Path(args[0]))
    print(f"partial batch responses on for: {', '.join(changed) or 'none (no such functions)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
