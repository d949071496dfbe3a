"""The libraries' versions in the fingerprints (feeds.installed_version) are importlib.metadata's own.

"Fast paths are proven, not trusted": ``version_from_dist_info`` reads a wheel's ``.dist-info`` without
importing importlib.metadata (~30 ms of every command's start). Where it answers, it must give what
``importlib.metadata.version`` gives: for every distribution installed here, under several spellings of
its name, and for made-up ``sys.path`` folders of every kind it leaves to the library (an egg-info, two
copies in one folder, a zip, a METADATA without a plain Version line), where it must answer None.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

import feeds
from feeds import installed_version, version_from_dist_info


def _spellings(name: str) -> list[str]:
    return sorted({name, name.upper(), name.lower(), name.replace("-", "_"), name.replace("_", "-"),
                   name.replace(".", "-"), f"{name}-".replace("--", "-")[:-1]})  # fmt: skip


def _outcome(function: Callable[[str], object], name: str) -> object:
    """What ``function(name)`` gives, or the type of what it raises (a folder without METADATA: TypeError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # importlib.metadata on a METADATA without Version
        try:
            return function(name)
        except metadata.PackageNotFoundError:
            return "absent"
        except Exception as exc:  # noqa: BLE001 - the library's own failure, which installed_version must share
            return type(exc)


def _held_to_the_library(name: str) -> str | None:
    fast = version_from_dist_info(name)
    expected = _outcome(metadata.version, name)
    assert fast is None or fast == expected, name
    assert _outcome(installed_version, name) == expected, name
    return fast


def test_every_installed_distribution_under_every_spelling() -> None:
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    answered = sum(_held_to_the_library(spelling) is not None for name in names for spelling in _spellings(name))
    assert len(names) > 20 and answered > len(names)  # the fast path answered for most of them


def test_the_shaping_libraries_are_read_without_importlib_metadata() -> None:
    for name in feeds._SHAPING_LIBRARIES:
        assert _held_to_the_library(name) not in (None, "absent"), name
    script = "import sys, feeds; feeds._libraries_text(); print('importlib.metadata' in sys.modules)"
    project = Path(feeds.__file__).resolve().parent.parent  # this checkout, not an installed copy
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=project)
    assert shown.stdout.strip() == "False"


def test_a_distribution_not_installed_is_absent() -> None:
    assert installed_version("no-such-distribution-here") == "absent"
    assert version_from_dist_info("no-such-distribution-here") in ("absent", None)


def _dist_info(folder: Path, name: str, metadata_text: str | None, suffix: str = ".dist-info") -> None:
    info = folder / f"{name}{suffix}"
    info.mkdir(parents=True)
    if metadata_text is not None:
        (info / ("METADATA" if suffix == ".dist-info" else "PKG-INFO")).write_text(metadata_text, encoding="utf-8")


PLAIN = "Metadata-Version: 2.1\nName: Made.Up-pkg\nVersion: 1.2.3\n\nVersion: 9 (the body, not a header)\n"


@pytest.mark.parametrize(
    ("layout", "fast"),
    [
        ({"a": [("Made.Up_pkg-1.2.3", PLAIN)]}, "1.2.3"),
        ({"a": [], "b": [("made_up_pkg-1.2.3", PLAIN)], "c": [("made_up_pkg-2.0", PLAIN.replace("1.2.3", "2.0"))]},
         "1.2.3"),
        ({"a": [("made_up_pkg-1.2.3", PLAIN), ("made_up_pkg-2.0", PLAIN.replace("1.2.3", "2.0"))]}, None),
        ({"a": [("made_up_pkg-1.2.3", None)]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\n\nVersion: 1.2.3\n")]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\nVersion: 1.2.3 \n")]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\nVersion: 1.2.3\n  .post1\n")]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\nVersion:\t1.2.3\n")]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\nno colon here\nVersion: 1.2.3\n")]}, None),
        ({"a": [("made_up_pkg-1.2.3", "Name: made-up-pkg\r\nVersion: 1.2.3\r\n")]}, "1.2.3"),
        ({"a": [("made_up_pkg-1.2.3", "Version: 1.2.3\nVersion: 4\n")]}, "1.2.3"),
        ({"a": [("made_up_pkg-1.2.3.egg-info", "Name: made-up-pkg\nVersion: 1.2.3\n")]}, None),
        ({"a": []}, "absent"),
    ],
)  # fmt: skip
def test_made_up_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: dict, fast: str | None) -> None:
    for folder, infos in layout.items():
        (tmp_path / folder).mkdir()
        for name, text in infos:
            if name.endswith(".egg-info"):
                _dist_info(tmp_path / folder, name.removesuffix(".egg-info"), text, ".egg-info")
            else:
                _dist_info(tmp_path / folder, name, text)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "missing"), *(str(tmp_path / f) for f in layout)])
    assert _held_to_the_library("made-up-pkg") == fast


def test_a_zip_on_sys_path_is_left_to_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("made_up_pkg-3.0.dist-info/METADATA", "Name: made-up-pkg\nVersion: 3.0\n")
    _dist_info(tmp_path / "after", "made_up_pkg-1.0", "Name: made-up-pkg\nVersion: 1.0\n")
    monkeypatch.setattr(sys, "path", [str(archive), str(tmp_path / "after")])
    assert _held_to_the_library("made-up-pkg") is None
    assert installed_version("made-up-pkg") == "3.0"


def test_an_egg_on_sys_path_is_left_to_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    egg = tmp_path / "made_up_pkg-5.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Name: made-up-pkg\nVersion: 5.0\n", encoding="utf-8")
    monkeypatch.setattr(sys, "path", [str(egg)])
    assert _held_to_the_library("made-up-pkg") is None
    assert installed_version("made-up-pkg") == "5.0"
