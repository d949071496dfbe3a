"""Who fetched a feed, from its User-Agent: an aggregator and its subscriber count, a reader, a browser or a bot.

The table :data:`AGENTS` is data: one :class:`AgentRule` a line, tried in order,
the first match wins. Adding a reader is one line. Aggregators (hosted readers
that fetch once for many people) announce how many subscribers they fetch for;
their pattern captures it as the group ``subscribers`` and, where the User-Agent
names the aggregator's own feed (Feedbin's ``feed-id:42``), as the group
``feed_id``: two feed ids are two subscriber lists of one aggregator (the same
feed reached by two URLs), so their counts add up. Individual readers (an app on
one person's machine or server) count once per distinct reader; browsers, bots
and HTTP tools are not subscribers (FeedPress's rule; see issue 19).

An unknown, non-empty User-Agent is an individual reader named ``Other``: a feed
URL is fetched mostly by feed readers, and every program that is not one (a
browser, a crawler, a command-line tool) is matched by a rule before that.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

MAX_SUBSCRIBERS = 10_000_000  # above any aggregator's real audience: a bigger figure is a lie, capped
MAX_AGENT_CHARS = 1_000  # a longer User-Agent is classified on its first this many characters
OTHER_READER = "Other"
NO_AGENT = "(none)"


class AgentKind(enum.Enum):
    AGGREGATOR = "aggregator"  # fetches for many subscribers and says how many
    READER = "reader"  # one person's reader: counts once per distinct reader
    BROWSER = "browser"  # a person looking at the feed, not subscribed to it
    BOT = "bot"  # crawlers, validators, monitors, HTTP tools

    @property
    def subscribes(self) -> bool:
        return self in (AgentKind.AGGREGATOR, AgentKind.READER)


@dataclass(frozen=True, slots=True)
class AgentRule:
    """``pattern`` (searched, case-insensitive) identifies ``name`` of ``kind``."""

    name: str
    kind: AgentKind
    pattern: str


@dataclass(frozen=True, slots=True)
class Agent:
    """What a User-Agent says about its client; ``subscribers`` only for aggregators."""

    name: str
    kind: AgentKind
    subscribers: int | None = None
    feed_id: str | None = None


_N = r"(?P<subscribers>\d{1,15})"  # digits only; capped to MAX_SUBSCRIBERS once read
A, R, B, X = AgentKind.AGGREGATOR, AgentKind.READER, AgentKind.BROWSER, AgentKind.BOT

# Order matters: aggregators and named readers first (several wrap a browser's
# User-Agent), then crawlers and tools, then browsers. Real strings for every
# rule are in tests/test_agents.py, each with its source.
AGENTS: tuple[AgentRule, ...] = (
    AgentRule("Feedly", A, rf"^Feedly/[\d.]+ \(.*?\b{_N} subscribers?"),
    AgentRule("Inoreader", A, rf"\binoreader\.com\b.*?\b{_N} subscribers?"),
    AgentRule("NewsBlur", A, rf"^NewsBlur Feed Fetcher - {_N} subscribers?\b"),
    AgentRule("Feedbin", A, rf"^Feedbin feed-id:(?P<feed_id>\d+) - {_N} subscribers?\b"),
    AgentRule("The Old Reader", A, rf"\btheoldreader\.com\b.*?\b{_N} subscribers?(?:.*?feed-id=(?P<feed_id>\w+))?"),
    AgentRule("Google Feedfetcher", A, rf"^Feedfetcher-Google\b.*?\b{_N} subscribers?(?:.*?feed-id=(?P<feed_id>\d+))?"),
    AgentRule("Netvibes", A, rf"^Netvibes\b.*?\b{_N} subscribers?(?:.*?feedID: (?P<feed_id>\d+))?"),
    AgentRule("Bloglines", A, rf"^Bloglines/.*?\b{_N} subscribers?"),
    AgentRule("NewsGator", A, rf"^NewsGatorOnline/.*?\b{_N} subscribers?"),
    # aggregators seen without a count: one fetcher for an unknown number of people, not one reader
    AgentRule("Feedly", X, r"^Feedly/"),
    AgentRule("Inoreader", X, r"\binoreader\b"),
    AgentRule("Feedspot", X, r"\bFeedspot\b"),
    AgentRule("Google Feedfetcher", X, r"^Feedfetcher-Google\b"),
    AgentRule("NetNewsWire", R, r"^NetNewsWire\b"),
    AgentRule("Newsboat", R, r"^newsboat/"),
    AgentRule("Miniflux", R, r"\bMiniflux/"),
    AgentRule("FreshRSS", R, r"\bFreshRSS/"),
    AgentRule("Tiny Tiny RSS", R, r"^Tiny Tiny RSS/"),
    AgentRule("Thunderbird", R, r"\bThunderbird/"),
    AgentRule("Liferea", R, r"^Liferea/"),
    AgentRule("Akregator", R, r"^Akregator/"),
    AgentRule("Reeder", R, r"^Reeder/"),
    AgentRule("NetNewsWire", R, r"^Evergreen\b"),
    AgentRule("rss2email", R, r"^rss2email/"),
    AgentRule("Feeder", R, r"^(?:SpaceCowboys Android RSS Reader|Feeder)\b"),
    AgentRule("feedparser", R, r"^(?:UniversalFeedParser|feedparser)/"),
    AgentRule("Googlebot", X, r"\bGooglebot\b"),
    AgentRule("Bingbot", X, r"\bbingbot\b"),
    AgentRule("W3C Feed Validator", X, r"\bW3C_Validator\b|\bFeedValidator\b"),
    AgentRule("Headless browser", X, r"\bHeadlessChrome\b|\bPhantomJS\b"),
    AgentRule("Crawler", X, r"bot\b|crawl|spider|slurp|archiver|monitor|uptime|preview|scan"),
    AgentRule("HTTP tool", X, r"^(?:curl|Wget|python-requests|python-urllib|Go-http-client|okhttp|axios|node-fetch)\b"),
    AgentRule("Chrome", B, r"^Mozilla/5\.0 .*\b(?:Chrome|CriOS)/[\d.]+"),
    AgentRule("Firefox", B, r"^Mozilla/5\.0 .*\b(?:Firefox|FxiOS)/[\d.]+"),
    AgentRule("Safari", B, r"^Mozilla/5\.0 .*\bVersion/[\d.]+.*\bSafari/"),
    AgentRule("Browser", B, r"^Mozilla/[45]\.0 \((?!compatible;)"),
)

_COMPILED = tuple((rule, re.compile(rule.pattern, re.IGNORECASE | re.ASCII)) for rule in AGENTS)


@functools.lru_cache(maxsize=4096)  # a pure function of one string; few distinct agents fetch a site
def classify_agent(user_agent: str) -> Agent:
    """The :class:`Agent` a User-Agent header names (never raises, whatever the text)."""
    text = " ".join(user_agent[:MAX_AGENT_CHARS].split())  # tabs, newlines and runs of spaces: one space
    if not text:
        return Agent(NO_AGENT, AgentKind.BOT)
    for rule, pattern in _COMPILED:
        match = pattern.search(text)
        if match is None:
            continue
        if rule.kind is not AgentKind.AGGREGATOR:
            return Agent(rule.name, rule.kind)
        groups = match.groupdict()
        subscribers = min(int(groups["subscribers"]), MAX_SUBSCRIBERS)
        return Agent(rule.name, rule.kind, subscribers, groups.get("feed_id"))
    return Agent(OTHER_READER, AgentKind.READER)
