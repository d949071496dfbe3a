"""Cleaning untrusted text and URLs, shared by the reader (and only the reader).

Every function here is total: it takes anything and returns a clean value or
None, never raises, so one bad character can never break a feed.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

from feeds.read.mojibake import leaves_alone, repair_mojibake

# Outside XML 1.0 §2.2 Char, or C1 controls and noncharacters (Unicode §23.7: U+FDD0-U+FDEF and the last two
# code points of every plane), which feed validators flag, HTML parsers call errors and readers mis-render:
# what [^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010ffff] matches, and the astral
# noncharacters, listed (the negated class took ~4.5 ms to compile at every start, issue 20; tests/test_text.py
# holds them equal).
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(chr(plane << 16 | last) for plane in range(17) for last in (0xFFFE, 0xFFFF))
_XML_ILLEGAL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,2000}>")
_SPACES = re.compile(r"\s+")
_ANY_SPACE = re.compile(r"\s")
_HOST = re.compile(r"[a-z0-9.\-]+|\[[0-9a-f:.]+\]")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9\-.]*[a-z0-9])?")  # compiled once: re's cache lookup cost more than the match
_ENTITY = re.compile(r"&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# WordPress writes "&" in URLs as &#038; (and others as &#38; or &amp;, some twice escaped:
# &amp;#038;); a URL holds no HTML entity, so each spelling of "&" is read as "&" (issue 15),
# else "?quality=70&#038;strip=all" loses "#038;strip=all" as a fragment
_URL_AMPERSAND = re.compile(r"&(?:amp;)*(?:amp|#0*38|#x0*26);", re.IGNORECASE)
MAX_ENTITY_ROUNDS = 3
MAX_URL_CHARS = 2_000

# Fast paths: the shapes clean_text and clean_url return unchanged. Text: printable words
# (no controls, nothing outside XML's Char) joined by one space, no leading or trailing white
# space, and beyond ASCII only what the mojibake repair and NFC leave as written (one line);
# or, keeping lines, ASCII words joined by one space or newlines; '&' and '<' pass only
# when no entity or tag follows (checked at the call). URL: lowercase http(s)
# scheme and host (no userinfo, port, brackets or '%' in the host), a path starting
# with '/', a non-empty query if any, no fragment, and only characters that quote()
# keeps (unreserved plus the safe sets clean_url passes it).
_CLEAN_LINES = re.compile(r"[!-~]+(?:(?: |\n+)[!-~]+)*")
_URL_CHARS = r"A-Za-z0-9_.\-~/%:@!$&'()*+,;="
_CLEAN_URL = re.compile(rf"https?://[a-z0-9.\-]+/[{_URL_CHARS}]*(?:\?[{_URL_CHARS}?]+)?")


def clean_text(value: str, max_chars: int, *, single_line: bool = True) -> tuple[str, bool]:
    """Return (clean text, whether it was cut to ``max_chars``).

    Decodes HTML entities (double escaping too, at most three rounds), repairs
    mojibake, drops tags and characters XML 1.0 forbids, folds white space.
    """
    # Most values are clean already: recognise them and skip the cleaning steps (exactly what they
    # would return; tests/test_text.py proves it)
    if (
        type(value) is str
        and len(value) <= max_chars
        and (
            # one line by str methods, not a regex (for ASCII, [!-~]+(?: [!-~]+)*, ~0.3 µs more on an
            # excerpt). A printable character is XML's, and no white space but " " is printable: the
            # removals and the folding of white space find nothing
            value.isprintable() and value[:1] > " " and value[-1] != " " and "  " not in value
            if single_line
            else _CLEAN_LINES.fullmatch(value)  # ASCII only
        )
        and ("&" not in value or not _ENTITY.search(value))
        and ("<" not in value or not _TAG.search(value))
        # beyond ASCII, one line the mojibake repair and NFC leave as written: curly quotes, dashes,
        # CJK, emoji (the rest of the slow path after ftfy, ~10 µs a value, issue 20)
        and (value.isascii() or leaves_alone(value))
    ):
        return value, False
    return _clean_text_slow(value, max_chars, single_line=single_line)


def _clean_text_slow(value: str, max_chars: int, *, single_line: bool = True) -> tuple[str, bool]:
    """:func:`clean_text` without the fast path: the reference the fast path must equal."""
    text = value[: max_chars * 8]  # bound the work before the expensive steps
    for _ in range(MAX_ENTITY_ROUNDS):
        if "&" not in text or not _ENTITY.search(text):
            break
        text = html.unescape(text)
    text = repair_mojibake(text)
    text = _XML_ILLEGAL.sub("", text)
    text = _TAG.sub(" ", text)
    if single_line:
        text = _SPACES.sub(" ", text).strip()
    else:
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()
    text = unicodedata.normalize("NFC", text)
    if len(text) <= max_chars:
        return text, False
    return shorten(text, max_chars), True


def shorten(text: str, max_chars: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space > max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def clean_url(value: str, *, base_host: str | None = None) -> str | None:
    """An absolute http(s) URL made safe to print in XML and HTML, or None.

    ``&amp;``, ``&#038;``, ``&#38;`` and ``&#x26;`` (also escaped again) are read
    as ``&``. Protocol-relative URLs become https; a path-relative one is resolved against
    ``https://base_host/`` when a host is given. Non-ASCII and unsafe characters
    are percent-encoded; the host is lowercased and IDNA-encoded.
    """
    # Most URLs are already in the form the cleaning below produces: recognise
    # them in one regex pass and return them as they are (tests/test_text.py proves it exact)
    if (
        type(value) is str
        and len(value) <= MAX_URL_CHARS
        and _CLEAN_URL.fullmatch(value)
        and ("&" not in value or not _URL_AMPERSAND.search(value))
    ):
        return value
    return _clean_url_slow(value, base_host=base_host)


def _clean_url_slow(value: str, *, base_host: str | None = None) -> str | None:
    """:func:`clean_url` without the fast path: the reference the fast path must equal."""
    text = _XML_ILLEGAL.sub("", value).strip()
    if "&" in text:
        text = _URL_AMPERSAND.sub("&", text)
    if not text or len(text) > MAX_URL_CHARS or _ANY_SPACE.search(text):
        return None
    if text.startswith("//"):
        text = "https:" + text
    elif text.startswith("/") and base_host:
        text = f"https://{base_host}{text}"
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe="/%:@!$&'()*+,;=-._~") or "/",
            quote(parts.query, safe="/%:@!$&'()*+,;=-._~?"),
            "",
        )
    )


def clean_domain(value: str) -> str | None:
    """A bare lowercase host name (no scheme, path or ``www.``), or None."""
    text = value.strip().lower()
    if "//" in text:
        text = text.split("//", 1)[1]
    text = text.split("/", 1)[0].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    if not text or len(text) > 253:
        return None
    try:
        text = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError:
        return None
    return text if _DOMAIN.fullmatch(text) else None


# clean_url's fast-path shape with its parts as groups (a query may be empty here): split_url's fast path
_PLAIN_URL = re.compile(rf"https?://([a-z0-9.\-]+)(/[{_URL_CHARS}]*)(?:\?([{_URL_CHARS}?]*))?")


def split_url(url: str) -> tuple[str, str, str]:
    """``url``'s lowercase host ("" when none), path and query, as ``urlsplit`` gives them.

    Most links have the plain shape clean_url passes as it is: one match splits those
    (urlsplit took ~3 µs a file, issue 20); tests/test_text.py holds it to urlsplit.
    """
    match = _PLAIN_URL.fullmatch(url)
    if match is not None:
        host, path, query = match.groups()
        return host, path, query or ""
    return _split_url_slow(url)


def _split_url_slow(url: str) -> tuple[str, str, str]:
    """:func:`split_url` by ``urlsplit``: the reference its fast path must equal."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path, parts.query


_AMP_HOST = re.compile(r"^(?P<cdn>[a-z0-9\-]+)\.cdn\.ampproject\.org$")


def link_key(url: str) -> str:
    """The identity of a story's URL: scheme, ``www.``, AMP and slash variants fold together.

    ``https://www.x.com/a/amp/``, ``http://x.com/a`` and the ampproject.org cache
    URL of the same page all give ``x.com/a``.
    """
    host, path, query = split_url(url)
    if _AMP_HOST.match(host):
        # https://www-x-com.cdn.ampproject.org/c/s/www.x.com/path → x.com/path
        match = re.match(r"^/[a-z](?:/s)?/([^/]+)(/.*)?$", path)
        if match:
            host, path = match.group(1).lower(), match.group(2) or "/"
    if host.startswith("www."):
        host = host[4:]
    if path.endswith("/amp/") or path.endswith("/amp"):
        path = path[: path.rfind("/amp")]
    elif path.startswith("/amp/"):
        path = path[4:]
    path = path.rstrip("/")
    if query:
        query = "&".join(q for q in query.split("&") if q and q.lower() not in ("amp", "amp=1", "outputtype=amp"))
    return host + path + ("?" + query if query else "")
