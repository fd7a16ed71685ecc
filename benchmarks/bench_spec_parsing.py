"""Time and peak RSS of parsing a generated alias-free spec set, one shape per run.

    python benchmarks/bench_spec_parsing.py SHAPE MB

SHAPE is `one-doc` (one document, one long rule list), `one-file` (many documents in one
file) or `bundle` (one file per group, as `setpoint push` uploads them). Run each shape in
a fresh process: peak RSS (`resource.getrusage`) never goes down. The numbers in
docs/performance.md ("Spec parsing") come from this script; it does not rewrite the file.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable

from chalicelib.specs.parse import ParsedFile, parse_file
from chalicelib.specs.s3_source import content_hash, parse_bundle


def documents(megabytes: float) -> list[str]:
    """Security-group specs of 40 described rules each, about `megabytes` MB in all."""
    out: list[str] = []
    total = 0
    while total < megabytes * 1_000_000:
        i = len(out)
        rules = "".join(
            f"  - proto: tcp\n    ports: {1000 + r}\n    cidr: 10.{i % 250}.{r % 250}.0/24\n"
            f"    description: rule {r} of group {i}\n"
            for r in range(40)
        )
        out.append(
            f"kind: security_group\nname: group-{i}\nvpc_id: vpc-0123abcd\n"
            f"description: generated group {i}\ningress:\n{rules}tags:\n  team: platform\n"
        )
        total += len(out[-1])
    return out


def workload(shape: str, megabytes: float) -> Callable[[], list[ParsedFile]]:
    docs = documents(megabytes)
    if shape == "one-doc":
        rules = "".join(d.split("ingress:\n")[1].split("tags:")[0] for d in docs[1:])
        text = docs[0].split("tags:")[0] + rules
        return lambda: [parse_file("policies/big.yaml", text)]
    if shape == "one-file":
        text = "---\n".join(docs)
        return lambda: [parse_file("policies/big.yaml", text)]
    specs = {f"policies/g{i}.yaml": doc for i, doc in enumerate(docs)}
    bundle = {"format_version": "1", "content_hash": content_hash(specs), "specs": specs}
    body = json.dumps(bundle).encode()
    return lambda: parse_bundle("s3://bucket/policies/bundle.json", body)


def main(shape: str, megabytes: float) -> None:
    run = workload(shape, megabytes)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    files = run()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    errors = [error for parsed in files for error in parsed.errors]
    specs = sum(len(parsed.specs) for parsed in files)
    print(
        f"{shape} {megabytes} MB: {elapsed:.1f} s, peak RSS {peak / 1024:.0f} MB "
        f"({before / 1024:.0f} MB before parsing), {specs} specs, {len(errors)} errors"
    )
    if errors:
        print(f"  first: {errors[0]}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
