"""`skips`: the decision a collector makes before a resource's reads is `quiet`'s own.

A resource skipped before it is read is never compared, so `skips` must never say yes to
one `quiet` would keep; and with everything known (id, name, tags) the two agree exactly.
"""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.model import Finding, Kind, Status
from chalicelib.noise.apply import quiet, skipping_rule, skips
from chalicelib.noise.parse import parse_ignore_file

KINDS = ("s3_bucket", "security_group")
TODAY = date(2026, 12, 4)


def rules(text: str) -> list:
    return parse_ignore_file(".setpointignore", text, KINDS)


def bucket(name: str, tags: dict[str, str] | None = None) -> Finding:
    return Finding(
        Kind("s3_bucket"),
        name,
        name,
        "123456789012",
        "eu-west-1",
        Status.UNMANAGED,
        tags=tuple(sorted((tags or {}).items())),
    )


def dropped(found: Finding, parsed: list) -> bool:
    return quiet([found], parsed, {}, TODAY).ignored == 1


def test_a_glob_skips_the_buckets_it_names_and_a_negation_reads_its_one() -> None:
    parsed = rules("s3_bucket:acme-logs-*\n!s3_bucket:acme-logs-keep\n")
    assert skips(parsed, "s3_bucket", "acme-logs-a", "acme-logs-a")
    assert not skips(parsed, "s3_bucket", "acme-logs-keep", "acme-logs-keep")
    assert not skips(parsed, "s3_bucket", "acme-assets", "acme-assets")
    assert not skips(parsed, "security_group", "acme-logs-a", "acme-logs-a")  # another kind


def test_a_path_rule_never_skips_the_read() -> None:
    parsed = rules("s3_bucket:acme-logs-*:policy\n")
    assert not skips(parsed, "s3_bucket", "acme-logs-a", "acme-logs-a")


def test_unknown_tags_read_what_a_negated_tag_rule_may_bring_back() -> None:
    parsed = rules("s3_bucket:acme-logs-*\n!tag:keep=yes\n")
    assert not skips(parsed, "s3_bucket", "acme-logs-a", "acme-logs-a")  # tags not read
    assert skips(parsed, "s3_bucket", "acme-logs-a", "acme-logs-a", {"keep": "no"})
    assert not skips(parsed, "s3_bucket", "acme-logs-a", "acme-logs-a", {"keep": "yes"})


def test_a_tag_rule_skips_only_once_the_tags_are_known() -> None:
    parsed = rules("tag:team=logs\n")
    assert not skips(parsed, "s3_bucket", "b", "b")
    rule = skipping_rule(parsed, "s3_bucket", "b", "b", {"team": "logs"})
    assert rule is not None and rule.source.line == 1


def test_a_skipped_resource_is_counted_once_under_its_rule() -> None:
    """Counted by `quiet` from `skipped`, and its rule is not called stale."""
    parsed = rules("s3_bucket:acme-logs-*\n")
    quieted = quiet([bucket("acme-assets")], parsed, {}, TODAY, skipped=[bucket("acme-logs-a")])
    assert quieted.ignored == 1
    assert [f.name for f in quieted.findings] == ["acme-assets"]
    assert quieted.stale == ()


def test_a_skipped_resource_no_rule_ignores_is_kept_as_not_read() -> None:
    parsed = rules("s3_bucket:acme-logs-*\n")
    stray = bucket("acme-assets")
    quieted = quiet([], parsed, {}, TODAY, skipped=[stray])
    assert quieted.ignored == 0 and quieted.findings == [stray]


NAMES = st.sampled_from(["acme-logs-a", "acme-logs-keep", "acme-assets", "web"])
GLOBS = st.sampled_from(["acme-logs-*", "acme-logs-keep", "*", "web", "acme-*"])
TAG_LINES = st.sampled_from(["tag:team=logs", "tag:keep=*", "tag:team=web*"])


@st.composite
def rule_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        negate = "!" if draw(st.booleans()) else ""
        if draw(st.integers(0, 3)) == 0:
            lines.append(negate + draw(TAG_LINES))
        else:
            kind = draw(st.sampled_from(KINDS))
            path = ":policy" if draw(st.integers(0, 5)) == 0 and not negate else ""
            lines.append(f"{negate}{kind}:{draw(GLOBS)}{path}")
    return "\n".join(lines) + "\n"


TAGS = st.dictionaries(
    st.sampled_from(["team", "keep"]), st.sampled_from(["logs", "web", "yes"]), max_size=2
)


@settings(max_examples=300, deadline=None)
@given(rule_files(), NAMES, TAGS)
def test_skips_agrees_with_quiet(text: str, name: str, tags: dict[str, str]) -> None:
    parsed = rules(text)
    found = bucket(name, tags)
    # with the tags known: exactly `quiet`'s verdict
    assert skips(parsed, "s3_bucket", name, name, tags) == dropped(found, parsed)
    # with the tags not read yet: never a skip `quiet` would not make
    if skips(parsed, "s3_bucket", name, name):
        assert dropped(found, parsed)
