"""`setpoint validate`: schema and semantic checks, every error with file, line and field."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chalicelib.cli.common import EXIT_ERROR, EXIT_OK
from chalicelib.kinds.registry import SPEC_KINDS
from chalicelib.specs.loading import load_directory


def run_validate(args: argparse.Namespace) -> int:
    path = Path(args.specs)
    if not path.exists():
        print(f"error: {args.specs}: no such file or directory", file=sys.stderr)
        return EXIT_ERROR
    catalog = load_directory(path)  # raises SpecSetError with every problem found
    if not catalog.files:
        print(f"error: {args.specs}: no spec files (*.yaml, *.yml) found", file=sys.stderr)
        return EXIT_ERROR
    counts = {kind: len(catalog.specs_of(kind)) for kind in SPEC_KINDS}
    detail = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    print(
        f"{args.specs}: {sum(counts.values())} spec(s) valid" + (f" ({detail})" if detail else "")
    )
    return EXIT_OK
