"""The ``feeds`` command's contract: exit 0/1/2, one line per problem, a summary, no tracebacks.

A missing articles folder exits 2: DESIGN gives 1 to "the work was done but
problems were found" and 2 to bad usage or bad config, and a folder that is not
there (from --articles or the config's articles_dir) means no work could be done.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from feeds.cli import build_parser, main
from tests.conftest import BASE_URL, PROJECT, SAMPLES
from tests.test_reader import CASES, deep_folder

LINE = re.compile(r"^(?P<path>[^\n]+?)(?::(?P<line>\d+))?: (?P<severity>error|warning): (?P<message>.+)$")
SUMMARY = re.compile(
    r"^(?P<articles>\d+) articles( \((?P<unpublished>\d+) unpublished, not in feeds\))?, "
    r"(?P<errors>\d+) errors, (?P<warnings>\d+) warnings in (?P<files>\d+) files \(\d+\.\d\ds\)$"
)


def run(*args: str, cwd: Path = PROJECT, cache: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, with its parse cache kept out of $HOME."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "feeds.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _parse_check_output(stdout: str) -> tuple[list[re.Match[str]], re.Match[str]]:
    *lines, last = stdout.rstrip("\n").split("\n") if stdout.strip() else [""]
    problems = [LINE.match(line) for line in lines]
    assert all(problems), [line for line, m in zip(lines, problems, strict=True) if not m]
    summary = SUMMARY.match(last)
    assert summary, last
    return problems, summary  # type: ignore[return-value]


def test_check_samples_exits_0(tmp_path: Path) -> None:
    done = run("check", "--articles", str(SAMPLES), cache=tmp_path)
    assert done.returncode == 0, done.stderr
    problems, summary = _parse_check_output(done.stdout)
    assert summary["errors"] == "0" and int(summary["files"]) >= 15
    assert int(summary["articles"]) == int(summary["files"])
    assert int(summary["unpublished"]) >= 2
    assert all(p["severity"] == "warning" for p in problems)
    assert done.stderr == ""


def test_check_uses_the_default_config(tmp_path: Path) -> None:
    done = run("check", cache=tmp_path)
    assert done.returncode == 0, done.stderr
    _, summary = _parse_check_output(done.stdout)
    assert int(summary["files"]) == len([p for p in SAMPLES.iterdir() if not p.name.startswith(".")])


def test_check_with_an_error_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    (articles / "good.md").write_text(
        "---\ntitle: Good\noriginalUrl: https://e.com/g\npublishedDateTime: 2024-01-01\n---\n"
    )
    (articles / "bad.md").write_text("---\ntitle: Bad\noriginalUrl: https://e.com/b\n---\n")
    code = main(["check", "--no-cache", "--articles", str(articles)])
    out = capsys.readouterr().out
    assert code == 1
    problems, summary = _parse_check_output(out)
    assert [(p["path"], p["line"], p["severity"]) for p in problems] == [("bad.md", None, "error")]
    assert "publishedDateTime" in problems[0]["message"]
    assert (summary["articles"], summary["errors"], summary["files"]) == ("1", "1", "2")


def test_check_and_export_name_a_1000_deep_folder_and_a_fifo_instead_of_a_traceback(tmp_path: Path) -> None:
    """Issue 16: both printed a RecursionError traceback for the deep folder."""
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    os.mkfifo(articles / "fifo.md")  # not a regular file: not listed, never opened
    with deep_folder(articles, 1000) as deep:
        (deep / "bottom.md").write_text("---\ntitle: Too deep\n---\n")
        checked = run("check", "--articles", str(articles), cache=tmp_path / "cache")
        exported = run("export", "--articles", str(articles), "--base-url", BASE_URL, str(tmp_path / "out"),
                       cache=tmp_path / "cache")  # fmt: skip
    assert checked.returncode == 1 and "Traceback" not in checked.stderr + checked.stdout
    deep_name = "/".join(["d"] * 32)
    assert f"{deep_name}: error: folders nest more than 32 deep" in checked.stdout
    assert "Traceback" not in exported.stderr + exported.stdout and (tmp_path / "out" / "all.rss").is_file()


@pytest.mark.parametrize(
    ("args", "config", "stderr"),
    [
        (["check", "--articles", "{tmp}/missing"], None, "--articles: error: key 'articles_dir'"),
        (["check"], "articles_dir: nowhere\n", "feeds.yaml: error: key 'articles_dir'"),
        (["check"], "colour: blue\n", "feeds.yaml: error: key 'colour': unknown key"),
        (["check"], "items_per_feed: lots\n", "feeds.yaml: error: key 'items_per_feed'"),
        (["check"], "a: [\n", "is not valid YAML"),
        (["check", "--config", "{tmp}/none.yaml"], None, "cannot read the config file"),
        (["export", "--base-url", "ftp://x/", "{tmp}/out"], None, "--base-url: error: key 'base_url'"),
        (["check", "--bogus"], None, "unrecognized arguments: --bogus"),
        (["frobnicate"], None, "invalid choice"),
        ([], None, "required"),
        (["serve", "--port", "eighty"], None, "invalid int value"),
    ],
)
def test_bad_usage_or_config_exits_2(
    tmp_path: Path, args: list[str], config: str | None, stderr: str
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if config is not None:
        (tmp_path / "feeds.yaml").write_text(config)
        argv += ["--config", str(tmp_path / "feeds.yaml")]
    done = run(*argv, cache=tmp_path / "cache")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert stderr in done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == [lines[-1]]  # one message, last
    assert stderr in lines[-1]


def test_hostile_folder_never_gives_a_traceback(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    (articles / "sub").mkdir(parents=True)
    for index, (name, raw, _) in enumerate(CASES):
        (articles / ("sub" if index % 2 else "") / f"{name}.md").write_bytes(raw)
    (articles / os.fsdecode(b"odd\xffname\n.md")).write_bytes(b"---\n- x\n---\n")
    os.symlink(articles, articles / "sub" / "loop")
    os.symlink("/etc/passwd", articles / "passwd.md")
    done = run("check", "--articles", str(articles), cache=tmp_path / "cache")
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert done.returncode == 1
    problems, summary = _parse_check_output(done.stdout)
    assert int(summary["files"]) == len(CASES) + 1
    assert int(summary["errors"]) == sum(p["severity"] == "error" for p in problems)
    assert not any(p["path"].startswith("/") for p in problems)
    # the link is named (it was left out without a word), never read and its target never shown
    named = [p["message"] for p in problems if "passwd" in p["path"]]
    assert named == ["is a symlink out of the articles folder; not read (articles are read only from inside it)"]
    assert [p["severity"] for p in problems if "passwd" in p["path"]] == ["warning"]
    assert "/etc/passwd" not in done.stdout
    assert not any("internal error" in p["message"] for p in problems)


def _commands_and_options() -> dict[str, set[str]]:
    parser = build_parser()
    found: dict[str, set[str]] = {}
    for action in parser._actions:  # argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = {
                    option
                    for sub_action in sub._actions
                    for option in sub_action.option_strings
                    if option.startswith("--") and option != "--help"
                }
                found[name] |= {a.metavar for a in sub._actions if not a.option_strings and a.metavar}
    return found


def test_parser_has_the_design_contract() -> None:
    found = _commands_and_options()
    assert {"check", "export", "serve"} <= set(found)
    assert {"--articles", "--config"} <= found["check"]
    assert {"--articles", "--config", "--base-url", "OUT_DIR"} <= found["export"]
    assert {"--articles", "--config", "--base-url", "--host", "--port"} <= found["serve"]


def test_readme_documents_every_command_and_option() -> None:
    readme = PROJECT / "README.md"
    if not readme.exists():
        pytest.skip("README.md does not exist yet (the lead writes it)")
    text = readme.read_text(encoding="utf-8")
    missing = []
    for command, options in sorted(_commands_and_options().items()):
        if not re.search(rf"\bfeeds {re.escape(command)}\b", text):
            missing.append(f"feeds {command}")
        missing += [f"feeds {command} {option}" for option in sorted(options) if option not in text]
    assert not missing, f"README.md does not document: {', '.join(missing)}"


def test_export_summary_counts_the_feeds_over_max_feed_bytes(tmp_path: Path, capsys) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"base_url: https://feeds.example.org/\narticles_dir: {SAMPLES}\ncache_dir: {tmp_path / 'cache'}\n"
        "max_feed_bytes: 20000\n",
        encoding="utf-8",
    )
    assert main(["export", "--config", str(config), str(tmp_path / "out")]) == 0
    last = capsys.readouterr().out.rstrip("\n").split("\n")[-1]
    found = re.search(r", (\d+) feeds over max_feed_bytes: oldest items dropped, ", last)
    assert found, last
    over = [p for p in (tmp_path / "out").rglob("*") if p.suffix in (".rss", ".atom", ".json") and p.name[0] != "_"]
    assert int(found.group(1)) >= 1 and all(p.stat().st_size <= 20_000 for p in over)
    config.write_text(config.read_text(encoding="utf-8").replace("20000", "0"), encoding="utf-8")
    assert main(["export", "--config", str(config), str(tmp_path / "out")]) == 0
    assert "max_feed_bytes" not in capsys.readouterr().out


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    """`feeds check | head -1`: no BrokenPipeError traceback when the reader goes away."""
    script = (
        f"{sys.executable} -m feeds.cli check --articles {SAMPLES} | head -c 1 >/dev/null; "
        f"exit ${{PIPESTATUS[0]}}"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(["bash", "-c", script], cwd=PROJECT, capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.returncode in (0, 1)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux) to fill a disk on write")
def test_output_lost_to_a_full_disk_is_not_success(tmp_path: Path) -> None:
    """`feeds check > report` on a full disk: the report was not written, so the exit status says so."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "feeds.cli", "check", "--articles", str(SAMPLES)], cwd=PROJECT,
                              stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=60)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "No space left on device" in done.stderr


def test_an_unwritable_output_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    done = run("export", "--articles", str(SAMPLES), str(blocker / "out"), cache=tmp_path / "cache")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("feeds: error:")


def test_an_export_with_nothing_changed_reads_no_article_and_says_so(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    (articles / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    export = ("export", "--articles", str(articles), "--base-url", "https://feeds.example.org/", str(out))
    first = run(*export, cache=cache)
    assert first.returncode == 1 and "written" in first.stdout
    again = run(*export, cache=cache)
    assert again.returncode == 1  # the same verdict: the broken file is still there
    assert "nothing changed since the last export" in again.stdout
    assert [line for line in again.stderr.splitlines() if "broken.md" in line] == [
        line for line in first.stderr.splitlines() if "broken.md" in line
    ]
    (articles / "broken.md").unlink()  # any change to the inputs means a real export
    third = run(*export, cache=cache)
    assert third.returncode == 0 and "nothing changed" not in third.stdout and "written" in third.stdout
    other_base = run(*export[:-2], "https://elsewhere.example.org/", str(out), cache=cache)
    assert "nothing changed" not in other_base.stdout
    (out / "_manifest.json").unlink()  # a damaged export is never taken as current
    repaired = run(*export[:-2], "https://elsewhere.example.org/", str(out), cache=cache)
    assert "nothing changed" not in repaired.stdout and (out / "_manifest.json").is_file()


def test_a_damaged_parse_cache_never_changes_the_export(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    out, cache = tmp_path / "out", tmp_path / "cache"
    export = ("export", "--articles", str(articles), "--base-url", "https://feeds.example.org/", str(out))
    assert run(*export, cache=cache).returncode == 0
    databases = list(cache.rglob("parse-*.sqlite3"))
    assert databases
    for database in databases:  # damage every article's cached details
        with sqlite3.connect(database) as connection:
            connection.execute("UPDATE details SET packed = zeroblob(length(packed))")
    (articles / "zz-new.md").write_text("---\ntitle: New\noriginalUrl: https://n.example/a\n"
                                        "publishedDateTime: 2001-01-01T00:00:00Z\n---\n", encoding="utf-8")
    done = run(*export, cache=cache)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    fresh = tmp_path / "fresh"
    assert run(*export[:-1], "--no-cache", str(fresh), cache=tmp_path / "other").returncode == 0
    for name in ("all.rss", "all.atom", "all.json", "index.html"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes()
    assert run(*export, cache=cache).returncode == 0


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _watching(base: tuple[str, ...], out: Path, cache: Path) -> subprocess.Popen[str]:
    """`feeds export --watch` in a child process, once it says it is watching."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "feeds.cli", "export", *base, "--watch", str(out)],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert watcher.stderr is not None
    lines = [watcher.stderr.readline()]
    while "watching" not in lines[-1] and lines[-1] and len(lines) < 100:  # warnings of the samples first
        lines.append(watcher.stderr.readline())
    if "watching" not in lines[-1]:
        watcher.kill()
        watcher.communicate()
        raise AssertionError(lines)
    return watcher


def test_export_watch_exports_again_after_every_change(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    out, cache = tmp_path / "out", tmp_path / "cache"
    base = ("--articles", str(articles), "--base-url", "https://feeds.example.org/")
    watcher = _watching(base, out, cache)
    try:
        assert (out / "all.rss").is_file()
        (articles / "zz-watched.md").write_text(
            "---\ntitle: Seen by the watcher\noriginalUrl: https://w.example/a\n"
            "publishedDateTime: 2099-01-01T00:00:00Z\n---\n",
            encoding="utf-8",
        )
        assert _wait_for(lambda: b"Seen by the watcher" in (out / "all.rss").read_bytes())
        (articles / "zz-watched.md").unlink()
        assert _wait_for(lambda: b"Seen by the watcher" not in (out / "all.rss").read_bytes())
    finally:
        watcher.send_signal(signal.SIGTERM)
        stdout, _ = watcher.communicate(timeout=30)
    assert watcher.returncode == 0
    assert stdout.count("written") >= 3  # the first export, then one per change
    fresh = tmp_path / "fresh"
    assert run("export", *base, "--no-cache", str(fresh), cache=tmp_path / "other").returncode == 0
    for name in ("all.rss", "all.atom", "all.json", "index.html", "feeds.opml"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes(), name


def _files_as_they_are(out: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file of an export: (inode, mtime_ns, bytes), so a run that wrote nothing leaves it equal."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in out.rglob("*") if p.is_file()
    }  # fmt: skip


def test_the_first_export_after_export_watch_finds_nothing_changed(tmp_path: Path) -> None:
    """The watch records its last export's inputs when it stops (SIGTERM right after a change reached OUT_DIR):
    the next plain export reads no article, writes nothing and reports what a real export reports."""
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    (articles / "broken.md").write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")  # a problem to report
    (articles / "sub").mkdir()
    out, cache = tmp_path / "out", tmp_path / "cache"
    base = ("--articles", str(articles), "--base-url", "https://feeds.example.org/")
    watcher = _watching(base, out, cache)
    try:
        for name, title in (("zz-one.md", "First watched"), ("sub/zz-two.md", "Second watched")):
            (articles / name).write_text(
                f"---\ntitle: {title}\noriginalUrl: https://w.example/{name}\n"
                "publishedDateTime: 2099-01-01T00:00:00Z\n---\n", encoding="utf-8",
            )  # fmt: skip
            assert _wait_for(lambda title=title: title.encode() in (out / "all.rss").read_bytes())
        (articles / "zz-one.md").unlink()
        assert _wait_for(lambda: b"First watched" not in (out / "all.rss").read_bytes())
    finally:
        watcher.send_signal(signal.SIGTERM)  # right after the change reached OUT_DIR
        watcher.communicate(timeout=60)
    assert watcher.returncode == 0
    before = _files_as_they_are(out)
    export = ("export", *base, str(out))
    again = run(*export, cache=cache)
    assert again.returncode == 1 and "nothing changed since the last export" in again.stdout, again
    assert _files_as_they_are(out) == before  # nothing written, nothing replaced
    fresh = run("export", *base, "--no-cache", str(tmp_path / "fresh"), cache=tmp_path / "other")
    assert again.stderr.splitlines() == fresh.stderr.splitlines()  # the problems a real export reports
    assert again.stdout.split("(0 written), ")[1].split(",")[:3] == fresh.stdout.split("removed), ")[1].split(",")[:3]
    for name in ("all.rss", "all.atom", "all.json", "index.html", "feeds.opml"):
        assert (out / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (root only); skips where it cannot be mounted."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_exits_1_naming_out_dir_and_leaves_the_previous_export_intact(tmp_path, capsys):
    """Issue 16: it exited 2 (bad usage) naming no path and left the failed generation on the disk."""
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    with small_tmpfs(tmp_path / "disk", "3m") as disk:
        out = disk / "site"
        arguments = ["export", "--articles", str(articles), "--base-url", BASE_URL, str(out)]
        assert main(arguments) == 0
        before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        generations = sorted(p.name for p in (disk / ".site.d").iterdir())
        filler = disk / "filler"
        with filler.open("wb") as handle:  # leave the disk all but full
            try:
                while True:
                    handle.write(b"\0" * 65536)
            except OSError:
                pass
        for path in sorted(articles.glob("*.md"))[:3]:  # every feed changes: the export must write
            path.write_text(path.read_text().replace("title:", "title: Changed", 1))
        capsys.readouterr()
        assert main(arguments) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"feeds: error: {out}: cannot write the export (No space left on device)")
        assert "Traceback" not in error
        assert sorted(p.name for p in (disk / ".site.d").iterdir()) == generations  # no partial generation
        assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_the_command_ends_without_teardown_yet_loses_no_output(tmp_path: Path) -> None:
    """`feeds.cli.run` ends the process with os._exit (issue 20): block-buffered output still arrives whole,
    the exit status is main's, and what the run wrote (the export, its records, the parse cache) is complete."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    export = [sys.executable, "-m", "feeds.cli", "export", "--articles", str(SAMPLES), str(tmp_path / "out")]
    first = subprocess.run(export, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode in (0, 1) and " written" in first.stdout and first.stdout.endswith("\n"), first
    again = subprocess.run(export, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == first.returncode and "nothing changed" in again.stdout, again
    lines = subprocess.run([sys.executable, "-m", "feeds.cli", "check", "--articles", str(SAMPLES)], cwd=PROJECT,
                           capture_output=True, text=True, env=env, timeout=120).stdout.splitlines()  # fmt: skip
    assert len(lines) > 1 and SUMMARY.match(lines[-1]), lines[-3:]


def test_an_export_keeps_what_it_loaded_out_of_the_collectors_walks(tmp_path: Path) -> None:
    """The command (the process's owner, not the library) freezes what a run loaded, so no full collection
    walks it again (issue 20: ~0.5 s of a one-change export at 100k); a run that reads nothing freezes nothing."""
    probe = (
        "import gc, sys, feeds.cli; status = feeds.cli.main(sys.argv[1:]); "
        "print(status, gc.get_freeze_count() > 0)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    export = [sys.executable, "-c", probe, "export", "--articles", str(SAMPLES), str(tmp_path / "out")]
    first = subprocess.run(export, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120)
    assert first.stdout.splitlines()[-1] in ("0 True", "1 True"), first
    again = subprocess.run(export, cwd=PROJECT, capture_output=True, text=True, env=env, timeout=120)
    assert "nothing changed" in again.stdout and again.stdout.splitlines()[-1].endswith(" False"), again
