"""The config file: safe defaults, every key validated, errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.config import Settings, load_settings, publish_overrides, with_overrides
from feeds.config_values import ConfigError, check_base_url
from tests.conftest import PROJECT


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_safe() -> None:
    settings = Settings()
    assert settings.items_per_feed == 50 and settings.include_unpublished is False
    assert settings.formats == ("rss", "atom", "json")
    assert settings.base_url is None and settings.site_url == "http://127.0.0.1:8000/"
    assert settings.max_file_bytes == 1_000_000 and settings.max_title_chars == 300


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, "# nothing set\n"))
    assert settings == Settings(config_file=str(tmp_path / "feeds.yaml"))


def test_missing_default_config_gives_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings() == Settings()


def test_repo_config_loads() -> None:
    settings = load_settings(PROJECT / "config" / "feeds.yaml")
    assert settings.articles_dir.resolve() == PROJECT / "samples" / "articles"
    assert settings.formats == ("rss", "atom", "json")
    assert ("Artificial Intelligence", "AI") in settings.topic_aliases


def test_every_key_reads(tmp_path: Path) -> None:
    settings = load_settings(
        _write(
            tmp_path,
            """
site_title: " My feeds "
site_description: All of it.
base_url: https://feeds.example.org/news
language: de
author: Desk
articles_dir: articles
items_per_feed: 10
include_unpublished: true
formats: [json, rss]
max_file_bytes: 5000
max_title_chars: 80
max_summary_chars: 500
cache_max_age: 0
reload_interval: 0.5
min_quality: 40
kinds: [article]
topic_aliases: {ML: AI}
cache_dir: ~/cache-here
""",
        )
    )
    assert settings.site_title == "My feeds"
    assert settings.base_url == "https://feeds.example.org/news/"
    assert settings.articles_dir == tmp_path / "articles"
    assert settings.formats == ("rss", "json")  # canonical order, not the file's
    assert settings.reload_interval == 0.5 and settings.min_quality == 40
    assert settings.kinds == ("article",) and settings.topic_aliases == (("ML", "AI"),)
    assert settings.cache_dir == Path.home() / "cache-here"


@pytest.mark.parametrize(
    ("text", "hub", "budget"),
    [
        ("", None, 512_000),
        ("websub_hub: https://hub.example/p?x=1\nmax_feed_bytes: 20000", "https://hub.example/p?x=1", 20_000),
        ("websub_hub: null\nmax_feed_bytes: 0", None, 0),
        ("max_feed_bytes: null", None, 0),
    ],
)
def test_websub_hub_and_feed_byte_budget(tmp_path: Path, text: str, hub: str | None, budget: int) -> None:
    settings = load_settings(_write(tmp_path, text + "\n"))
    assert (settings.websub_hub, settings.max_feed_bytes) == (hub, budget)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch) -> None:
    nested = tmp_path / "conf" / "deep"
    nested.mkdir(parents=True)
    path = nested / "feeds.yaml"
    path.write_text("articles_dir: ../posts\ncache_dir: .cache\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("conf/deep/feeds.yaml"))
    assert settings.articles_dir.resolve() == (tmp_path / "conf" / "posts").resolve()
    assert settings.cache_dir == nested.resolve() / ".cache"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("sitetitle: x", "sitetitle", "unknown key"),
        ("1: x", "1", "unknown key"),
        ("site_title: 3", "site_title", "non-empty string"),
        ("site_title: ''", "site_title", "non-empty string"),
        ("site_title: " + "x" * 501, "site_title", "at most 500"),
        ("base_url: ftp://e.com/", "base_url", "http:// or https://"),
        ("base_url: /relative/", "base_url", "http:// or https://"),
        ("base_url: https://e.com/?q=1", "base_url", "query"),
        ("base_url: 'https://e.com/a b'", "base_url", "spaces"),
        ("base_url: 'http://[::1'", "base_url", "not a valid URL"),
        ("base_url: [a]", "base_url", "http:// or https://"),
        ("language: ''", "language", "non-empty"),
        ("items_per_feed: 0", "items_per_feed", "from 1 to 10000"),
        ("items_per_feed: 10001", "items_per_feed", "from 1 to 10000"),
        ("items_per_feed: '5'", "items_per_feed", "whole number"),
        ("items_per_feed: true", "items_per_feed", "whole number"),
        ("items_per_feed: 2.5", "items_per_feed", "whole number"),
        ("include_unpublished: 'yes'", "include_unpublished", "true or false"),
        ("formats: [rss, xml]", "formats", "xml"),
        ("formats: []", "formats", "must list some"),
        ("formats: rss", "formats", "list of non-empty strings"),
        ("max_file_bytes: 10", "max_file_bytes", "from 1000"),
        ("max_title_chars: 5", "max_title_chars", "from 20"),
        ("max_summary_chars: 49", "max_summary_chars", "from 50"),
        ("cache_max_age: -1", "cache_max_age", "from 0"),
        ("reload_interval: 0.1", "reload_interval", "from 0.2"),
        ("reload_interval: fast", "reload_interval", "a number"),
        ("min_quality: high", "min_quality", "whole number"),
        ("kinds: [article, '']", "kinds", "non-empty strings"),
        ("topic_aliases: [a]", "topic_aliases", "mapping"),
        ("topic_aliases: {ML: ''}", "topic_aliases.ML", "topic name"),
        ("articles_dir: ''", "articles_dir", "non-empty string"),
        ("cache_dir: 7", "cache_dir", "non-empty string"),
        ("websub_hub: ftp://hub.example/", "websub_hub", "http:// or https://"),
        ("websub_hub: /hub", "websub_hub", "http:// or https://"),
        ("websub_hub: 'https://hub.example/#x'", "websub_hub", "fragment"),
        ("websub_hub: 3", "websub_hub", "http:// or https://"),
        ("max_feed_bytes: 100", "max_feed_bytes", "from 1024"),
        ("max_feed_bytes: -1", "max_feed_bytes", "from 1024"),
        ("max_feed_bytes: big", "max_feed_bytes", "whole number"),
        ("max_feed_bytes: false", "max_feed_bytes", "whole number"),
    ],
)
def test_bad_value_names_file_and_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = _write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}: error: key '{key}': "), message
    assert fragment in message and "\n" not in message
    assert info.value.key == key


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("just words\n", "must be a mapping"),
        ("a: [\n", "is not valid YAML"),
        ("site_title: !!python/object/apply:os.getcwd []\n", "is not valid YAML"),
    ],
)
def test_unusable_file_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_settings(path)
    assert str(info.value).startswith(str(path))


def test_yaml_error_has_a_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "site_title: a\nlanguage: en\n  bad: indent\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}:3: error:")


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "missing.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"site_title: caf\xe9\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "latin1.yaml")


def test_check_base_url_normalises_one_trailing_slash() -> None:
    assert check_base_url(" https://e.com/a// ", "x") == "https://e.com/a/"
    assert Settings(base_url="https://e.com/a").site_url == "https://e.com/a/"


def test_overrides_are_validated_and_name_the_option(tmp_path: Path) -> None:
    base = Settings(articles_dir=tmp_path)
    changed = with_overrides(base, articles_dir=tmp_path, base_url="https://x.org")
    assert changed.base_url == "https://x.org/" and changed.articles_dir == tmp_path
    with pytest.raises(ConfigError, match=r"^--base-url: error: key 'base_url'"):
        with_overrides(base, base_url="mailto:a@b")
    with pytest.raises(ConfigError, match=r"^--articles: error: key 'articles_dir': .* is not a folder"):
        with_overrides(base, articles_dir=tmp_path / "missing")


def test_missing_articles_folder_from_config_names_the_config(tmp_path: Path) -> None:
    path = _write(tmp_path, "articles_dir: nowhere\n")
    settings = load_settings(path)
    with pytest.raises(ConfigError, match=rf"^{path}: error: key 'articles_dir'"):
        with_overrides(settings)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("site_title: 2024-02-30\n", None, "day is out of range"),  # YAML resolves a date Python refuses
        ('site_title: "News\\u0001feeds"\n', "site_title", "control character"),
        ('author: "A\\u0000B"\n', "author", "control character"),
        ('site_title: "line\\x0bbreak"\n', "site_title", "control character"),
        ("site_title: [unclosed\n", None, "not valid YAML"),
    ],
)
def test_values_that_would_break_a_feed_are_refused_in_one_line(
    tmp_path: Path, text: str, key: str | None, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message and fragment in message
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("publish: s3://b", "publish", "must be a mapping"),
        ("publish: {bucket: b}", "publish.bucket", "unknown key"),
        ("publish: {endpoint_url: 'ftp://minio'}", "publish.endpoint_url", "http:// or https://"),
        ("publish: {cloudfront_distribution: 'E1/../x'}", "publish.cloudfront_distribution", "letters and digits"),
        ("publish: {cloudflare_zone: ''}", "publish.cloudflare_zone", "letters and digits"),
        ("publish: {max_deletes: -1}", "publish.max_deletes", "from 0"),
        ("publish: {workers: 0}", "publish.workers", "from 1 to 256"),
        ("publish: {target: 3}", "publish.target", "non-empty string"),
    ],
)
def test_bad_publish_value_names_file_and_key(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = _write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: error: key '{key}': ") and fragment in str(info.value)


def test_publish_section_and_command_line_overrides(tmp_path: Path) -> None:
    path = _write(tmp_path, "publish:\n  target: s3://b/p\n  endpoint_url: http://127.0.0.1:9000/\n  workers: 4\n")
    section = load_settings(path).publish
    assert (section.target, section.endpoint_url, section.workers, section.max_deletes) == (
        "s3://b/p", "http://127.0.0.1:9000", 4, 256
    )  # fmt: skip
    assert publish_overrides(section, workers=8, target=None).workers == 8
    with pytest.raises(ConfigError, match="--max-deletes"):
        publish_overrides(section, max_deletes=-5)
