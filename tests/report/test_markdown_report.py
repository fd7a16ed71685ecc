from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from chalicelib.model import Change
from chalicelib.report.markdown_report import render_markdown
from tests.report.samples import ALL, DRIFTED, IN_SYNC

GOLDEN = Path(__file__).parent / "golden" / "check.md"


def test_golden_pr_comment_for_every_status():
    assert render_markdown(ALL, checked=12) == GOLDEN.read_text(encoding="utf-8")


def test_counts_table_then_a_diff_block_per_finding():
    text = render_markdown(ALL, checked=12)
    assert "| 12 | 8 | 1 | 1 | 1 | 1 |" in text
    block = text.split("```diff\n")[-1].split("\n```")[0]
    assert block.splitlines()[0].startswith("+ ingress tcp/22 from 0.0.0.0/0")


def test_all_in_sync_says_so():
    text = render_markdown([IN_SYNC], checked=3)
    assert "No drift: every resource checked matches its spec." in text
    assert "###" not in text


def test_cloud_text_cannot_inject_markup_html_or_close_the_fence():
    evil = replace(
        DRIFTED,
        name="x`|<img src=x onerror=alert(1)>\n### approved",
        actor=None,
        changes=(
            Change(
                op="modify",
                path="description",
                expected="web",
                actual="ok\n```\n<script>alert(1)</script>",
                summary="",
            ),
        ),
    )
    text = render_markdown([evil], checked=1)
    lines = text.splitlines()
    # the name stays on its heading line, inert
    assert not any(line.startswith("### approved") for line in lines)
    assert "<img" not in text and "&lt;img" in text
    assert "\\`\\|" in text
    # a ``` inside the change cannot end the block: the fence is longer
    opening = next(line for line in lines if line.endswith("diff"))
    fence = opening.removesuffix("diff")
    assert len(fence) > 3
    body = lines[lines.index(opening) + 1 : lines.index(fence)]
    assert len(body) == 1 and body[0].startswith("~ description:")
