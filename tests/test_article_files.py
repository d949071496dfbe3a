"""The walk of an articles folder: path order, no dot names, symlinks only inside, and what it leaves out named."""

from __future__ import annotations

import os
from pathlib import Path

from feeds.config import Settings
from feeds.read.article_files import MAX_FOLDER_DEPTH, find_article_files
from feeds.read.reader import read_folder
from tests.test_reader import _story, _tree, deep_folder


def test_walk_is_sorted_recursive_and_skips_dot_names(tmp_path: Path) -> None:
    _tree(tmp_path, ["b.md", "a.md", "sub/z.md", "sub/deeper/y.md", ".hidden.md", ".git/x.md", "sub/.draft.md"])
    found = [p.relative_to(tmp_path).as_posix() for p in find_article_files(tmp_path)]
    assert found == ["a.md", "b.md", "sub/deeper/y.md", "sub/z.md"]
    assert [a.source for a in read_folder(tmp_path, Settings()).articles] == found


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    _tree(tmp_path, ["sub/a.md"])
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    os.symlink(tmp_path / "sub", tmp_path / "sub" / "self")
    found = [p.relative_to(tmp_path).as_posix() for p in find_article_files(tmp_path)]
    assert found == ["sub/a.md"]


def test_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    _tree(outside, ["secret.md", "dir/secret2.md"])
    _tree(root, ["in.md"])
    os.symlink(outside / "secret.md", root / "file-link.md")
    os.symlink(outside / "dir", root / "dir-link")
    os.symlink(root / "in.md", root / "inside-link.md")
    found = [p.relative_to(root).as_posix() for p in find_article_files(root)]
    assert found == ["in.md", "inside-link.md"]


def test_a_folder_deeper_than_the_limit_is_a_named_problem_not_a_recursion_error(tmp_path: Path) -> None:
    """Issue 16: a 1,000-deep folder raised RecursionError out of every scan."""
    _tree(tmp_path, ["a.md", "/".join(["d"] * (MAX_FOLDER_DEPTH - 1)) + "/kept.md"])
    with deep_folder(tmp_path, 1000) as deep:
        (deep / "bottom.md").write_bytes(_story("https://example.com/bottom"))
        folder = read_folder(tmp_path, Settings())
    assert [a.source for a in folder.articles] == ["a.md", "/".join(["d"] * (MAX_FOLDER_DEPTH - 1)) + "/kept.md"]
    [problem] = folder.problems
    assert problem.is_error and problem.path == "/".join(["d"] * MAX_FOLDER_DEPTH)
    assert f"more than {MAX_FOLDER_DEPTH} deep" in problem.message


def test_files_past_the_limit_are_a_named_problem_not_silently_dropped(tmp_path: Path, monkeypatch) -> None:
    """Issue 20: the 1,000,001st file of a million-article folder (a new article, sorting last) vanished unreported."""
    monkeypatch.setattr("feeds.read.article_files.MAX_FILES", 3)
    _tree(tmp_path, ["a.md", "b.md", "c/d.md", "c/e.md", "f.md"])
    folder = read_folder(tmp_path, Settings())
    assert [a.source for a in folder.articles] == ["a.md", "b.md", "c/d.md"]
    [problem] = folder.problems
    assert problem.is_error and problem.path == "c/e.md"
    assert "more than 3 article files" in problem.message and "left out" in problem.message


def test_undecodable_file_name_prints_on_one_line(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff\nname.md")
    (tmp_path / name).write_bytes(b"no front matter")
    [problem] = read_folder(tmp_path, Settings()).problems
    assert "\n" not in str(problem) and str(problem).encode("utf-8")
    assert problem.path == "bad\ufffd\\nname.md"


def test_what_the_walk_cannot_read_is_named_never_silently_left_out(tmp_path: Path) -> None:
    """A symlink out of the folder (to a file or a folder), a broken or looping symlink and a FIFO were left
    out without a word: an article gone from the feeds, and `feeds check` said all was well."""
    outside, root = tmp_path / "outside", tmp_path / "root"
    _tree(outside, ["secret.md", "dir/secret2.md"])
    _tree(root, ["in.md", "sub/kept.md"])
    os.symlink(outside / "secret.md", root / "file-link.md")
    os.symlink(outside / "dir", root / "sub" / "dir-link")
    os.symlink(root / "in.md", root / "inside-link.md")
    os.symlink(root / "gone.md", root / "broken.md")
    os.symlink("loop-b.md", root / "loop-a.md")
    os.symlink("loop-a.md", root / "loop-b.md")
    os.mkfifo(root / "fifo.md")
    os.symlink(root, root / "sub" / "self")  # a folder already walked: no article is lost, nothing to say
    folder = read_folder(root, Settings())
    assert [a.source for a in folder.articles] == ["in.md", "sub/kept.md"]  # inside-link.md: in.md's duplicate
    named = {p.path: p.message for p in folder.problems if p.is_error}
    assert named == {
        "broken.md": "is not a regular file (a FIFO, socket, device or broken symlink); not read",
        "fifo.md": "is not a regular file (a FIFO, socket, device or broken symlink); not read",
        "loop-a.md": "cannot be read (Too many levels of symbolic links); not read",
        "loop-b.md": "cannot be read (Too many levels of symbolic links); not read",
    }
    # a link out of the folder may be the owner's choice: named as a warning, which leaves the exit status alone
    out = "is a symlink out of the articles folder; not read (articles are read only from inside it)"
    warned = {p.path: p.message for p in folder.problems if not p.is_error}
    assert warned == {"file-link.md": out, "sub/dir-link": out, "inside-link.md": warned["inside-link.md"]}
