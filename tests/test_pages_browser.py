"""The pages for people in a real browser: headless Chromium (Selenium) against ``feeds serve``, checked by axe-core.

axe-core comes from npm (``npm install axe-core``, as .ci/run does) into the project's
``node_modules`` or the folder ``FEEDS_AXE_CORE`` names; without it the axe tests skip,
or fail in CI. A failing check leaves a screenshot in the test's temporary folder.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from feeds.config import Settings
from feeds.read.reader import read_article
from tests import test_browser
from tests.conftest import PROJECT
from tests.test_serve import Server
from tests.test_web import wait_for

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

# the same fixtures as the index's browser tests: `feeds serve` over the samples, headless Chromium
server, browser = test_browser.server, test_browser.browser
FEED_PAGE = "topics/robotics.html"
FEED_URL = "topics/robotics.rss"
WIDTHS = (390, 1200)  # a phone, a desktop window (CSS pixels)
# axe-core impact levels that fail a page (axe also reports "moderate" and "minor")
FAILING_IMPACTS = ("serious", "critical")
HOSTILE_FILE = """---
title: "&lt;script&gt;alert(1)&lt;/script&gt; \\"><img src=x onerror=alert(2)> Q&A 'quotes' &amp;amp; <b>bold</b>"
excerpt: "&lt;img src=x onerror=alert(3)&gt; and </p><script>alert(4)</script>"
publishedDateTime: 2030-05-01T10:00:00Z
webUrl: "https://news.example.com/a?x=\\"><script>alert(5)</script>&y='1'"
type: article
provider:
  name: "&lt;/title&gt;<script>alert(6)</script>Evil & Co"
  domain: evil.example.com
topics:
  - Robotics
  - "&lt;b&gt;Topic&lt;/b&gt;"
images:
  - url: "https://img.example.com/x.jpg?a=\\"><script>alert(8)</script>"
    width: 640
    height: 360
---
"""


def axe_source() -> str:
    """axe-core's browser bundle; skips (fails in CI) when npm has not installed it."""
    folder = Path(os.environ.get("FEEDS_AXE_CORE") or PROJECT / "node_modules" / "axe-core")
    bundle = folder / "axe.min.js"
    if not bundle.is_file():
        message = f"{bundle} is absent: `npm install axe-core` in the project (.ci/run does)"
        if os.environ.get("FEEDS_REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return bundle.read_text(encoding="utf-8")


@contextmanager
def screenshot_on_failure(browser, folder: Path, name: str) -> Iterator[None]:
    """Keep what the browser showed when a check inside fails: ``folder/name.png``."""
    try:
        yield
    except BaseException:
        browser.save_screenshot(str(folder / f"{name.replace('/', '_')}.png"))
        raise


def set_width(browser, width: int) -> None:
    """A viewport of ``width`` CSS pixels, as a phone (mobile: the viewport meta applies) or a desktop."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def overflow(browser) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return browser.execute_script(
        "const root = document.documentElement; return Math.max(root.scrollWidth, document.body.scrollWidth)"
        " - root.clientWidth;"
    )


def axe_findings(browser, source: str) -> list[tuple[str, str, list]]:
    """(rule, impact, elements) of every serious or critical axe-core violation on the current page."""
    violations = browser.execute_async_script(
        source
        + """
;const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (result) => done(result.violations.map((v) => [v.id, v.impact, v.nodes.map((n) => n.target)])),
  (error) => done([["axe-error", "critical", [String(error)]]]));
"""
    )
    return [tuple(v) for v in violations if v[1] in FAILING_IMPACTS]


def url(server: Server, path: str = "") -> str:
    return f"http://127.0.0.1:{server.port}/{path}"


@pytest.mark.parametrize("path", ["", FEED_PAGE, FEED_URL], ids=["index", "feed-page", "feed-url"])
def test_no_serious_or_critical_axe_findings(server, browser, tmp_path, path):
    source = axe_source()
    browser.set_script_timeout(60)
    for width in WIDTHS:
        set_width(browser, width)
        browser.get(url(server, path))
        with screenshot_on_failure(browser, tmp_path, f"{path or 'index'}-{width}"):
            assert axe_findings(browser, source) == [], (path, width)


@pytest.mark.parametrize("path", ["", FEED_PAGE, "all.html", FEED_URL], ids=["index", "feed-page", "all", "feed-url"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_sideways_scrolling(server, browser, tmp_path, path, width):
    set_width(browser, width)
    browser.get(url(server, path))
    with screenshot_on_failure(browser, tmp_path, f"{path or 'index'}-{width}"):
        assert browser.find_element(By.TAG_NAME, "h1").is_displayed()
        assert overflow(browser) <= 0


def test_a_feed_url_opened_in_a_browser_shows_the_feeds_page_without_xslt(server, browser, tmp_path):
    set_width(browser, 1200)
    browser.get(url(server, FEED_URL))
    with screenshot_on_failure(browser, tmp_path, "feed-url"):
        assert browser.current_url == url(server, FEED_URL)  # the feed's URL, answered with its page
        assert browser.find_element(By.TAG_NAME, "h1").text == "Robotics"
        assert "XSLT" not in browser.find_element(By.TAG_NAME, "body").text
        assert browser.execute_script("return document.contentType") == "text/html"
        feed_page = server.request("GET", f"/{FEED_PAGE}")[2].decode()
        assert feed_page.count('<li class="item') == len(browser.find_elements(By.CSS_SELECTOR, ".items > li")) > 0


def test_the_finder_hides_the_feeds_whose_name_does_not_match(server, browser, tmp_path):
    set_width(browser, 390)
    browser.get(url(server))
    with screenshot_on_failure(browser, tmp_path, "finder"):
        rows = browser.find_elements(By.CSS_SELECTOR, ".feeds > li")
        finder = browser.find_element(By.ID, "find")
        assert finder.is_displayed()  # the script showed it
        finder.send_keys("ROBO")
        shown = [row.get_attribute("id") for row in rows if row.is_displayed()]
        assert shown == ["topics/robotics"]
        status = browser.find_element(By.ID, "find-status").text
        assert status == f"1 of {len(rows)} feeds match"
        providers = browser.find_element(By.CSS_SELECTOR, 'section[aria-labelledby="family-provider"]')
        assert not providers.is_displayed()  # no provider matches: the section goes too
        finder.clear()
        finder.send_keys(" ")  # clear() fires no input event; a space (trimmed) shows everything again
        assert all(row.is_displayed() for row in rows)
        browser.find_element(By.LINK_TEXT, "Robotics").click()
        assert browser.current_url == url(server, FEED_PAGE)


def test_the_copy_button_copies_the_feeds_address(server, browser, tmp_path):
    set_width(browser, 390)
    browser.get(url(server, FEED_PAGE))
    # what a person's click gives a page in a visible window (headless has neither focus nor the permission)
    browser.execute_cdp_cmd("Emulation.setFocusEmulationEnabled", {"enabled": True})
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": url(server).rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    with screenshot_on_failure(browser, tmp_path, "copy"):
        button = browser.find_element(By.CSS_SELECTOR, 'button[data-copy="url-rss"]')
        assert button.is_displayed()  # the script showed it
        button.click()
        # the clipboard write is a promise: the label changes when it resolves, not within click()
        wait_for(lambda: button.text == "Copied", timeout=30)
        field = browser.find_element(By.ID, "url-rss")
        assert field.get_attribute("value") == url(server, FEED_URL)
        selected = browser.execute_script(
            "const f = arguments[0]; return f.value.slice(f.selectionStart, f.selectionEnd)", field
        )
        assert selected == url(server, FEED_URL)  # selected too: where copying is refused, Ctrl+C does it
        copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
        assert copied == url(server, FEED_URL)


def test_hostile_titles_and_urls_stay_text_in_the_browser(server, browser, tmp_path):
    hostile = server.articles / "zz-hostile.md"
    hostile.write_text(HOSTILE_FILE, encoding="utf-8")
    article = read_article(hostile, Settings(), root=server.articles).article
    assert article is not None and "<" not in article.title  # what the reader kept of it
    # the live server reloads changed files every few seconds
    wait_for(lambda: html.escape(article.title).encode() in server.request("GET", f"/{FEED_PAGE}")[2], 30)
    set_width(browser, 1200)
    browser.get(url(server, FEED_PAGE) + "?after-the-reload")  # not the copy the browser cached before
    with screenshot_on_failure(browser, tmp_path, "hostile"):
        first = browser.find_element(By.CSS_SELECTOR, ".items > li h3 a")
        assert first.text == article.title and first.get_dom_attribute("href") == article.link
        image = browser.find_element(By.CSS_SELECTOR, ".items > li img")
        assert image.get_dom_attribute("src") == article.lead_image.url
        assert browser.find_element(By.CSS_SELECTOR, ".items > li .meta a").text == article.provider.name
        assert browser.execute_script("return document.querySelectorAll('script').length") == 1  # ours only
