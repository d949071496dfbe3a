"""What every HTML page of the site shares: the document frame, its stylesheet, its one script, its CSP.

Sans-IO, like the renderer. The stylesheet and the script are constants inlined
into each page, so a page is one self-contained file (the same bytes from the
live app and the export, on any static host) and loads nothing from another
origin. The Content-Security-Policy allows exactly them, by their SHA-256 (CSP
Level 3, hash-source): no nonce, so exported and served bytes stay identical.
Every text and URL that reaches a page goes through :func:`esc` (``html.escape``).
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import UTC, datetime

PAGE_TYPE = "text/html; charset=utf-8"

STYLESHEET = """
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #4d4d4d; --line: #d6d6d6;
  --link: #0b57d0; --visited: #6a1b9a; --panel: #f3f5f8; --accent: #b3261e; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececec; --bg: #121212; --muted: #bdbdbd; --line: #3a3a3a; --link: #8ab4f8;
    --visited: #d7aefb; --panel: #1e2329; --accent: #f2b8b5; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: var(--bg); font: 1.0625rem/1.55 system-ui, -apple-system,
  "Segoe UI", Roboto, sans-serif; overflow-wrap: anywhere; }
a { color: var(--link); }
a:visited { color: var(--visited); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 1; }
header.site, main, footer.site { max-width: 48rem; margin: 0 auto; padding: 0 1rem; }
header.site { padding-top: 1rem; }
nav.crumbs { font-size: .95rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: .6rem 0 .4rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .6rem; }
h3 { font-size: 1.15rem; line-height: 1.3; margin: 0 0 .35rem; }
.lede { color: var(--muted); margin-top: 0; }
.subscribe { background: var(--panel); border: 1px solid var(--line); border-radius: .5rem; padding: .2rem 1rem 1rem; }
.subscribe h2 { margin-top: .9rem; }
.feed-url { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: .25rem .4rem; margin: .7rem 0; }
.feed-url label { grid-column: 1 / -1; font-weight: 600; }
.feed-url input { min-width: 0; font: .95rem ui-monospace, monospace; padding: .4rem;
  color: var(--fg); background: var(--bg); border: 1px solid var(--muted); border-radius: .3rem; }
button, .finder input { font: inherit; padding: .35rem .8rem; border-radius: .3rem; border: 1px solid var(--muted);
  color: var(--fg); background: var(--bg); }
button { cursor: pointer; }
.readers, .topics, .formats { display: flex; flex-wrap: wrap; gap: .3rem 1rem; list-style: none; padding: 0;
  margin: .4rem 0; }
.items { list-style: none; padding: 0; margin: 0; }
.item { display: grid; grid-template-columns: minmax(0, 1fr); gap: .35rem; padding: 1.1rem 0;
  border-bottom: 1px solid var(--line); align-content: start; }
.item img { width: 100%; max-width: 100%; height: auto; border-radius: .3rem; background: var(--panel); }
.item img.unsized { aspect-ratio: 16 / 9; object-fit: cover; }
.item p { margin: 0; }
.meta { color: var(--muted); font-size: .95rem; }
.topics { font-size: .95rem; }
@media (min-width: 40rem) {
  .item.with-image { grid-template-columns: 12rem minmax(0, 1fr); column-gap: 1rem; }
  .item.with-image > * { grid-column: 2; }
  .item.with-image img { grid-column: 1; grid-row: 1 / span 4; }
}
.feeds { list-style: none; padding: 0; margin: 0; }
.feeds > li { display: flex; flex-wrap: wrap; gap: .2rem 1rem; align-items: baseline; padding: .5rem 0;
  border-bottom: 1px solid var(--line); }
.feeds .name { flex: 1 1 14rem; font-weight: 600; }
.feeds .facts { color: var(--muted); font-size: .95rem; }
.feeds .formats { margin: 0; font-size: .95rem; }
.finder { margin: 1rem 0; }
.finder label { display: block; font-weight: 600; margin-bottom: .25rem; }
.finder input { width: 100%; max-width: 28rem; }
code { font: .95em ui-monospace, monospace; overflow-wrap: anywhere; }
footer.site { color: var(--muted); font-size: .95rem; padding-top: 1.5rem; padding-bottom: 2rem; }
""".lstrip()

# One script for every page, over the page's own markup (no data of its own, so one hash):
# copy buttons copy the field they name; the index's finder hides the feeds whose name does
# not hold what is typed. Both are hidden in the markup and shown here: without script the
# page shows every feed and every URL in a field to select by hand.
SCRIPT = """
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  button.hidden = false;
  button.addEventListener("click", () => {
    field.select();
    const done = () => { button.textContent = "Copied"; };
    (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject())
      .then(done, () => { if (document.execCommand("copy")) done(); });
  });
}
const finder = document.getElementById("find");
if (finder) {
  const status = document.getElementById("find-status");
  const rows = [...document.querySelectorAll(".feeds > li")];
  finder.parentElement.hidden = false;
  finder.addEventListener("input", () => {
    const wanted = finder.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      row.hidden = wanted !== "" && !row.dataset.name.includes(wanted);
      shown += row.hidden ? 0 : 1;
    }
    for (const section of document.querySelectorAll("section.family")) {
      section.hidden = !section.querySelector(".feeds > li:not([hidden])");
    }
    status.textContent = wanted ? `${shown} of ${rows.length} feeds match` : "";
  });
}
""".lstrip()


def _hash_source(text: str) -> str:
    """A CSP hash-source: the SHA-256 of exactly the element's text, base64 (CSP Level 3 §2.3.1)."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# What a page may load: its own inline stylesheet and script (by hash), images from anywhere
# (article images live on the publishers' hosts); nothing else, no plugin, no <base>, no form.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; img-src http: https:; style-src {_hash_source(STYLESHEET)}; "
    f"script-src {_hash_source(SCRIPT)}; base-uri 'none'; form-action 'none'"
)
# The live server's header adds what a <meta> policy cannot carry (CSP3 §6.1: frame-ancestors
# is ignored there): no other site may frame the pages.
CONTENT_SECURITY_POLICY_HEADER = CONTENT_SECURITY_POLICY + "; frame-ancestors 'none'"


def esc(text: str) -> str:
    """Text or a URL made safe for element content and double-quoted attribute values."""
    return html.escape(text, quote=True)


def display_date(moment: datetime | None) -> str:
    """``2024-05-01 09:30 UTC``: digits only, so no locale changes a byte."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "—"


def time_element(moment: datetime) -> str:
    """A ``<time>`` with a machine-readable RFC 3339 value and the :func:`display_date` text."""
    stamp = moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return f'<time datetime="{stamp}">{display_date(moment)}</time>'


def page_document(*, language: str, title: str, head: str, body: str, script: bool) -> bytes:
    """A whole page: doctype, head (charset, viewport, CSP, title, ``head``, stylesheet), then ``body``.

    ``title`` is text (escaped here); ``head`` and ``body`` are markup the caller
    escaped. ``script``: whether the page carries :data:`SCRIPT` (at the end of
    the body, so it runs over the finished markup).
    """
    tail = f"<script>{SCRIPT}</script>\n" if script else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CONTENT_SECURITY_POLICY)}">\n'
        '<meta name="referrer" content="strict-origin-when-cross-origin">\n'
        f"<title>{esc(title)}</title>\n{head}<style>{STYLESHEET}</style>\n</head>\n"
        f'<body>\n<a class="skip" href="#main">Skip to the content</a>\n{body}{tail}</body>\n</html>\n'
    ).encode()
