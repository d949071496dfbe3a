"""Fuzz the reader: generated front matter through ``read_article``, counting what must never happen.

    python tools/fuzz_reader.py --count 1000000 [--seed 15] [--start 0] [--show I] [--save DIR]

Structure-aware (issue 15): each input is an article file built from the real
field names (nested ones too: ``images[].isCached``, ``related[].provider.name``)
with nasty values: every YAML tag, anchors and aliases, merge keys, unhashable
keys, integers past Python's 4,300-digit limit, long strings, control characters,
entities, mojibake, odd dates and URLs; one input in eight is then damaged byte by
byte (flips, cuts, BOMs, CRLF, Windows-1252) to reach the parser's errors.

Input ``i`` of seed ``s`` depends on ``(s, i)`` alone, so ``--start I --count 1``
or ``--show I`` replays it. Each input is written to a file (in /dev/shm when
there is one) and read like any article. Counted, with the first few examples:
"internal error" problems and exceptions that escaped ``read_article`` (our bugs),
problems that are not one line, articles that break the reader's guarantees,
and inputs that took more than a second of CPU time (CPU, not wall-clock time: on a
shared machine the wall clock measures the neighbours; an input still running after
``--limit`` CPU seconds is interrupted and counted too). The exit status is 1 if
any of these happened, else 0. Peak memory is the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.config import Settings  # noqa: E402 - after the path set-up, so the tool runs from a checkout
from feeds.read.reader import read_article  # noqa: E402

SLOW_SECONDS = 1.0
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PROBLEM_LINE = re.compile(r"^[^\n]+?(:\d+)?: (error|warning): [^\n]+$")

TOP_FIELDS = ["title", "excerpt", "publishedDateTime", "originalUrl", "webUrl", "ampWebUrl", "cdnAmpWebUrl",
              "type", "quality", "heat", "published", "provider", "topics", "images", "related",
              "featuredContent", "secured", "category"]  # fmt: skip
GOOD = {"title": ["T", "'It&#8217;s here'"], "originalUrl": ["https://e.com/a", "'https://e.com/b?x=1&#038;y=2'"],
        "publishedDateTime": ["2024-03-14T10:00:00Z", "'2024-03-14T10:00:00.250+02:00'"]}
IMAGE_FIELDS = ["url", "width", "height", "isCached", "title", "attribution"]
RELATED_FIELDS = ["title", "webUrl", "originalUrl", "excerpt", "publishedDateTime", "provider", "images"]
PROVIDER_FIELDS = ["name", "domain"]
TAGS = ["!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!!str", "!!set", "!!omap", "!!pairs",
        "!!map", "!!seq", "!Foo", "!", "!!python/object/apply:os.system", "!!python/name:os.getcwd",
        "!<tag:yaml.org,2002:int>", "!!value", "!!merge"]  # fmt: skip
WORDS = ["maybe", "soon", "abc", "yes", "No", "ON", "~", "null", "=", "<<", "0x1F", "0o17", "0b101", "1:30",
         "-1:30:00", "1_000", ".nan", "-.inf", "1e309", "12", "-0", "2024-02-30", "0000-01-01", "2024-03-14",
         "2024-03-14T10:00:00.123456789Z", "Thu, 14 Mar 2024 09:30:00 EST", "March 2024", "1710410400",
         "aGVsbG8=", "aGVsbG8", "true", "", "☃", "\u00b2", "١٢٣"]  # fmt: skip
URLS = ["https://e.com/a", "http://E.COM:80/a?b=1&amp;c=2", "https://bgr.com/x.jpg?quality=70&#038;strip=all",
        "//cdn.e.com/i.png", "/rel/i.jpg", "rel.jpg", "javascript:alert(1)", "data:text/html,<b>x</b>",
        "https://Bücher.example/ä?q=ü", "https://[::1", "https://u:p@e.com/", "https://e.com/a b",
        "https://img-s-msn-com.akamaized.net/tenant/amp/entityid/AA1b1ddI.img?h=630&w=1200&f=jpg",
        "https://e.com/" + "a" * 2100, "http://xn--.com/", "https://e.com/#frag", "ftp://e.com/"]  # fmt: skip
TEXTS = ["It&#8217;s", "we&amp;amp;re", "itâ€™s", "say â€\x9dhi", "<b>bold</b><script>x</script>",
         "&lt;i&gt;x", "a\u2028b", "\u202eevil", "tab\there", "emoji 😀", "\ufeffbom", "&#0;", "&#xD800;",
         "&#1114112;", "&bogus;", "\\x85", "line\\nbreak"]  # fmt: skip


class Generator:
    """The front matter of one input, drawn from ``rng``: real field names, nasty values."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.anchors: list[str] = []
        self.budget = 200  # values per document, so most stay small; sizes come from the long values

    def document(self) -> str:
        rng = self.rng
        fields = ["title", "originalUrl", "publishedDateTime"] if rng.random() < 0.8 else []
        fields += rng.sample(TOP_FIELDS, rng.randrange(len(TOP_FIELDS)))
        if rng.random() < 0.3:
            fields.append(rng.choice(["someFutureKey", "isCached", "x", "<<", "=", "? [a, b]", "? {a: 1}", "1"]))
        lines = []
        for field in fields:
            value = self.value_for(field, 0)
            lines.append(f"{field}: {value}" if not field.startswith("?") else f"{field}\n: {value}")
        if rng.random() < 0.01:  # a merge key at the top, to a mapping defined before it
            lines.insert(0, "base: &base {title: Merged, heat: 1}")
            lines.append("<<: *base")
        return "\n".join(lines) + "\n"

    def value_for(self, field: str, depth: int) -> str:
        rng = self.rng
        self.budget -= 1
        if self.budget <= 0 or depth > 6:
            return self.scalar()
        if field in GOOD and rng.random() < 0.75:  # mostly an article, so that the other fields are read
            return rng.choice(GOOD[field])
        roll = rng.random()
        if roll < 0.08 and self.anchors:
            return "*" + rng.choice(self.anchors)  # an alias of anything anchored so far
        if roll < 0.15:
            return self.nasty(depth)
        if field in ("images", "related"):
            fields = IMAGE_FIELDS if field == "images" else RELATED_FIELDS
            items = [self.mapping(fields, depth + 1) for _ in range(rng.randrange(4))]
            return self.anchored("[" + ", ".join(items) + "]")
        if field == "provider":
            return self.anchored(self.mapping(PROVIDER_FIELDS, depth + 1))
        if field == "topics":
            return self.anchored("[" + ", ".join(self.scalar() for _ in range(rng.randrange(6))) + "]")
        return self.scalar(field)

    def mapping(self, fields: list[str], depth: int) -> str:
        chosen = self.rng.sample(fields, self.rng.randrange(len(fields) + 1))
        return self.anchored("{" + ", ".join(f"{f}: {self.value_for(f, depth)}" for f in chosen) + "}")

    def anchored(self, text: str) -> str:
        if self.rng.random() < 0.15:
            name = f"a{len(self.anchors)}"
            self.anchors.append(name)
            return f"&{name} {text}"
        return text

    def scalar(self, field: str = "") -> str:
        rng = self.rng
        roll = rng.random()
        if field.endswith(("Url", "url")) and roll < 0.7:
            return _quoted(rng.choice(URLS))
        if field == "publishedDateTime" and roll < 0.7:
            return rng.choice(["2024-03-14T10:00:00Z", "2024-03-14T10:00:00.5+02:00", "'2024-03-14 10:00'",
                               "1710410400", "2024-03-14"])  # fmt: skip
        if roll < 0.25:
            return _flow(rng.choice(WORDS))
        if roll < 0.45:
            return _quoted(rng.choice(TEXTS))
        if roll < 0.55:
            return str(rng.randrange(-(10**15), 10**15))
        if roll < 0.6:
            return _quoted("".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 20))))
        return _flow(rng.choice(["T", "Title words", "https://e.com/p", "p.com", "AI", "video", "12.5", "Q&A: 3 < 4"]))

    def nasty(self, depth: int) -> str:
        rng = self.rng
        roll = rng.randrange(12)
        if roll == 0:  # integers Python cannot read or print, in every base
            digits = rng.choice([4299, 4300, 4301, 5000, 20_000])
            return rng.choice(["", "-", "+"]) + rng.choice(["9" * digits, "0x" + "f" * digits, "1:" * digits + "1"])
        if roll == 1:
            return f"{rng.choice(TAGS)} {self.scalar()}"  # a tagged scalar
        if roll == 2:  # a tagged collection, perhaps with "=" keys or holding aliases
            inner = ", ".join(self.value_for("x", depth + 1) for _ in range(rng.randrange(3)))
            return f"{rng.choice(TAGS)} " + rng.choice(["[" + inner + "]", "{" + inner + "}", "{=: x}", "[a: 1]"])
        if roll == 3:
            return "{? [a, b]: x, ? {c: d}: y}"  # unhashable keys
        if roll == 4:
            return "{<<: " + (("*" + rng.choice(self.anchors)) if self.anchors else "{a: 1}") + ", b: 2}"
        if roll == 5:  # long text: the size bounds
            size = rng.choice([100, 1_000, 10_000]) if rng.randrange(40) else 60_000  # ~800 KB: 1 in 40
            return _quoted(rng.choice(TEXTS + ["word "]) * size)
        if roll == 6:
            return "[" * (d := rng.randrange(1, 300)) + "x" + "]" * d
        if roll == 7:
            return "|\n" + "".join(f"  {self.scalar()}\n" for _ in range(rng.randrange(1, 4))).rstrip("\n")
        if roll == 8:
            return _quoted("".join(rng.choice("\\x00\\x0b\\x1f\\x85\\ud800\\ufffe\\U0010ffff\\t\\n\\r\" ")
                                   for _ in range(rng.randrange(1, 12))))  # fmt: skip
        if roll == 9:
            return rng.choice(["{}", "[]", "null", "~", "''", '""', "[null]", "[[]]", "{a: {}}"])
        if roll == 10:
            return self.anchored("[" + ", ".join(self.scalar() for _ in range(rng.randrange(60))) + "]")
        return str(rng.choice([1e308, -1e-308, 2**63, -(2**64), 10**300]))


_PLAIN = re.compile(r"[A-Za-z0-9=<~.+\-][^,\[\]{}#\n]*")


def _flow(word: str) -> str:
    """A word as a flow-context scalar: plain when YAML reads it plain there, else quoted."""
    if word == "":
        return "null"
    if _PLAIN.fullmatch(word) and ": " not in word and not word.endswith((":", " ")):
        return word
    return _quoted(word)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if "\\x" not in text else '"' + text + '"'


def damaged(raw: bytes, rng: random.Random) -> bytes:
    """The file's bytes after one kind of damage: what a disk, an editor or a bad export does."""
    roll = rng.randrange(8)
    if roll == 0:
        at = rng.randrange(len(raw))
        return raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
    if roll == 1:
        return raw[: rng.randrange(len(raw))]  # cut short, maybe before the closing line
    if roll == 2:
        return b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n")
    if roll == 3:
        return raw.decode("utf-8", "replace").encode("cp1252", "replace")
    if roll == 4:
        at = rng.randrange(len(raw))
        return raw[:at] + rng.choice([b"\x00", b"\t", b"\r", b"\xff\xfe", b"\xc3", b"---\n", b"\n  ", b": "]) + raw[at:]
    if roll == 5:
        return raw.replace(b"\n", b"\n" + b" " * rng.randrange(1, 4), 1)
    if roll == 6:
        return raw + b"body " * rng.randrange(100_000, 300_000)  # past the size limit, some of them
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


def make_input(seed: int, index: int) -> bytes:
    rng = random.Random(seed * 1_000_003 + index)
    text = Generator(rng).document()
    raw = b"---\n" + text.encode("utf-8", "surrogatepass") + b"---\n" + b"Body text.\n"
    return damaged(raw, rng) if rng.random() < 0.125 else raw


class _Interrupted(Exception):
    """An input ran longer than the limit."""


def _interrupt(signum: int, frame: object) -> None:
    raise _Interrupted


def check(result: object) -> str | None:
    """What is wrong with a read result (None: nothing)."""
    for problem in result.problems:
        if "internal error" in problem.message:
            return f"internal error: {problem}"
        if not _PROBLEM_LINE.match(str(problem)):
            return f"problem not on one line: {str(problem)[:200]!r}"
    article = result.article
    if article is not None:
        for text in (article.title, article.summary, *article.topics):
            if _XML_ILLEGAL.search(text):
                return f"XML-illegal character kept: {text[:80]!r}"
        for url in (article.link, *(image.url for image in article.images)):
            if not re.match(r"https?://[a-z0-9.\-]+(:\d+)?/", url):
                return f"unclean URL kept: {url[:80]!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="how many inputs (default 10,000)")
    parser.add_argument("--seed", type=int, default=15, help="the campaign's seed (default 15)")
    parser.add_argument("--start", type=int, default=0, help="the first input's index (default 0)")
    parser.add_argument("--limit", type=float, default=30.0, help="CPU seconds before an input is interrupted")
    parser.add_argument("--show", type=int, metavar="I", help="print input I of the seed and exit")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the failing and slow inputs into DIR")
    parser.add_argument("--progress", type=int, default=0, metavar="N", help="a progress line every N inputs")
    args = parser.parse_args(argv)
    if args.show is not None:
        sys.stdout.buffer.write(make_input(args.seed, args.show))
        return 0
    settings = Settings()
    folder = Path(tempfile.mkdtemp(prefix="fuzz-reader-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    path = folder / "article.md"
    counts = {"articles": 0, "errors": 0, "failures": 0, "slow": 0}
    examples: list[str] = []
    slowest = (0.0, -1)
    signal.signal(signal.SIGPROF, _interrupt)
    started = time.perf_counter()
    try:
        for index in range(args.start, args.start + args.count):
            raw = make_input(args.seed, index)
            path.write_bytes(raw)
            began = time.process_time()
            signal.setitimer(signal.ITIMER_PROF, args.limit)
            try:
                result = read_article(path, settings, root=folder)
                failure = check(result)
            except _Interrupted:
                result, failure = None, f"still running after {args.limit} s"
            except Exception as exc:  # noqa: BLE001 - what escaped read_article is what we count
                result, failure = None, f"raised {type(exc).__name__}: {exc}"[:300]
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            took = time.process_time() - began
            slowest = max(slowest, (took, index))
            counts["slow"] += took > SLOW_SECONDS
            if result is not None:
                counts["articles"] += result.article is not None
                counts["errors"] += any(p.is_error for p in result.problems)
            if failure or took > SLOW_SECONDS:
                if args.save:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"input-{args.seed}-{index}.md").write_bytes(raw)
            if failure:
                counts["failures"] += 1
                if len(examples) < 10:
                    examples.append(f"input {index}: {failure}")
            if args.progress and (index - args.start + 1) % args.progress == 0:
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                elapsed = time.perf_counter() - started
                print(f"{index - args.start + 1} inputs, {counts['failures']} failures, {counts['slow']} over "
                      f"{SLOW_SECONDS:g} s of CPU, peak RSS {peak:.0f} MB, {elapsed:.0f} s", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"inputs: {args.count} (seed {args.seed}, from {args.start}); articles kept: {counts['articles']}; "
          f"inputs with an error: {counts['errors']}")  # fmt: skip
    print(f"internal errors and other failures: {counts['failures']}; over {SLOW_SECONDS:g} s of CPU: {counts['slow']} "
          f"(slowest {slowest[0]:.3f} s, input {slowest[1]})")  # fmt: skip
    print(f"peak RSS: {peak_mb:.0f} MB; time: {elapsed:.0f} s, {time.process_time():.0f} s of CPU "
          f"({args.count / time.process_time():.0f} inputs per CPU second); "
          f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    for example in examples:
        print(example)
    return 1 if counts["failures"] or counts["slow"] else 0


if __name__ == "__main__":
    sys.exit(main())
