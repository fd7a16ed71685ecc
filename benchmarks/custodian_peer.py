"""Cloud Custodian as the sweep benchmark's peer: its install, its policies, its runs.

`make bench` installs Custodian (PyPI package `c7n`) into a throwaway venv under
build/, reused while its stamp names the same package spec, and runs `custodian run`
over the same moto server as `setpoint check`, interleaved with it. The four policies
read what Setpoint's sweep compares, through Custodian's nearest filters:

- security groups: `ingress` / `egress` (the rules, from DescribeSecurityGroups);
- buckets: `global-grants` (ACL), `has-statement` (bucket policy), `check-public-block`
  (Block Public Access), `bucket-encryption` (default encryption), value filters on
  versioning and logging (which `import`-written specs pin), with `augment-keys`
  naming the properties those filters read (Custodian then reads only those, plus the
  location and tags it always reads: its cheapest setting) and a `region` condition
  (ListBuckets lists every region's buckets, so they are read in the first region's
  run only, as Setpoint reads them);
- customer-managed IAM policies: `has-allow-all` (the default version's document);
- roles: `cross-account` (trust policy), `has-inline-policy` (inline policy names),
  `has-specific-managed-policy` (attached policies).

Each policy's filters sit under one `or`, so every filter reads every resource (an
implicit `and` would stop reading at the first filter that drops a resource).
No policy has an action: nothing is changed on the server.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.request_count_hook import ENV_VAR as COUNTS_ENV_VAR

# Pinned so two runs of the benchmark compare against the same peer; the stamp records it.
CUSTODIAN_SPEC = "c7n==0.9.53"
HOOK_SOURCE = Path(__file__).with_name("request_count_hook.py")
HOOK_MODULE = "setpoint_request_count_hook"
PTH_LINE = f"import {HOOK_MODULE}; {HOOK_MODULE}.install_from_env()\n"
INSTALL_TIMEOUT_S = 900


@dataclasses.dataclass(frozen=True)
class PeerInstall:
    """Where Custodian is, or why it is not (`error` set, `custodian` unusable)."""

    venv: Path
    spec: str
    version: str = ""
    error: str | None = None
    reused: bool = False

    @property
    def custodian(self) -> Path:
        return self.venv / "bin" / "custodian"

    @property
    def ok(self) -> bool:
        return self.error is None


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}")
    return found[0]


def _tail(text: str, lines: int = 6) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())


def ensure_custodian(venv: Path, spec: str = CUSTODIAN_SPEC) -> PeerInstall:
    """Custodian installed in `venv` (reused when its stamp names `spec`), with the count hook.

    Never raises for a failed install: the benchmark reports the reason and runs alone.
    """
    stamp = venv / ".setpoint-peer-stamp"
    python = venv / "bin" / "python"
    reused = stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == spec
    try:
        if not reused or not (venv / "bin" / "custodian").is_file():
            reused = False
            shutil.rmtree(venv, ignore_errors=True)
            venv.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", spec],
                check=True,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
            )
        site = _site_packages(venv)
        shutil.copyfile(HOOK_SOURCE, site / f"{HOOK_MODULE}.py")
        (site / f"{HOOK_MODULE}.pth").write_text(PTH_LINE, encoding="utf-8")
        version = subprocess.run(
            [str(venv / "bin" / "custodian"), "version"],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout.strip()
    except subprocess.CalledProcessError as exc:
        detail = _tail(f"{exc.stdout or ''}\n{exc.stderr or ''}") or f"exit {exc.returncode}"
        return PeerInstall(venv, spec, error=f"`pip install {spec}` failed: {detail}")
    except subprocess.TimeoutExpired:
        return PeerInstall(venv, spec, error=f"installing {spec} took over {INSTALL_TIMEOUT_S} s")
    except OSError as exc:
        return PeerInstall(venv, spec, error=f"installing {spec} failed: {exc}")
    stamp.write_text(spec + "\n", encoding="utf-8")
    return PeerInstall(venv, spec, version=version, reused=reused)


# --------------------------------------------------------------------------------------
# The policies

# Custodian's names for the bucket properties its bucket filters read: the ACL and policy
# (`global-grants`, `has-statement`), versioning and logging (value filters: `import`
# pins both in every bucket spec, so the sweep compares them). Its S3 resource adds
# Location and Tags itself.
S3_AUGMENT_KEYS = ("Acl", "Policy", "Versioning", "Logging")

POLICY_NAMES = {
    "security groups": "setpoint-peer-security-groups",
    "buckets": "setpoint-peer-buckets",
    "IAM policies": "setpoint-peer-iam-policies",
    "IAM roles": "setpoint-peer-iam-roles",
}


def policies(first_region: str) -> dict[str, Any]:
    """The four policies as data (see the module docstring for why these filters)."""
    world = {"value": "0.0.0.0/0"}
    return {
        "policies": [
            {
                "name": POLICY_NAMES["security groups"],
                "resource": "aws.security-group",
                "filters": [
                    {
                        "or": [
                            {"type": "ingress", "Cidr": world},
                            {"type": "egress", "Ports": [25], "Cidr": world},
                        ]
                    }
                ],
            },
            {
                "name": POLICY_NAMES["buckets"],
                "resource": "aws.s3",
                # ListBuckets returns every region's buckets: read them once, in the
                # first region's run, as Setpoint does
                "conditions": [{"type": "value", "key": "region", "value": first_region}],
                # read only the bucket properties the filters use ("detect" misses
                # filters nested under `or`, so they are named)
                "query": [{"augment-keys": list(S3_AUGMENT_KEYS)}],
                "filters": [
                    {
                        "or": [
                            {"type": "global-grants"},
                            {"type": "has-statement", "statement_ids": ["PublicRead"]},
                            {"type": "check-public-block"},
                            {"type": "bucket-encryption", "state": False},
                            {"type": "value", "key": "Versioning.Status", "value": "Suspended"},
                            {"type": "value", "key": "Logging", "value": "absent"},
                        ]
                    }
                ],
            },
            {
                "name": POLICY_NAMES["IAM policies"],
                "resource": "aws.iam-policy",
                "filters": [{"type": "has-allow-all"}],
            },
            {
                "name": POLICY_NAMES["IAM roles"],
                "resource": "aws.iam-role",
                "filters": [
                    {
                        "or": [
                            {"type": "cross-account"},
                            {"type": "has-inline-policy", "value": True},
                            {
                                "type": "has-specific-managed-policy",
                                "op": "glob",
                                "value": "bench-policy-*",
                            },
                        ]
                    }
                ],
            },
        ]
    }


def policy_file_text(first_region: str) -> str:
    """The policy file `custodian run` reads (JSON is YAML, and needs no YAML writer)."""
    return json.dumps(policies(first_region), indent=2) + "\n"


def custodian_command(
    install: PeerInstall, policy_file: Path, out_dir: Path, regions: Sequence[str]
) -> list[str]:
    """`custodian run` over every region, its resource cache off (each run reads afresh)."""
    region_flags = [flag for region in regions for flag in ("--region", region)]
    return [
        str(install.custodian),
        "run",
        "--output-dir",
        str(out_dir),
        "--cache-period",
        "0",
        *region_flags,
        str(policy_file),
    ]


def peer_env(env: dict[str, str], counts_file: Path, home: Path) -> dict[str, str]:
    """The check's environment (same endpoint, dummy credentials), plus the count file.

    HOME points into the benchmark's work folder so Custodian's cache and config stay there.
    """
    return dict(env, **{COUNTS_ENV_VAR: str(counts_file), "HOME": str(home)})


def read_counts(path: Path) -> Counter[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Counter({str(op): int(n) for op, n in data["counts"].items()})


def matched_by_policy(out_dir: Path) -> dict[str, int]:
    """Resources each policy matched, summed over regions (from its resources.json files)."""
    matched: Counter[str] = Counter()
    for path in out_dir.rglob("resources.json"):
        name = path.parent.name
        if name in POLICY_NAMES.values():
            matched[name] += len(json.loads(path.read_text(encoding="utf-8")))
    return {name: matched.get(name, 0) for name in POLICY_NAMES.values()}
