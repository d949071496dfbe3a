"""Who is who: the identity key of a topic or provider name, and stable, unique slugs.

A name's identity folds spellings ("Game Rant" and "GameRant"), applies the
configured topic aliases, and never depends on file order; a slug is made once
per identity and stays the same across runs. Every family of feeds
(:mod:`feeds.index.families`) and the live filters use these, so a name means one
thing everywhere.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

from slugify import slugify

from feeds.config import Settings

MAX_SLUG_CHARS = 80
# "C++" and "C#" must not both become "c" (python-slugify would drop the signs)
_SLUG_REPLACEMENTS = [["++", " plus plus "], ["+", " plus "], ["#", " sharp "], ["&", " and "], ["@", " at "]]
_DOMAIN_SUFFIX = re.compile(r"\.(?:com|net|org|co\.uk|co|io|uk|de|fr|eu|info|news|tv)$", re.IGNORECASE)


def topic_aliases(settings: Settings) -> dict[str, str]:
    """The configured aliases as folded alias → canonical topic name (as configured)."""
    return {" ".join(alias.split()).casefold(): target for alias, target in settings.topic_aliases}


def topic_key(name: str, aliases: dict[str, str]) -> str:
    """Topic identity: case and runs of space folded, aliases applied.

    ``aliases`` comes from :func:`topic_aliases`, so "Artificial  intelligence"
    and "ai" are both the topic "ai" when the config maps the first to "AI".
    """
    folded = " ".join(name.split()).casefold()
    return " ".join(aliases.get(folded, folded).split()).casefold()


def provider_key(name: str, domain: str | None) -> str:
    """Provider identity: the name folded to ASCII letters and digits.

    Case, spaces and punctuation do not count, and a trailing ".com"-like suffix
    is dropped from a name of two or more words, so "GameRant on MSN", "Game
    Rant on MSN" and "GameRant on MSN.com" are one provider, and so are "Rock,
    Paper, Shotgun" and "Rock Paper Shotgun". A one-word name keeps its suffix:
    "Tech.co" is not the provider called "tech". The name decides, not the
    domain: brands syndicated on one host (msn.com, youtube.com) stay apart,
    and "IGN" on ign.com and on youtube.com is one provider. The domain is the
    identity only when there is no usable name.
    """
    text = " ".join(name.split())
    if " " in text:
        text = _DOMAIN_SUFFIX.sub("", text)
    key = slugify(text, separator="")
    return key or slugify(domain or "", separator="") or "unknown"


def make_slug(name: str) -> str:
    """A URL-safe slug: lowercase ASCII letters, digits and single hyphens, never empty.

    Non-Latin scripts are transliterated ("Данные" → "dannye"); signs that
    would vanish are spelled out so "C++", "C#" and "C" stay apart; a name with
    nothing left (".", "🙂") gets "x-" and 8 hex digits of its SHA-256.
    """
    slug = slugify(name, max_length=MAX_SLUG_CHARS, word_boundary=True, replacements=_SLUG_REPLACEMENTS)
    return slug or "x-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def assign_slugs(names: dict[str, str]) -> dict[str, str]:
    """identity key → unique slug, stable across runs.

    When several keys fold to one slug, the key that sorts first keeps the plain
    slug and every other gets ``-`` and 6 hex digits of its key's SHA-256, so a
    key's slug never depends on file order.
    """
    by_slug: dict[str, list[str]] = defaultdict(list)
    for key, name in names.items():
        by_slug[make_slug(name)].append(key)
    slugs: dict[str, str] = {}
    taken = set(by_slug)
    for slug, keys in sorted(by_slug.items()):
        keys.sort()
        slugs[keys[0]] = slug
        for key in keys[1:]:
            digest = hashlib.sha256(key.encode()).hexdigest()
            length = 6
            candidate = f"{slug[: MAX_SLUG_CHARS - 7]}-{digest[:length]}"
            while candidate in taken:
                length += 2
                candidate = f"{slug[: MAX_SLUG_CHARS - length - 1]}-{digest[:length]}"
            taken.add(candidate)
            slugs[key] = candidate
    return slugs
