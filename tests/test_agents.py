"""The User-Agent table on real User-Agent strings, each with where it was seen."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.stats.agents import AGENTS, MAX_SUBSCRIBERS, NO_AGENT, OTHER_READER, AgentKind, classify_agent

A, R, B, X = AgentKind.AGGREGATOR, AgentKind.READER, AgentKind.BROWSER, AgentKind.BOT

# (User-Agent, name, kind, subscribers, feed id); one real string a line, its source in the comment
CASES = [
    # popey.com's access log, "How many RSS subscribers" (2023), and DESIGN.md's checked facts
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 134 subscribers; )", "Feedly", A, 134, None),
    # sethmlarson.dev, "How many RSS subscribers do I have?" (2025)
    ("Feedly/1.0 (poller; 131 subscribers;)", "Feedly", A, 131, None),
    # a WordPress plugin's test table of aggregator strings (GitHub)
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers; like FeedFetcher-Google)", "Feedly", A, 12,
     None),
    ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)", "Feedly", X, None, None),
    # DESIGN.md's checked facts; the same plugin's table
    ("Mozilla/5.0 (compatible; inoreader.com; 12 subscribers)", "Inoreader", A, 12, None),
    ("Mozilla/5.0 (compatible; Inoreader; +https://www.inoreader.com)", "Inoreader", X, None, None),
    # NewsBlur's own source, samuelclay/NewsBlur apps/rss_feeds/models.py: "NewsBlur Feed Fetcher - %s subscriber%s
    # - %s %s" % (num_subscribers, "s" if != 1, permalink, fake_user_agent)
    ("NewsBlur Feed Fetcher - 7 subscribers - https://www.newsblur.com/site/6011745/news (Mozilla/5.0 (Macintosh; "
     "Intel Mac OS X 10_13_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/68.0.3440.106 Safari/537.36)",
     "NewsBlur", A, 7, None),
    ("NewsBlur Feed Fetcher - 1 subscriber - https://www.newsblur.com/site/42/x (Mozilla/5.0)", "NewsBlur", A, 1,
     None),
    # Feedbin's source, feedbin/feedbin FeedDownloader: "Feedbin feed-id:#{@feed_id} - #{@subscribers} subscribers"
    ("Feedbin feed-id:1306543 - 3 subscribers", "Feedbin", A, 3, "1306543"),
    ("Feedbin feed-id:1234567 - 1 subscriber", "Feedbin", A, 1, "1234567"),
    # the WordPress plugin's table (The Old Reader); Google's Feedfetcher help page format
    ("Mozilla/5.0 (compatible; theoldreader.com; 2 subscribers; feed-id=5a1b2c3d4e5f6a7b8c9d0e1f)",
     "The Old Reader", A, 2, "5a1b2c3d4e5f6a7b8c9d0e1f"),
    ("Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers; feed-id=1234567890123456789)",
     "Google Feedfetcher", A, 4, "1234567890123456789"),
    ("FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)", "Google Feedfetcher", X, None, None),
    # petefreitag.com, "Finding Feed subscribers from the User Agent" (2005)
    ("Bloglines/2.0 (http://www.bloglines.com; 81 subscribers)", "Bloglines", A, 81, None),
    ("NewsGatorOnline/2.0 (http://www.newsgator.com; 20 subscribers)", "NewsGator", A, 20, None),
    # Podnews' RSS user-agent list; NetNewsWire's source (Secrets/UserAgent)
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "NetNewsWire", R, None, None),
    # captured from Debian's newsboat 2.21.0 fetching a local server (this project's test machine)
    ("newsboat/2.21.0 (Linux x86_64)", "Newsboat", R, None, None),
    # Miniflux's source, internal/config/options.go: "Mozilla/5.0 (compatible; Miniflux/" + version + "; +https://…)"
    ("Mozilla/5.0 (compatible; Miniflux/2.0.51; +https://miniflux.app)", "Miniflux", R, None, None),
    ("Mozilla/5.0 (compatible; FreshRSS/1.20.1; +https://freshrss.org)", "FreshRSS", R, None, None),
    # popey.com's access log
    ("Akregator/5.24.0 (23.08.0); syndication", "Akregator", R, None, None),
    # Thunderbird 115's default User-Agent (Mozilla's UA documentation)
    ("Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0", "Thunderbird", R, None, None),
    # an unknown program that is neither browser nor crawler: a reader we have no line for
    ("Aggregator/2.22.000 (Android/13; exynos9611)", OTHER_READER, R, None, None),
    ("Blogtrottr/2.0", OTHER_READER, R, None, None),
    # Google's crawler documentation; Bing's
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", X, None, None),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "Bingbot", X, None, None),
    ("W3C_Validator/1.3 http://validator.w3.org/services", "W3C Feed Validator", X, None, None),
    ("curl/8.5.0", "HTTP tool", X, None, None),
    ("python-requests/2.32.3", "HTTP tool", X, None, None),
    # browsers' own default strings (Chrome 120, Firefox 121, Safari 17)
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
     "Chrome", B, None, None),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox", B, None, None),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
     "Safari/605.1.15", "Safari", B, None, None),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
     "Safari/537.36", "Headless browser", X, None, None),
    ("", NO_AGENT, X, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("user_agent", "name", "kind", "subscribers", "feed_id"), CASES)
def test_real_user_agents(user_agent: str, name: str, kind: AgentKind, subscribers: int | None, feed_id) -> None:
    agent = classify_agent(user_agent)
    assert (agent.name, agent.kind, agent.subscribers, agent.feed_id) == (name, kind, subscribers, feed_id)


def test_every_rule_is_exercised_by_a_real_string_or_named_for_one_kind() -> None:
    names = {name for _, name, *_ in CASES}
    untested = {rule.name for rule in AGENTS} - names
    # rules for readers whose strings we could not source are plain names: still one line each
    assert untested <= {"FreshRSS", "Tiny Tiny RSS", "Liferea", "Reeder", "rss2email", "Feeder", "feedparser",
                        "Feedspot", "Netvibes", "Crawler", "Browser"}  # fmt: skip


@pytest.mark.parametrize(
    ("user_agent", "subscribers"),
    [
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 999999999999999 subscribers; )", MAX_SUBSCRIBERS),
        # more digits than any count: no count at all, so never a subscriber figure
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; 99999999999999999999999 subscribers; )", None),
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html;\t7\nsubscribers; )", 7),  # whitespace folded
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; -5 subscribers; )", 5),
    ],
)
def test_hostile_counts_are_bounded(user_agent: str, subscribers: int | None) -> None:
    assert classify_agent(user_agent).subscribers == subscribers


@given(st.text(max_size=3000))
def test_any_text_is_classified_without_error(user_agent: str) -> None:
    agent = classify_agent(user_agent)
    assert agent.kind in AgentKind
    assert agent.subscribers is None or 0 <= agent.subscribers <= MAX_SUBSCRIBERS
    assert (agent.subscribers is not None) == (agent.kind is A)
