"""Shared fixtures: where things are, and how a test asks for a system tool or ../shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from feeds.config import Settings

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "samples" / "articles"
SHARED = PROJECT.parent / "shared"
REAL_CORPUS = SHARED / "corpus" / "real"
SEED = SHARED / "seed"
BASE_URL = "https://feeds.example.org/"


def require_tool(name: str) -> str:
    """The path of a system program; skip when absent, but fail in CI, which installs it."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        message = f"{name} is not installed (Debian package; .ci/run installs it)"
        if os.environ.get("FEEDS_REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_shared(path: Path) -> Path:
    """A path under ../shared; skip with a reason when the project is cloned without it."""
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared is not beside this clone")
    return path


@pytest.fixture
def settings() -> Settings:
    """Settings for tests: a fixed base URL, unpublished articles excluded as by default."""
    return Settings(base_url=BASE_URL, articles_dir=SAMPLES)


@pytest.fixture
def real_corpus() -> Path:
    return require_shared(REAL_CORPUS)
