"""What a folder holds: walk's files and folders (None for a symlink, FIFO or socket), and the one-question helpers."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from feeds.folder.listing import conflicts, entry_stat, holds_exactly, list_files, stat_of, walk, walk_or_none

TREE = ("a.rss", ".hidden", "topics/ai.rss", "topics/ai.json", "archive/topics/ai/1.rss", "archive/topics/ai/2.rss")


def make(root: Path, files: tuple[str, ...] | list[str], folders: tuple[str, ...] = ()) -> Path:
    """``files`` (each holding its own name) and ``folders`` under ``root``, parents made as needed."""
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def symlink_to_file(path: Path) -> None:
    (path.parent / "target.txt").write_text("target")
    path.symlink_to(path.parent / "target.txt")


def symlink_to_folder(path: Path) -> None:
    make(path.parent / "target", ["inside.txt"])
    path.symlink_to(path.parent / "target", target_is_directory=True)


def dangling_symlink(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere")


def fifo(path: Path) -> None:
    os.mkfifo(path)


def unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as bound:  # a relative name: tmp_path may be longer than sun_path's 108 bytes
        cwd = os.getcwd()
        os.chdir(path.parent)
        try:
            bound.bind(path.name)
        finally:
            os.chdir(cwd)


def test_an_empty_folder_walks_to_no_files_and_no_folders(tmp_path: Path) -> None:
    assert walk(str(tmp_path)) == ({}, [])


def test_a_nested_tree_walks_to_relative_slash_separated_names_and_every_folder(tmp_path: Path) -> None:
    make(tmp_path, TREE, folders=("empty", "archive/empty"))
    files, folders = walk(str(tmp_path))
    assert sorted(files) == sorted(TREE)  # dot names too; no folder among the files
    assert sorted(folders) == ["archive", "archive/empty", "archive/topics", "archive/topics/ai", "empty", "topics"]


def test_each_file_maps_to_its_inode_by_default(tmp_path: Path) -> None:
    make(tmp_path, TREE)
    os.link(tmp_path / "a.rss", tmp_path / "topics" / "hard-link.rss")
    files, _ = walk(str(tmp_path))
    assert files == {name: os.stat(tmp_path / name, follow_symlinks=False).st_ino for name in files}
    assert files["a.rss"] == files["topics/hard-link.rss"] and len(set(files.values())) == len(files) - 1


def test_value_gives_what_each_file_maps_to(tmp_path: Path) -> None:
    make(tmp_path, TREE)
    files, folders = walk(str(tmp_path), lambda entry: entry.name.upper())
    assert files == {name: name.rpartition("/")[2].upper() for name in TREE}
    assert sorted(folders) == sorted(walk(str(tmp_path))[1])


def test_entry_stat_gives_each_files_size_and_mtime_ns_as_stat_of_does(tmp_path: Path) -> None:
    make(tmp_path, TREE)
    os.utime(tmp_path / "topics/ai.rss", ns=(1, 1_700_000_000_123_456_789))
    files, _ = walk(str(tmp_path), entry_stat)
    assert files == {name: stat_of(tmp_path / name) for name in TREE}
    assert files["topics/ai.rss"] == [len("topics/ai.rss"), 1_700_000_000_123_456_789]


@pytest.mark.parametrize(
    "maker",
    [
        symlink_to_file,
        symlink_to_folder,
        dangling_symlink,
        fifo,
        unix_socket,
    ],
)
@pytest.mark.parametrize("where", ["", "archive/topics/"])
def test_anything_neither_a_plain_file_nor_a_folder_makes_the_walk_none(tmp_path: Path, maker, where: str) -> None:
    root = make(tmp_path / "root", TREE)
    maker(root / f"{where}odd")
    assert walk(str(root)) is None
    assert walk(str(root), entry_stat) is None
    assert walk_or_none(root) is None


def test_walk_raises_where_the_folder_cannot_be_listed_and_walk_or_none_gives_none(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):  # what walk_or_none's "None too" turns into None
        walk(str(tmp_path / "gone"))
    assert walk_or_none(tmp_path / "gone") is None


@pytest.mark.parametrize(
    "root",
    [
        "gone",
        "gone/deeper",
        "a.rss",
        "a.rss/under-a-file",
    ],
)
def test_walk_or_none_gives_none_for_a_root_that_cannot_be_listed(tmp_path: Path, root: str) -> None:
    make(tmp_path, ["a.rss"])
    assert walk_or_none(tmp_path / root) is None
    assert walk_or_none(tmp_path / root, entry_stat) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists every folder: an unreadable folder cannot be made")
@pytest.mark.parametrize("locked", ["", "archive/topics"])
def test_walk_or_none_gives_none_for_a_folder_that_cannot_be_read(tmp_path: Path, locked: str) -> None:
    root = make(tmp_path / "root", TREE)
    (root / locked).chmod(0)
    try:
        with pytest.raises(PermissionError):
            walk(str(root))
        assert walk_or_none(root) is None
    finally:
        (root / locked).chmod(0o755)


def test_walk_or_none_of_a_listable_folder_is_walk(tmp_path: Path) -> None:
    make(tmp_path, TREE)
    assert walk_or_none(tmp_path) == walk(str(tmp_path))
    assert walk_or_none(tmp_path, entry_stat) == walk(str(tmp_path), entry_stat)


def test_stat_of_a_file_is_its_size_and_mtime_ns_as_a_list(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_bytes(b"12345")
    os.utime(tmp_path / "a.rss", ns=(1, 1_600_000_000_000_000_007))
    assert stat_of(tmp_path / "a.rss") == [5, 1_600_000_000_000_000_007]
    assert stat_of(str(tmp_path / "a.rss")) == [5, 1_600_000_000_000_000_007]  # a str path too


@pytest.mark.parametrize(
    "path",
    [
        "gone",
        "gone/deeper",
        "a.rss/under-a-file",
        "dangling",
    ],
)
def test_stat_of_a_path_that_is_gone_is_none(tmp_path: Path, path: str) -> None:
    make(tmp_path, ["a.rss"])
    dangling_symlink(tmp_path / "dangling")
    assert stat_of(tmp_path / path) is None


def test_stat_of_a_folder_is_the_folders_own_size_and_mtime_ns(tmp_path: Path) -> None:
    make(tmp_path, ["topics/ai.rss"])
    found = os.stat(tmp_path / "topics")
    assert stat_of(tmp_path / "topics") == [found.st_size, found.st_mtime_ns]


def test_list_files_names_every_file_under_the_root_relative_and_slash_separated(tmp_path: Path) -> None:
    make(tmp_path, TREE, folders=("empty", "archive/empty"))
    os.mkfifo(tmp_path / "topics" / "fifo")
    assert list_files(tmp_path) == set(TREE)  # no folder, no FIFO
    assert list_files(tmp_path / "archive") == {"topics/ai/1.rss", "topics/ai/2.rss"}
    assert list_files(tmp_path / "empty") == set()


@pytest.mark.parametrize(
    ("extra", "names", "expected"),
    [
        ((), set(TREE), True),
        ((), set(), False),
        ((), set(TREE) - {"topics/ai.rss"}, False),
        ((), set(TREE) | {"topics/new.rss"}, False),
        ((), set(TREE) | {"topics"}, False),
        (("extra.rss",), set(TREE), False),
        (("archive/topics/ai/3.rss",), set(TREE), False),
    ],
)
def test_holds_exactly_is_true_only_for_those_files(tmp_path: Path, extra: tuple, names: set, expected: bool) -> None:
    make(tmp_path, (*TREE, *extra))
    assert holds_exactly(tmp_path, names) is expected


def test_holds_exactly_ignores_an_empty_folder(tmp_path: Path) -> None:
    make(tmp_path, TREE, folders=("empty", "archive/empty"))
    assert holds_exactly(tmp_path, set(TREE))
    assert holds_exactly(tmp_path / "empty", set())


def test_holds_exactly_is_false_with_a_symlink_even_one_the_names_list(tmp_path: Path) -> None:
    make(tmp_path, TREE)
    (tmp_path / "link.rss").symlink_to(tmp_path / "a.rss")
    assert not holds_exactly(tmp_path, set(TREE) | {"link.rss"})
    assert not holds_exactly(tmp_path, set(TREE))


def test_holds_exactly_is_false_for_a_generation_that_is_gone(tmp_path: Path) -> None:
    assert not holds_exactly(tmp_path / "gone", {"a.rss"})


@pytest.mark.parametrize(
    ("existing", "names", "expected"),
    [
        ((), {"a.rss", "topics/ai.rss"}, False),
        (("a.rss", "topics/ai.rss"), {"a.rss", "topics/ai.rss"}, False),
        (("topics/old.rss",), {"topics/ai.rss"}, False),
        (("archive/topics/ai/1.rss",), {"archive/topics/ai/2.rss"}, False),
        (("a.rss/old.rss",), {"a.rss"}, True),
        (("topics/ai.rss/1.rss",), {"topics/ai.rss"}, True),
        (("archive/topics/ai/1.rss",), {"archive/topics"}, True),
        (("topics",), {"topics/ai.rss"}, True),
        (("archive",), {"archive/topics/ai/1.rss"}, True),
        (("archive/topics",), {"archive/topics/ai/1.rss"}, True),
        (("archive/topics/ai",), {"archive/topics/ai/1.rss"}, True),
        (("topics",), {"topics.rss", "topicsx/ai.rss"}, False),
        (("topics/ai",), {"topics/ai.rss", "topics/ai-x/1.rss"}, False),
        (("archive/topics/ai/1.rss",), {"archive/topics/ai/1.rss/deeper.rss"}, True),
        ((), set(), False),
    ],
)
def test_conflicts_is_true_for_a_folder_where_a_name_goes_or_a_file_where_its_folder_goes(
    tmp_path: Path, existing: tuple, names: set, expected: bool
) -> None:
    walked = walk(str(make(tmp_path, existing)))
    assert conflicts(walked, names) is expected


def test_conflicts_sees_a_file_where_a_fourth_folder_up_goes(tmp_path: Path) -> None:
    walked = walk(str(make(tmp_path, ["a"])))
    assert conflicts(walked, {"a/b/c/d/e.rss"})
