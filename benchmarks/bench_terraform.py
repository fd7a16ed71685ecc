"""Measure loading Terraform states as specs and write docs/performance.md's terraform section.

Generates N state files (default 500) of M managed resource instances each (default 100:
50,000 in all) in the shapes of tests/fixtures/terraform/: security groups with inline
rules and separate `aws_vpc_security_group_*_rule` resources (half of them refresh copies),
`aws_security_group_rule`s, buckets with their split resources, and resources Setpoint
does not map (instances, subnets, records, data sources). Then, each in a child process
(for its peak RSS): a cold load, a warm reload with nothing changed, and a reload after one
state changed, from a directory and from `s3://` (moto in process: its request counts carry
over to AWS, its times do not). Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: `python benchmarks/bench_terraform.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.report_sections import git_commit, write_section  # noqa: E402

AWS = 'provider["registry.terraform.io/hashicorp/aws"]'
ACCOUNT = "123456789012"
REGION = "eu-west-1"
BUCKET = "bench-tfstate"
RUNS = 3


def _rule(cidr: str, port: int) -> dict[str, Any]:
    return {
        "cidr_blocks": [cidr],
        "description": "",
        "from_port": port,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": "tcp",
        "security_groups": [],
        "self": False,
        "to_port": port,
    }


def _resource(type_: str, name: str, attributes: dict[str, Any], mode: str = "managed") -> Any:
    return {
        "mode": mode,
        "type": type_,
        "name": name,
        "provider": AWS,
        "instances": [{"schema_version": 0, "attributes": attributes, "sensitive_attributes": []}],
    }


def state_text(n: int, size: int, serial: int = 1) -> str:
    """One state of `size` managed instances: per 10, 2 groups, 3 group rules, 1 bucket,
    2 bucket parts, 2 resources of types no family maps."""
    resources: list[Any] = [_resource("aws_caller_identity", "me", {"id": ACCOUNT}, "data")]
    for i in range(size // 10):
        vpc = f"vpc-{n:06x}{i:04x}"
        groups = [f"sg-{n:06x}{i:04x}{k}" for k in range(2)]
        for k, group in enumerate(groups):
            rule = _rule(f"10.{n % 250}.{i % 250}.0/24", 443)
            copied = _rule("10.99.0.0/16", 8000 + k)  # a refresh copy of a separate rule
            attributes = {
                "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group}",
                "description": "Managed by Terraform",
                "egress": [{**_rule("0.0.0.0/0", 0), "protocol": "-1", "to_port": 0}],
                "id": group,
                "ingress": [rule, copied] if k == 0 else [rule],
                "name": f"app-{n}-{i}-{k}",
                "owner_id": ACCOUNT,
                "tags": {"team": "bench"},
                "tags_all": {"team": "bench", "managed-by": "terraform"},
                "vpc_id": vpc,
            }
            resources.append(_resource("aws_security_group", f"app_{i}_{k}", attributes))
        for k in range(2):
            rule_id = f"sgr-{n:06x}{i:04x}{k}"
            resources.append(
                _resource(
                    "aws_vpc_security_group_ingress_rule",
                    f"app_{i}_{k}",
                    {
                        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/{rule_id}",
                        "cidr_ipv4": "10.99.0.0/16",
                        "description": None,
                        "from_port": 8000 + k,
                        "id": rule_id,
                        "ip_protocol": "tcp",
                        "security_group_id": groups[0],
                        "security_group_rule_id": rule_id,
                        "to_port": 8000 + k,
                    },
                )
            )
        resources.append(
            _resource(
                "aws_security_group_rule",
                f"peer_{i}",
                {
                    "description": "",
                    "from_port": 5432,
                    "id": f"sgrule-{n}{i}",
                    "protocol": "tcp",
                    "security_group_id": groups[1],
                    "self": False,
                    "source_security_group_id": groups[0],
                    "to_port": 5432,
                    "type": "ingress",
                },
            )
        )
        bucket = f"bench-{n}-{i}-{serial}"
        resources.append(
            _resource(
                "aws_s3_bucket",
                f"data_{i}",
                {
                    "arn": f"arn:aws:s3:::{bucket}",
                    "bucket": bucket,
                    "id": bucket,
                    "policy": "",
                    "region": REGION,
                    "tags_all": {},
                },
            )
        )
        flags = ("block_public_acls", "ignore_public_acls", "block_public_policy")
        resources.append(
            _resource(
                "aws_s3_bucket_public_access_block",
                f"data_{i}",
                {"bucket": bucket, **dict.fromkeys((*flags, "restrict_public_buckets"), True)},
            )
        )
        resources.append(
            _resource(
                "aws_s3_bucket_server_side_encryption_configuration",
                f"data_{i}",
                {
                    "bucket": bucket,
                    "rule": [
                        {
                            "apply_server_side_encryption_by_default": [
                                {"kms_master_key_id": "", "sse_algorithm": "AES256"}
                            ],
                            "bucket_key_enabled": False,
                        }
                    ],
                },
            )
        )
        resources.append(
            _resource("aws_instance", f"app_{i}", {"id": f"i-{n:06x}{i:04x}", "ami": "ami-1"})
        )
        resources.append(_resource("aws_subnet", f"app_{i}", {"id": f"subnet-{n}{i}"}))
    state = {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": serial,
        "lineage": f"bench-{n}",
        "outputs": {},
        "resources": resources,
    }
    return json.dumps(state, indent=2)


def write_states(root: Path, count: int, size: int) -> int:
    """`count` states under root/stack-NNN/terraform.tfstate; returns the bytes written."""
    total = 0
    for n in range(count):
        path = root / f"stack-{n:03d}" / "terraform.tfstate"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = state_text(n, size)
        path.write_text(text)
        total += len(text)
    return total


# --------------------------------------------------------------------------------------
# The child: one measured run


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, root: Path, count: int, size: int) -> dict[str, Any]:
    from chalicelib.aws import ClientCache
    from chalicelib.sources.provider import sources_provider

    out: dict[str, Any] = {}
    if mode == "s3":
        import os

        import boto3
        from moto import mock_aws

        os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
        mocked = mock_aws()
        mocked.start()
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for path in sorted(root.rglob("*.tfstate")):
            key = path.relative_to(root).as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        target = f"terraform:s3://{BUCKET}/"
    else:
        target = f"terraform:{root}"
    out["rss_before_mb"] = _rss_mb()
    provider = sources_provider(target, ClientCache())
    states = getattr(provider, "states", None)

    def stats() -> dict[str, int] | None:
        last = getattr(states, "last_stats", None)
        return None if last is None else {"list": last.list_calls, "get": last.get_calls}

    started = time.perf_counter()
    catalog = provider()
    out["cold_s"] = time.perf_counter() - started
    out["cold_requests"] = stats()
    out["rss_after_mb"] = _rss_mb()
    out["specs"] = {kind: len(catalog.specs_of(kind)) for kind in catalog.kinds}
    started = time.perf_counter()
    assert provider() is catalog
    out["warm_s"] = time.perf_counter() - started
    out["warm_requests"] = stats()
    changed = state_text(0, size, serial=2)
    if mode == "s3":
        s3.put_object(Bucket=BUCKET, Key="stack-000/terraform.tfstate", Body=changed.encode())
    else:
        (root / "stack-000" / "terraform.tfstate").write_text(changed)
    started = time.perf_counter()
    provider()
    out["one_changed_s"] = time.perf_counter() - started
    out["one_changed_requests"] = stats()
    out["rss_peak_mb"] = _rss_mb()
    (root / "stack-000" / "terraform.tfstate").write_text(state_text(0, size))
    return out


def run_child(mode: str, root: Path, count: int, size: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--root", str(root)]
    command += ["--states", str(count), "--instances", str(size)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------
# The report


def _median(runs: Sequence[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def report(count: int, size: int, size_mb: float, results: dict[str, list[Any]]) -> str:
    first = results["directory"][0]
    specs = ", ".join(f"{n} {kind}" for kind, n in first["specs"].items())
    lines = [
        "## Terraform state loading (bench_terraform.py)",
        "",
        f"{count} state files, {count * size:,} managed resource instances in all "
        f"({size_mb:.1f} MB of JSON, the shapes of `tests/fixtures/terraform/`), declaring "
        f"{specs}; the rest are types no family maps and data sources. Median of {RUNS} runs, "
        "each in a fresh child process (peak RSS is the child's).",
        "",
        "| source | cold load | reload, nothing changed | reload, 1 state changed "
        "| RSS before → after load | peak RSS | requests cold / warm / 1 changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, runs in results.items():
        requests = "—"
        if runs[0]["cold_requests"] is not None:
            parts = [runs[0][k] for k in ("cold_requests", "warm_requests", "one_changed_requests")]
            requests = " / ".join(f"{p['list']} list + {p['get']} get" for p in parts)
        lines.append(
            f"| {'`s3://` (moto)' if mode == 's3' else 'directory'} "
            f"| {_median(runs, 'cold_s'):.2f} s | {_median(runs, 'warm_s') * 1000:.0f} ms "
            f"| {_median(runs, 'one_changed_s'):.2f} s "
            f"| {_median(runs, 'rss_before_mb'):.0f} → {_median(runs, 'rss_after_mb'):.0f} MB "
            f"| {_median(runs, 'rss_peak_mb'):.0f} MB | {requests} |"
        )
    lines += [
        "",
        "A reload after one state changed fetches that one object and maps every state's "
        "instances again (a group and its rules may sit in different states), but runs the "
        "kinds' schema checks only on documents whose translation changed; the cold load is "
        "mostly those checks (about 2 ms per declared resource on this machine). Without a "
        "change, a reload is the listing (or a stat per file) and nothing else.",
        "",
        "### Machine",
        "",
        f"- {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.platform()}, {platform.processor() or platform.machine()}",
        f"- commit {git_commit()}; `python benchmarks/bench_terraform.py --output "
        "docs/performance.md`",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", help="write the terraform section of this page")
    parser.add_argument("--states", type=int, default=500)
    parser.add_argument("--instances", type=int, default=100, help="per state (a multiple of 10)")
    parser.add_argument("--child", choices=["directory", "s3"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, Path(args.root), args.states, args.instances)))
        return 0
    with tempfile.TemporaryDirectory(prefix="setpoint-bench-tf-") as work:
        root = Path(work) / "states"
        size_mb = write_states(root, args.states, args.instances) / 1e6
        results: dict[str, list[Any]] = {"directory": [], "s3": []}
        for mode in results:
            for run in range(RUNS):
                print(f"{mode} run {run + 1}/{RUNS}", file=sys.stderr, flush=True)
                results[mode].append(run_child(mode, root, args.states, args.instances))
    text = report(args.states, args.instances, size_mb, results)
    if args.output:
        write_section(Path(args.output), "terraform", text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
