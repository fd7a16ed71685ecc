"""Run the `setpoint` CLI in this process, counting every AWS request by operation.

Usage: python benchmarks/counted_cli.py COUNTS.json [setpoint arguments...]

The count hook goes into botocore's built-in handler list before anything makes a
session, so every client the CLI builds (any session, any thread, assumed-role sessions
too) copies it. `before-call` fires once per API call: retries of one call count once.
`before-call` to `after-call` also times each call (per thread, summed over threads).
With SETPOINT_BENCH_PROFILE=FILE the run is profiled with cProfile into FILE.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_seconds: Counter[str] = Counter()  # time inside each operation, summed over threads
_started = threading.local()


def _op(model: Any) -> str:
    return f"{model.service_model.service_name}:{model.name}"


def _count(model: Any = None, **_: Any) -> None:
    if model is not None:
        with _lock:
            _counts[_op(model)] += 1
        _started.at = time.perf_counter()


def _done(model: Any = None, **_: Any) -> None:
    at = getattr(_started, "at", None)
    if model is not None and at is not None:
        _started.at = None
        with _lock:
            _seconds[_op(model)] += time.perf_counter() - at


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    counts_path, cli_args = Path(argv[0]), argv[1:]
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-call", _count))
    handlers.BUILTIN_HANDLERS.append(("after-call", _done))
    handlers.BUILTIN_HANDLERS.append(("after-call-error", _done))
    from chalicelib.cli.main import main as setpoint

    profile_path = os.environ.get("SETPOINT_BENCH_PROFILE")
    try:
        if profile_path:
            import cProfile

            profiler = cProfile.Profile()
            code = profiler.runcall(setpoint, cli_args)
            profiler.dump_stats(profile_path)
        else:
            code = setpoint(cli_args)
    finally:
        with _lock:
            counts_path.write_text(
                json.dumps({"counts": dict(_counts), "seconds": dict(_seconds)}, sort_keys=True),
                encoding="utf-8",
            )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
