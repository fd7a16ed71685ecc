"""The HTML report in a real browser: what a person sees, what a click does, and that the
page neither fetches anything nor runs what the cloud wrote into it.

Headless Chromium, driven by chromedriver (tests/browser.py). Without the Debian packages
`chromium` and `chromium-driver` the tests skip and say so; `.ci/run` installs them and sets
SETPOINT_REQUIRE_BROWSER=1, so in CI a missing browser fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.model import ACTOR_FROM_LOOKUP, Change, Finding
from chalicelib.report.html_report import render_html
from tests.browser import REQUIRE_VARIABLE, Browser, chromium, missing_reason
from tests.report.samples import DRIFTED, IN_SYNC, MISSING, UNKNOWN, UNMANAGED
from tools.report_screenshot import sweep_the_demo_estate

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# what a hostile name or description would try: a script, a handler, a fetch
INJECTED = (
    "<script>window.__setpoint_ran = 'script'</script>"
    '<img src="http://127.0.0.1:9/leak.png" onerror="window.__setpoint_ran = \'img\'">'
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}")
        pytest.skip(f"{reason}: the report's browser tests run in CI (.ci/run installs it)")
    with chromium() as session:
        yield session


def report_findings() -> list[Finding]:
    """Drift with its diff and an actor from the CloudTrail lookup, an unmanaged group,
    a missing bucket, an unreadable role (the error), one in sync, and cloud text that tries
    to become markup."""
    assert DRIFTED.actor is not None
    looked_up = replace(DRIFTED, actor=replace(DRIFTED.actor, source=ACTOR_FROM_LOOKUP))
    hostile = replace(
        UNMANAGED,
        id="sg-0bad",
        name=f"evil{INJECTED}",
        changes=(Change("modify", "description", "ok", INJECTED, "", False),),
    )
    return [IN_SYNC, looked_up, UNMANAGED, MISSING, UNKNOWN, hostile]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("report") / "report.html"
    text = render_html(report_findings(), checked=9, generated_at="2026-12-03T07:00:00+00:00")
    page.write_text(text, encoding="utf-8")
    return page


def shown_findings(browser: Browser) -> list[str]:
    """The headline of each finding a person can see, in page order."""
    return [browser.text(h) for h in browser.find_all(".finding h3") if browser.displayed(h)]


def test_a_person_sees_the_counts_each_finding_its_diff_and_the_probable_actor(
    browser: Browser, report: Path
) -> None:
    browser.open(report.as_uri())
    counts = browser.text(browser.find_all("table.counts")[0])
    assert "checked" in counts and "9" in counts
    headlines = shown_findings(browser)
    assert len(headlines) == 5  # the in-sync group is counted, not listed
    assert any("DRIFTED" in h and "jenkins" in h for h in headlines)
    assert any("UNKNOWN" in h and "deploy" in h for h in headlines)  # the unreadable role
    drifted = browser.find('.finding[data-status="drifted"]')
    card = browser.text(drifted)
    assert "+ ingress tcp/22 from 0.0.0.0/0" in card and "⚠ open to the world" in card
    assert "- ingress tcp/443 from 10.0.0.0/8" in card
    assert "(probably: the newest matching write in CloudTrail event history)" in card
    assert "arn:aws:sts::123456789012:assumed-role/Admin/alice" in card
    unknown = browser.text(browser.find('.finding[data-status="unknown"]'))
    assert "reason: AccessDenied on iam:GetRole" in unknown


def test_unticking_a_filter_hides_those_rows_and_ticking_it_brings_them_back(
    browser: Browser, report: Path
) -> None:
    browser.open(report.as_uri())
    box = browser.find('.filters input[name="status"][value="unmanaged"]')
    unmanaged = browser.find_all('.finding[data-status="unmanaged"]')
    drifted = browser.find('.finding[data-status="drifted"]')
    assert len(unmanaged) == 2 and all(browser.displayed(f) for f in unmanaged)

    browser.click(box)
    assert not browser.selected(box)
    assert not any(browser.displayed(f) for f in unmanaged)
    assert browser.displayed(drifted)
    assert len(shown_findings(browser)) == 3

    region = browser.find('.filters input[name="region"][value="us-east-1"]')
    browser.click(region)  # two filters at once: only eu-west-1's non-unmanaged rows remain
    assert not browser.displayed(drifted)

    browser.click(box)
    browser.click(region)
    assert all(browser.displayed(f) for f in unmanaged) and browser.displayed(drifted)


def test_the_page_requests_nothing_and_runs_nothing_the_cloud_wrote(
    browser: Browser, report: Path
) -> None:
    url = report.as_uri()
    browser.open(url)
    assert browser.requests_from(url) == [url]  # the file itself, nothing else
    assert browser.run("return window.__setpoint_ran === undefined") is True
    # the markup is shown as text a person can read, never obeyed
    cards = [browser.text(f) for f in browser.find_all('.finding[data-status="unmanaged"]')]
    (hostile,) = [card for card in cards if "sg-0bad" in card]
    assert "<script>window.__setpoint_ran = 'script'</script>" in hostile
    assert browser.run("return document.querySelectorAll('script, img').length") == 1


def test_the_network_check_does_see_a_page_that_fetches(browser: Browser, tmp_path: Path) -> None:
    """The check above could pass by seeing nothing: a page that loads an image is caught."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/pixel.png">', encoding="utf-8")
    browser.open(page.as_uri())
    assert browser.requests_from(page.as_uri()) == [page.as_uri(), "http://127.0.0.1:9/pixel.png"]


def test_the_demo_estates_sweep_report_names_who_probably_made_each_drift(
    browser: Browser, tmp_path: Path
) -> None:
    """The page `make screenshot` photographs: the demo estate swept after changes no event
    announced, each author found in (answered) CloudTrail history."""
    page, chat = sweep_the_demo_estate(tmp_path)
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    browser.open(report.as_uri())
    cards = [browser.text(f) for f in browser.find_all(".finding")]
    assert len(cards) == 4
    assert all(
        "(probably: the newest matching write in CloudTrail event history)" in c for c in cards
    )
    (web,) = [c for c in cards if "security group web" in c]
    assert "AuthorizeSecurityGroupIngress by arn:aws:iam::123456789012:user/alice" in web
    assert "(41 days before this report)" in web
    assert "Who: arn:aws:iam::123456789012:user/alice (probably:" in chat
    assert "— probably arn:aws:iam::123456789012:user/bob (CreateSecurityGroup" in chat
