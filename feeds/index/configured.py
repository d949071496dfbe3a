"""Configured feeds: the config's saved filters (``feeds:``) as one family of feeds, at ``feeds/<slug>``.

Each definition is read as the ``/filter`` query with the same keys
(:meth:`feeds.config.FeedDefinition.filter_pairs`) and matched by the same code
(:func:`feeds.index.filters.matcher`), so a configured feed holds exactly that query's items.
"""

from __future__ import annotations

from collections.abc import Callable

from feeds.config import Settings
from feeds.index.families import Family, Lookup
from feeds.index.filters import FeedFilter, matcher, parse_filter
from feeds.model import Article


def _definition(settings: Settings, slug: str):
    return next(d for d in settings.feeds if d.slug == slug)


def _configured_values(settings: Settings, lookup: Lookup) -> Callable[[Article], list[str]] | None:
    """An article's configured feeds: the slugs of those whose filter (the equivalent /filter query's) it passes."""
    if not settings.feeds:
        return None
    tests = [
        (d.slug, matcher(parse_filter(d.filter_pairs(), lookup, settings, limited=False), lookup, settings))
        for d in settings.feeds
    ]
    return lambda article: [slug for slug, test in tests if test(article)]


def _configured_description(key: str, name: str, settings: Settings) -> str:
    definition = _definition(settings, key)
    if definition.description is not None:
        return definition.description
    wanted = FeedFilter(tuple((k, v) for k, v in definition.selection), (), definition.min_quality)
    return f"The newest articles matching {wanted.describe()}."


CONFIGURED = Family(
    name="configured",
    folder="feeds",
    heading="Configured feeds",
    values=_configured_values,  # its values are its slugs: key_of's default gives (slug, slug)
    needs_lookup=True,  # names resolve as /filter resolves them: against the other families' feeds
    feed_name=lambda key, spellings, settings: _definition(settings, key).title or key,
    title=lambda key, name, settings: f"{name} — {settings.site_title}",
    description=_configured_description,
    slugs=lambda names, settings: {key: key for key in names},  # the configured slug (checked by the config)
    declared=lambda settings: tuple(d.slug for d in settings.feeds),  # a feed even while nothing matches
    # a query's words are read from the title and summary: an edit of either may move the article
    reads=lambda settings: frozenset(("title", "summary")) if any(_has_words(d) for d in settings.feeds)
    else frozenset(),
)


def _has_words(definition) -> bool:
    return any(key == "query" for key, _ in definition.selection)
