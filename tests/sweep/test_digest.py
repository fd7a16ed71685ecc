"""The digest: what one sweep tells chat, as data and as text (pure)."""

from __future__ import annotations

import json

from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import Finding, Status
from chalicelib.notify.alert import Alert, AlertKind
from chalicelib.sweep.digest import (
    ShardSummary,
    digest_json,
    merge_digest,
    render_digest_slack,
    render_digest_teams,
    render_digest_text,
    summarize,
)

A = "111111111111"
B = "222222222222"


def finding(name: str, status: Status, account: str = A, reason: str | None = None) -> Finding:
    return Finding(SECURITY_GROUP, f"sg-{name}", name, account, "eu-west-1", status, reason=reason)


FIRST_SEEN = {"sg-old": "2026-11-01T00:00:00+00:00", "sg-older": "2026-10-01T00:00:00+00:00"}


def shard_summary(shard: str = f"{A}/eu-west-1/security_group") -> ShardSummary:
    new = finding("new", Status.DRIFTED)
    old = finding("old", Status.UNMANAGED)
    older = finding("older", Status.DRIFTED)
    fixed = finding("fixed", Status.IN_SYNC)
    fine = finding("fine", Status.IN_SYNC)
    unread = finding("unread", Status.UNKNOWN, reason="DescribeSecurityGroups: Throttling")
    alerts = [Alert(AlertKind.NEW, new), Alert(AlertKind.BACK_TO_NORMAL, fixed)]
    return summarize(
        shard,
        [new, old, older, fixed, fine, unread],
        alerts,
        lambda f: FIRST_SEEN.get(f.id or ""),
        delivery_errors=1,
    )


def test_a_shard_summary_sorts_findings_into_the_digests_sections() -> None:
    summary = shard_summary()
    assert summary.counts == {
        "checked": 6,
        "in_sync": 2,
        "drifted": 2,
        "missing": 0,
        "unmanaged": 1,
        "unknown": 1,
    }
    assert [i.name for i in summary.new_drift] == ["new"]
    assert [i.name for i in summary.resolved] == ["fixed"]
    assert [(i.name, i.since) for i in summary.still_open] == [
        ("older", FIRST_SEEN["sg-older"]),
        ("old", FIRST_SEEN["sg-old"]),
    ]
    assert [i.reason for i in summary.unknown] == ["DescribeSecurityGroups: Throttling"]


def test_drift_handed_to_the_revert_function_counts_as_new_or_still_open_without_an_alert() -> None:
    fresh = finding("fresh", Status.DRIFTED)
    known = finding("known", Status.DRIFTED)
    summary = summarize(
        "s",
        [fresh, known],
        [],  # the revert function alerts on both, not the sweep
        lambda f: "never asked for handed-off drift",
        handed_off=[(fresh, None), (known, "2026-11-20T00:00:00+00:00")],
    )
    assert summary.counts["drifted"] == 2
    assert [i.name for i in summary.new_drift] == ["fresh"]
    assert [(i.name, i.since) for i in summary.still_open] == [
        ("known", "2026-11-20T00:00:00+00:00")
    ]


def test_summaries_survive_the_trip_through_the_state_table_as_json() -> None:
    summary = shard_summary()
    assert ShardSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary


def test_the_digest_adds_up_shards_and_groups_unknowns_by_reason() -> None:
    denied = f"cannot assume role arn:aws:iam::{B}:role/setpoint-readonly: AccessDenied"
    refused = summarize(
        f"{B}/global/iam",
        [finding(n, Status.UNKNOWN, B, denied) for n in ("x", "y", "z")],
        [],
        lambda _: None,
    )
    digest = merge_digest(
        "run-1",
        [shard_summary(), shard_summary(f"{A}/us-east-1/security_group"), refused],
        failed_deliveries=["security_group sg-lost: chat answered 500"],
    )
    assert digest.counts["checked"] == 15 and digest.counts["unknown"] == 5
    assert [g.reason for g in digest.unknown] == [denied, "DescribeSecurityGroups: Throttling"]
    assert [g.count for g in digest.unknown] == [3, 2]
    assert [i.since for i in digest.still_open] == sorted(i.since or "" for i in digest.still_open)
    assert digest.failed_delivery_total == 1 and digest.delivery_errors == 2

    text = render_digest_text(digest)
    assert text.splitlines()[0] == (
        "Setpoint sweep: 15 checked, 4 in sync, 4 drifted, 2 unmanaged, 0 missing, 5 unknown"
    )
    for title in (
        "New drift (2):",
        "Back to normal (2):",
        "Still open, oldest first (4):",
        "Could not read (5):",
        "Failed deliveries (3):",
    ):
        assert title in text
    assert "3 × " + denied in text
    assert "sg-lost: chat answered 500" in text


def test_long_lists_are_cut_but_the_counts_stay_whole() -> None:
    many = [finding(f"g{n:03}", Status.DRIFTED) for n in range(40)]
    summary = summarize("s", many, [Alert(AlertKind.NEW, f) for f in many], lambda _: None)
    digest = merge_digest("run", [summary], cap=5)
    assert len(digest.new_drift) == 5 and digest.totals["new_drift"] == 40
    assert "… and 35 more" in render_digest_text(digest)


def test_a_quiet_sweep_says_so() -> None:
    summary = summarize("s", [finding("ok", Status.IN_SYNC)], [], lambda _: None)
    digest = merge_digest("run", [summary])
    assert digest.quiet
    assert render_digest_text(digest).endswith("Nothing new, nothing open.")


def test_chat_renderings_carry_the_same_sections() -> None:
    digest = merge_digest("run-1", [shard_summary()])
    slack = render_digest_slack(digest)
    assert slack["text"].startswith("Setpoint sweep: 6 checked")
    assert any("New drift" in b["text"]["text"] for b in slack["blocks"] if "text" in b)
    card = render_digest_teams(digest)["attachments"][0]["content"]
    assert any("Still open" in block["text"] for block in card["body"])
    data = digest_json(digest)
    assert data["type"] == "sweep_digest" and data["counts"]["unknown"] == 1
