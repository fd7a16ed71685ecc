"""The Lambda's least-privilege IAM policy, built from the call tables; `make policy` writes it.

Reads of watched resources (Describe/Get/List) go on `"*"`: EC2's describe calls allow
no narrower resource, and Setpoint must see every bucket, role and group to report the
unmanaged ones. Everything that writes is scoped to Setpoint's own resources by name *and*
to the stack's own account and region (`${AWS::AccountId}`, `${AWS::Region}`, which
`finish.py` turns into `Fn::Sub` in the packaged roles): its table, its queues, its log
groups. The spec bucket is this account's (`aws:ResourceAccount`), the member role
(`${RoleName}`) is assumed only in the accounts the `Accounts` parameter lists (else the
stack's organization), and `kms:Verify` is granted on the `SpecVerifyKey` parameter only.
Role name and accounts are stack parameters (finish.py), so the file does not depend on
their values in `.chalice/config.json`. `.chalice/policy-<stage>.json` must equal
`render(stage)`; a test says so when someone edits one and not the other.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chalicelib.deploy.calls import (
    ACCOUNT,
    PARTITION,
    ROLE_NAME,
    RUNTIME_GRANTS,
    Names,
    collector_calls,
    revert_rows,
)

STAGES = ("dev", "prod")
CHALICE_DIR = Path(__file__).resolve().parents[2] / ".chalice"

# Collector reads, grouped into one statement per IAM service prefix; these keep the Sids
# they were first published with, other prefixes get "Read" + the prefix.
_READ_SIDS = {"ec2": "ReadEc2", "s3": "ReadBuckets", "iam": "ReadIam"}


def _read_sid(prefix: str) -> str:
    return _READ_SIDS.get(prefix) or "Read" + prefix.title().replace("-", "")


def _statement(
    sid: str, actions: Sequence[str], resources: Sequence[str], condition: Any = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources[0] if len(resources) == 1 else sorted(resources),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def stage_environment(stage: str, config: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment `.chalice/config.json` gives a stage (top level, then the stage)."""
    if config is None:
        path = CHALICE_DIR / "config.json"
        config = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return {str(k): str(v) for k, v in env.items()}


def sns_topics(env: dict[str, str]) -> list[str]:
    """Topic ARNs of SNS notifiers configured in SETPOINT_NOTIFIERS: the only Publish targets."""
    raw = env.get("SETPOINT_NOTIFIERS")
    if not raw:
        return []
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "sns" and isinstance(node.get("topic_arn"), str):
                found.add(node["topic_arn"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(raw))
    return sorted(found)


def _read_statements() -> list[dict[str, Any]]:
    statements = []
    by_prefix: dict[str, set[str]] = {}
    for call in collector_calls():
        by_prefix.setdefault(call.permission.split(":", 1)[0], set()).add(call.permission)
    for prefix, actions in by_prefix.items():
        statements.append(_statement(_read_sid(prefix), sorted(actions), ["*"]))
    return statements


# What the revert function does besides reverting: read the resource again, read specs,
# keep alert state and the revert allowance, post (or park) the alert. Not: assume roles
# in other accounts, hand reverts off, write sweep reports, consume the sweep's queues.
REVERT_RUNTIME_SIDS = (
    "Logs",
    "WhoAmI",
    "ListSpecBucket",
    "ReadSpecObjects",
    "VerifySpecs",
    "PublishToNotifierTopics",
    "ReadTerraformStates",
    "ChatWebhookSecret",
    "DecryptChatWebhookSecret",
    "AlertState",
    "SendToQueues",
    # its failed invocations go to the events dead-letter queue like the event functions'
    "DeliverFailedEvents",
)


def revert_statements(opted: Mapping[str, Sequence[Any]] | None = None) -> list[dict[str, Any]]:
    """One statement per service: the revert tables' actions on their ARN patterns, all in
    the stack's own account (S3 ARNs name none: `aws:ResourceAccount` says it).

    Given `opted` (kind -> the specs that say `on_drift: revert`), each row's action is
    granted only on those specs' resources, and a row no spec needs is left out."""
    by_prefix: dict[str, tuple[set[str], set[str]]] = {}
    for row in revert_rows():
        if opted is None:
            wanted = {row.resource}
        else:
            specs = [spec for kind in row.kinds for spec in opted.get(str(kind), ())]
            wanted = {arn for spec in specs for arn in (row.scope(spec) or (row.resource,))}
            if not wanted:
                continue
        actions, resources = by_prefix.setdefault(row.permission.split(":", 1)[0], (set(), set()))
        actions.add(row.permission)
        resources.update(wanted)
    statements = []
    for prefix, (actions, resources) in by_prefix.items():
        condition = {"StringEquals": {"aws:ResourceAccount": ACCOUNT}} if prefix == "s3" else None
        sid = "Revert" + prefix.title().replace("-", "")
        statements.append(_statement(sid, sorted(actions), sorted(resources), condition))
    if "iam" in by_prefix:
        statements.append(_never_own_roles(sorted(by_prefix["iam"][0])))
    return statements


def _never_own_roles(actions: Sequence[str]) -> dict[str, Any]:
    """Whatever a spec says, the revert role never writes to Setpoint's own roles (the
    stack's, and the member read-only role and its forwarder, `${RoleName}*`): a spec
    for one of them with `on_drift: revert` could otherwise widen Setpoint's own rights."""
    return {
        "Sid": "NeverOwnRoles",
        "Effect": "Deny",
        "Action": sorted(actions),
        "Resource": [
            f"arn:{PARTITION}:iam::{ACCOUNT}:role/${{AWS::StackName}}-*",
            f"arn:{PARTITION}:iam::{ACCOUNT}:role/{ROLE_NAME}*",
        ],
    }


def opted_in_specs(catalog: Any, defaults: Mapping[str, str]) -> dict[str, list[Any]]:
    """kind -> the specs of `catalog` that say `on_drift: revert` (or whose kind does)."""
    from chalicelib.noise.model import ON_DRIFT_REVERT

    found: dict[str, list[Any]] = {}
    for kind in catalog.kinds:
        for spec in catalog.specs_of(kind):
            noise = catalog.noise.get(str(spec.source))
            choice = getattr(noise, "on_drift", None) or defaults.get(kind)
            if choice == ON_DRIFT_REVERT:
                found.setdefault(kind, []).append(spec)
    return found


def build_revert_policy(
    names: Names, topics: Sequence[str] = (), opted: Mapping[str, Sequence[Any]] | None = None
) -> dict[str, Any]:
    """The revert function's own role: reads, its runtime needs, and the tables' writes
    (narrowed to the `opted` specs' resources when given)."""
    statements = _read_statements()
    for grant in RUNTIME_GRANTS:
        if grant.sid not in REVERT_RUNTIME_SIDS:
            continue
        condition = grant.condition(names) if grant.condition else None
        statements.append(_statement(grant.sid, grant.actions(), grant.resources(names), condition))
    if topics:
        statements.append(_statement("PublishToTopics", ["sns:Publish"], list(topics)))
    statements += revert_statements(opted)
    return {"Version": "2012-10-17", "Statement": statements}


def build_policy(names: Names, topics: Sequence[str] = ()) -> dict[str, Any]:
    """The policy document for one stage: every function's but the revert function's."""
    statements = _read_statements()
    for grant in RUNTIME_GRANTS:
        condition = grant.condition(names) if grant.condition else None
        statements.append(_statement(grant.sid, grant.actions(), grant.resources(names), condition))
    if topics:
        statements.append(_statement("PublishToTopics", ["sns:Publish"], list(topics)))
    return {"Version": "2012-10-17", "Statement": statements}


def render(stage: str, config: dict[str, Any] | None = None) -> str:
    env = stage_environment(stage, config)
    return json.dumps(build_policy(Names(stage), sns_topics(env)), indent=2) + "\n"


def render_revert(
    stage: str, config: dict[str, Any] | None = None, specs: str | None = None
) -> str:
    """The revert role's file; with `specs` (a spec directory) its writes name only the
    resources of the specs there that opt in to revert."""
    env = stage_environment(stage, config)
    opted = None
    if specs is not None:
        from chalicelib.revert.settings import kind_defaults
        from chalicelib.specs.loading import load_directory

        opted = opted_in_specs(load_directory(specs), kind_defaults(env.get("SETPOINT_ON_DRIFT")))
    policy = build_revert_policy(Names(stage), sns_topics(env), opted)
    return json.dumps(policy, indent=2) + "\n"


def policy_path(stage: str, directory: Path = CHALICE_DIR) -> Path:
    return directory / f"policy-{stage}.json"


def revert_policy_path(stage: str, directory: Path = CHALICE_DIR) -> Path:
    return directory / f"policy-revert-{stage}.json"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m chalicelib.deploy.policy [--check]`: write (or compare) every stage's file."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    parser.add_argument("--dir", type=Path, default=CHALICE_DIR)
    parser.add_argument(
        "--revert-specs",
        metavar="DIR",
        help="narrow the revert role to the resources of the specs in DIR that opt in",
    )
    args = parser.parse_args(argv)
    stale = []
    files = [(policy_path(s, args.dir), render(s)) for s in STAGES]
    files += [
        (revert_policy_path(s, args.dir), render_revert(s, specs=args.revert_specs)) for s in STAGES
    ]
    for path, wanted in files:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == wanted:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {path.name}")
    if stale:
        print(f"out of date (run `make policy`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
