"""How much spec text Setpoint agrees to parse, and the errors for more than that.

The Lambda that parses a pushed bundle has 512 MB. Parsing costs far more than the text:
the documents of one file are composed, walked for line numbers and held at once, 24-40
MB of peak memory per MB of that file; across a bundle, files are parsed one after another
and only the built specs stay, about 6 MB per MB (docs/performance.md, "Spec parsing").
Unbounded, a 16 MB bundle took 880 MB and killed the function.
So input is measured before it is parsed and refused with an error naming the file, the
budget and the actual size:

- `MAX_SPEC_FILE_BYTES` (1 MiB) per spec file, or per file inside a bundle: one file per
  resource is the norm and a security group with 500 described rules is 49 KB.
- `MAX_BUNDLE_BYTES` (8 MiB) per bundle, and per spec directory `validate`/`push`/`check`
  read, since that directory becomes the bundle: a bundle at this budget (2,045 specs)
  peaked at 112 MB, the largest accepted file adds about 40 MB at most, so the runtime's
  own memory and a second copy during a reload still fit well inside 512 MB.
- `MAX_BUNDLE_INDEX_BYTES` (4 MiB) more per bundle object for the index `push` writes
  beside the specs (`spec_index`: about 50 bytes per spec, under a fifth of the specs'
  text), so the object may reach `MAX_BUNDLE_OBJECT_BYTES` while its specs stay within
  `MAX_BUNDLE_BYTES`. The event path never parses a whole bundle, so it takes objects up to
  `MAX_INDEXED_BUNDLE_BYTES` (64 MiB: held as bytes and decoded text, about three times
  the object) with specs past `MAX_BUNDLE_BYTES`; the sweep, which parses them all, does not.
- `MAX_DOCUMENT_NODES` (50,000) scalars, collections and aliases per YAML document, and
  `MAX_DOCUMENT_DEPTH` (64) levels of nesting, counted on the parser's event stream before
  anything is composed, so a refused document never becomes a node tree. That group has 4,500
  nodes; IAM policies (at most 10,240 characters in AWS) have fewer and nest about 10
  deep; deeper nesting than a few hundred levels would exhaust Python's recursion
  limit in the composer.
"""

from __future__ import annotations

from chalicelib.errors import SpecError

MAX_SPEC_FILE_BYTES = 1024 * 1024
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
MAX_BUNDLE_INDEX_BYTES = 4 * 1024 * 1024
MAX_BUNDLE_OBJECT_BYTES = MAX_BUNDLE_BYTES + MAX_BUNDLE_INDEX_BYTES
MAX_INDEXED_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_DOCUMENT_NODES = 50_000
MAX_DOCUMENT_DEPTH = 64


def size_text(size: int) -> str:
    """`1,572,864 bytes (1.5 MiB)`: exact, and readable."""
    return f"{size:,} bytes ({size / (1024 * 1024):.1f} MiB)"


def text_bytes(text: str) -> int:
    """The UTF-8 size of `text` (without a copy for ASCII, the usual case)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def file_too_large(name: str, size: int) -> SpecError | None:
    """The error for a spec file of `size` bytes over the per-file budget, else None."""
    if size <= MAX_SPEC_FILE_BYTES:
        return None
    return SpecError(
        f"spec file is {size_text(size)}, over the budget of {size_text(MAX_SPEC_FILE_BYTES)} "
        "per file; split it (one file per resource)",
        name,
    )


def bundle_too_large(name: str, size: int, what: str = "spec bundle") -> SpecError | None:
    """The error for a bundle (or spec directory) of `size` bytes over budget, else None."""
    if size <= MAX_BUNDLE_BYTES:
        return None
    return SpecError(
        f"{what} is {size_text(size)}, over the budget of {size_text(MAX_BUNDLE_BYTES)} "
        "per bundle (what the 512 MB Lambda can parse)",
        name,
    )


def bundle_object_too_large(
    name: str, size: int, budget: int = MAX_BUNDLE_OBJECT_BYTES
) -> SpecError | None:
    """The error for a bundle object (specs and index) of `size` bytes over `budget`."""
    if size <= budget:
        return None
    return SpecError(
        f"spec bundle object is {size_text(size)}, over the budget of {size_text(budget)} "
        "per bundle object (its specs and their index)",
        name,
    )
