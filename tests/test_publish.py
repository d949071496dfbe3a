"""``feeds publish`` against a real S3 API (moto's server, real boto3 over HTTP), CloudFront through moto too.

Requests are counted from moto's own log (one line per request), not from what the
publisher says about itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from feeds.bucket.plan import STATE_NAME, UPLOAD_ORDER, parse_manifest, tier_of
from feeds.bucket.publish import Publisher, PublishOptions, _Progress
from feeds.cli import main
from feeds.config import PublishSettings
from tests.conftest import PROJECT, SAMPLES
from tests.s3_server import MotoServer, distribution_config, publish_environment, run_feeds, start_stub_api

BASE = "https://feeds.example.org/news/"
NEW_ARTICLE = """---
title: "A new article for the publish test"
excerpt: "Published once, uploaded once."
publishedDateTime: 2099-01-02T03:04:05Z
originalUrl: "https://example.org/new-article"
webUrl: "https://example.org/new-article"
type: article
provider:
  name: POLITICO
  domain: politico.eu
topics:
  - AI
---
"""


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = f"site-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def env(moto: MotoServer, tmp_path: Path) -> dict[str, str]:
    return publish_environment(moto, tmp_path)


def export(articles: Path, out: Path, *extra: str) -> Path:
    assert main(["export", "--no-cache", "--articles", str(articles), "--base-url", BASE, *extra, str(out)]) in (0, 1)
    return out


def manifest_of(out: Path):
    return parse_manifest((out / "_manifest.json").read_bytes(), "test")


def objects(moto: MotoServer, bucket: str, prefix: str = "news/") -> dict[str, str]:
    """Site path → ETag (the MD5 of the bytes) of every object under the prefix."""
    found = {}
    for page in moto.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found.update({o["Key"][len(prefix) :]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    return found


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def assert_bucket_holds_exactly(moto: MotoServer, bucket: str, out: Path) -> None:
    listed = objects(moto, bucket)
    manifest = manifest_of(out)
    assert set(listed) == set(manifest.entries) | {STATE_NAME}
    wrong = [p for p in manifest.entries if listed[p] != md5(out / p)]
    assert not wrong, wrong[:5]


def bucket_holds_exactly(moto: MotoServer, bucket: str, out: Path) -> bool:
    """:func:`assert_bucket_holds_exactly` as a condition to wait for (a publish may be half done)."""
    try:
        assert_bucket_holds_exactly(moto, bucket, out)
    except (AssertionError, OSError, KeyError, ValueError):
        return False
    return True


def publish(out: Path, bucket: str, env: dict[str, str], moto: MotoServer, *extra: str):
    return run_feeds("publish", "--endpoint-url", moto.url, *extra, str(out), f"s3://{bucket}/news", env=env)


def writes(requests: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [r for r in requests if r[0] in ("PUT", "POST", "DELETE")]


def test_every_object_has_the_manifest_bytes_type_and_cache_rule_and_nothing_else(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    out = export(SAMPLES, tmp_path / "out")
    result = publish(out, bucket, env, moto)
    assert result.returncode == 0, result.stderr
    assert_bucket_holds_exactly(moto, bucket, out)
    assert not [p for p in objects(moto, bucket) if p.endswith(".gz") and p != STATE_NAME]
    client = moto.client()
    for entry in manifest_of(out).entries.values():
        got = client.get_object(Bucket=bucket, Key=f"news/{entry.path}")
        assert got["ContentType"] == entry.content_type and "charset=utf-8" in entry.content_type
        assert got["CacheControl"] == entry.cache_control
        assert hashlib.sha256(got["Body"].read()).hexdigest() == entry.sha256
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{len(manifest_of(out).entries)} uploaded, 0 unchanged, 0 deleted, 0 paths purged")


def test_uploads_name_the_manifest_digest_and_wait_for_nothing(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each PUT carries the manifest's SHA-256 (x-amz-checksum-sha256, signed; the store checks the body
    against it) and neither a CRC-32 computed again nor ``Expect: 100-continue`` (a round trip each)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = export(SAMPLES, tmp_path / "out")
    publisher = Publisher(PublishOptions(PublishSettings(target=f"s3://{bucket}/news", endpoint_url=moto.url)))
    sent: dict[str, dict[str, str]] = {}

    def record(request, **_) -> None:
        sent[urllib.parse.unquote(urllib.parse.urlsplit(request.url).path)] = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }

    publisher.bucket.client.meta.events.register("before-send.s3.PutObject", record)
    assert not publisher.publish(out).failures
    entries = manifest_of(out).entries
    assert set(sent) == {f"/{bucket}/news/{path}" for path in entries} | {f"/{bucket}/news/{STATE_NAME}"}
    for path, entry in entries.items():
        headers = sent[f"/{bucket}/news/{path}"]
        assert base64.b64decode(headers["x-amz-checksum-sha256"]).hex() == entry.sha256
        assert "expect" not in headers and not [k for k in headers if k.startswith("x-amz-checksum-crc")]
        assert "authorization" in headers and "x-amz-checksum-sha256" in headers["authorization"]  # signed
        # plain http (moto here): no TLS keeps the body intact, so the signature covers the body itself
        assert headers["x-amz-content-sha256"] == hashlib.sha256((out / path).read_bytes()).hexdigest()
    assert_bucket_holds_exactly(moto, bucket, out)


def test_real_corpus_objects_equal_the_manifest(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str], real_corpus: Path
) -> None:
    out = export(real_corpus, tmp_path / "out")
    assert publish(out, bucket, env, moto).returncode == 0
    assert_bucket_holds_exactly(moto, bucket, out)
    client = moto.client()
    for entry in manifest_of(out).entries.values():  # the headers too (a listing does not show them)
        head = client.head_object(Bucket=bucket, Key=f"news/{entry.path}")
        assert (head["ContentType"], head["CacheControl"]) == (entry.content_type, entry.cache_control), entry.path


def test_nothing_changed_is_one_request_and_no_write(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    out = export(SAMPLES, tmp_path / "out")
    assert publish(out, bucket, env, moto).returncode == 0
    before = len(moto.requests())
    result = publish(out, bucket, env, moto)
    requests = moto.requests()[before:]
    assert result.returncode == 0
    assert len(requests) <= 3 and not writes(requests), requests
    assert " 0 uploaded, " in f" {result.stdout}" and "1 requests" in result.stdout


def test_one_new_article_costs_its_changed_files_plus_three_and_invalidates_exactly_them(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    out = export(articles, tmp_path / "out")
    cloudfront = moto.client("cloudfront")
    distribution = cloudfront.create_distribution(DistributionConfig=distribution_config())["Distribution"]["Id"]
    args = ("--cloudfront-distribution", distribution)
    assert publish(out, bucket, env, moto, *args).returncode == 0
    old = manifest_of(out).entries
    (articles / "zz-new.md").write_text(NEW_ARTICLE, encoding="utf-8")
    export(articles, out)
    new = manifest_of(out).entries
    changed = {p for p, e in new.items() if old.get(p) != e} | (set(old) - set(new))
    known = {i["Id"] for i in cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]}
    before = len(moto.requests())
    result = publish(out, bucket, env, moto, *args)
    assert result.returncode == 0, result.stderr
    s3_requests = [r for r in moto.requests()[before:] if not r[1].startswith("/2020-05-31/")]
    assert 0 < len(changed) < len(new) and len(s3_requests) <= len(changed) + 3, (len(changed), s3_requests)
    assert_bucket_holds_exactly(moto, bucket, out)
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    (new_id,) = {i["Id"] for i in listed} - known
    newest = cloudfront.get_invalidation(DistributionId=distribution, Id=new_id)
    paths = set(newest["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
    expected = {f"/news/{p}" for p in changed} | ({"/news/"} if "index.html" in changed else set())
    assert paths == expected


def test_a_new_cache_rule_alone_uploads_every_object_again(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    out = export(SAMPLES, tmp_path / "out")
    assert publish(out, bucket, env, moto).returncode == 0
    config = tmp_path / "feeds.yaml"
    config.write_text("cache_max_age: 60\n", encoding="utf-8")
    export(SAMPLES, out, "--config", str(config))
    result = publish(out, bucket, env, moto)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{len(manifest_of(out).entries)} uploaded, 0 unchanged")
    head = moto.client().head_object(Bucket=bucket, Key="news/all.rss")
    assert head["CacheControl"] == "public, max-age=60"


def test_a_removed_feed_is_deleted_and_max_deletes_holds_deletions_back(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    (articles / "zz-new.md").write_text(NEW_ARTICLE.replace("POLITICO", "Only Here"), encoding="utf-8")
    out = export(articles, tmp_path / "out")
    assert publish(out, bucket, env, moto).returncode == 0
    assert "providers/only-here.rss" in objects(moto, bucket)
    before = set(manifest_of(out).entries)
    (articles / "zz-new.md").unlink()
    export(articles, out)
    gone = before - set(manifest_of(out).entries)
    assert {p for p in gone if p.startswith("providers/only-here.")} == gone, gone
    held = publish(out, bucket, env, moto, "--max-deletes", "1")
    assert held.returncode == 1
    assert "--max-deletes" in held.stderr and ", 0 deleted," in held.stdout
    assert "providers/only-here.rss" in objects(moto, bucket)
    result = publish(out, bucket, env, moto)
    assert result.returncode == 0, result.stderr
    assert f", {len(gone)} deleted," in result.stdout  # the feed in every format (and its page)
    assert_bucket_holds_exactly(moto, bucket, out)


def test_a_missing_bucket_is_exit_2_and_one_line(tmp_path: Path, moto: MotoServer, env: dict[str, str]) -> None:
    out = export(SAMPLES, tmp_path / "out")
    result = publish(out, "no-such-bucket-here", env, moto)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no such bucket 'no-such-bucket-here'" in result.stderr


def test_refused_credentials_are_exit_2_one_line_and_never_printed(tmp_path: Path) -> None:
    # moto checks signatures against its IAM only when told to (INITIAL_NO_AUTH_ACTION_COUNT=0)
    server = MotoServer(tmp_path / "auth.log", environment={"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        out = export(SAMPLES, tmp_path / "out")
        env = {**publish_environment(server, tmp_path), "AWS_SECRET_ACCESS_KEY": "s3cr3t-never-shown"}
        result = publish(out, "site", env, server)
    finally:
        server.stop()
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "credentials were refused" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout


def test_a_folder_that_is_not_an_export_is_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "site").mkdir()
    assert main(["publish", "--endpoint-url", "http://127.0.0.1:9", str(tmp_path / "site"), "s3://bucket"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the export's manifest" in err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://bucket/x", "is not an s3://BUCKET[/PREFIX] URL"),
        ("s3://Bad_Bucket/x", "is not a valid bucket name"),
        ("s3://bucket/../x", "must not hold '.', '..'"),
    ],
)
def test_a_bad_target_is_exit_2_before_any_request(tmp_path: Path, target: str, message: str, capsys) -> None:
    out = export(SAMPLES, tmp_path / "out")
    assert main(["publish", "--endpoint-url", "http://127.0.0.1:9", str(out), target]) == 2
    assert message in capsys.readouterr().err


def test_dry_run_lists_the_plan_and_writes_nothing(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    out = export(SAMPLES, tmp_path / "out")
    before = len(moto.requests())
    result = publish(out, bucket, env, moto, "--dry-run")
    assert result.returncode == 0
    assert not writes(moto.requests()[before:]) and objects(moto, bucket) == {}
    assert result.stdout.count("\nupload ") + result.stdout.startswith("upload ") == len(manifest_of(out).entries)
    assert "would be uploaded" in result.stdout


def test_verify_repairs_objects_changed_deleted_or_added_by_hand(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    out = export(SAMPLES, tmp_path / "out")
    assert publish(out, bucket, env, moto).returncode == 0
    client = moto.client()
    client.delete_object(Bucket=bucket, Key="news/all.rss")
    client.put_object(Bucket=bucket, Key="news/all.atom", Body=b"changed by hand")
    client.put_object(Bucket=bucket, Key="news/stray.txt", Body=b"nobody's")
    assert publish(out, bucket, env, moto).stdout.startswith("0 uploaded")  # the state cannot see it
    result = publish(out, bucket, env, moto, "--verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 uploaded,") and ", 1 deleted," in result.stdout
    assert_bucket_holds_exactly(moto, bucket, out)


def _kill_during_feeds(out: Path, bucket: str, env: dict[str, str], moto: MotoServer) -> None:
    """Start a one-connection publish of ``out`` and kill -9 it while it uploads feeds (tier 2 of 3)."""
    manifest = manifest_of(out)
    first_tier = sum(1 for e in manifest.entries.values() if tier_of(e) == 0)
    before = len(moto.requests())
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds.cli", "publish", "--workers", "1", "--endpoint-url", moto.url, str(out),
         f"s3://{bucket}/news"], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            puts = [r for r in moto.requests()[before:] if r[0] == "PUT"]
            if len(puts) >= first_tier + 1 + 20:  # the intent, what feeds link to, then some feeds
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the publish ended before it could be killed"


def _assert_no_feed_links_ahead(moto: MotoServer, bucket: str, out: Path) -> None:
    """Every object of a later tier that holds this export's bytes has every earlier tier's object in place."""
    listed, manifest = objects(moto, bucket), manifest_of(out)
    current = {p for p, e in manifest.entries.items() if listed.get(p) == md5(out / p)}
    for rank in range(1, len(UPLOAD_ORDER)):
        if any(tier_of(e) == rank and p in current for p, e in manifest.entries.items()):
            missing = [p for p, e in manifest.entries.items() if tier_of(e) < rank and p not in current]
            assert not missing, f"{UPLOAD_ORDER[rank].name} up before {missing[:3]}"


def test_a_publish_killed_mid_upload_is_completed_by_the_next_whatever_the_export_did_meanwhile(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str], real_corpus: Path
) -> None:
    first = export(real_corpus, tmp_path / "first")
    config = tmp_path / "feeds.yaml"
    config.write_text("cache_max_age: 60\nsite_title: Another title\n", encoding="utf-8")
    second = export(real_corpus, tmp_path / "second", "--config", str(config))  # every file differs
    assert publish(first, bucket, env, moto).returncode == 0
    _kill_during_feeds(second, bucket, env, moto)
    _assert_no_feed_links_ahead(moto, bucket, second)
    # the export went back to the first one's bytes: the objects the killed run replaced are put back
    result = publish(first, bucket, env, moto)
    assert result.returncode == 0, result.stderr
    assert_bucket_holds_exactly(moto, bucket, first)
    _kill_during_feeds(second, bucket, env, moto)
    assert publish(second, bucket, env, moto).returncode == 0
    assert_bucket_holds_exactly(moto, bucket, second)
    state = json.loads(__import__("gzip").decompress(moto.client().get_object(
        Bucket=bucket, Key=f"news/{STATE_NAME}")["Body"].read()))  # fmt: skip
    assert None not in state["files"].values()


def test_cloudflare_is_purged_by_url_after_upload_and_the_hub_pinged_after_the_purge(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    stub, server = start_stub_api()
    try:
        config = tmp_path / "feeds.yaml"
        config.write_text(
            f"websub_hub: {stub.url}/hub\npublish:\n  target: s3://{bucket}/news\n  endpoint_url: {moto.url}\n"
            f"  cloudflare_zone: zone123\n  cloudflare_api_url: {stub.url}/client/v4\n",
            encoding="utf-8",
        )
        out = export(SAMPLES, tmp_path / "out", "--config", str(config))
        stub.received.clear()  # the export's own pings
        missing_token = run_feeds("publish", "--config", str(config), str(out), env=env)
        assert missing_token.returncode == 2 and "CLOUDFLARE_API_TOKEN" in missing_token.stderr
        assert objects(moto, bucket) == {}
        result = run_feeds("publish", "--config", str(config), str(out), env={**env, "CLOUDFLARE_API_TOKEN": "t0k"})
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    purges = stub.purges()
    assert purges and all(r.path == "/client/v4/zones/zone123/purge_cache" for r in purges)
    assert all(len(r.body["files"]) <= 100 and r.headers["Authorization"] == "Bearer t0k" for r in purges)
    urls = {url for r in purges for url in r.body["files"]}
    assert urls == {BASE + p for p in manifest_of(out).entries} | {BASE}
    pings = [r for r in stub.received if r.path == "/hub"]
    assert pings and stub.received.index(pings[0]) > stub.received.index(purges[-1])
    feeds = {BASE + p for p, e in manifest_of(out).entries.items() if tier_of(e) == 1}
    assert {urllib.parse.parse_qs(r.body["form"])["hub.url"][0] for r in pings} == feeds
    assert "t0k" not in result.stdout + result.stderr


def test_export_watch_publish_puts_each_change_up(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str]
) -> None:
    articles = tmp_path / "articles"
    shutil.copytree(SAMPLES, articles)
    config = tmp_path / "feeds.yaml"
    config.write_text(f"publish:\n  endpoint_url: {moto.url}\n", encoding="utf-8")
    out = tmp_path / "out"
    watcher = subprocess.Popen(
        [sys.executable, "-m", "feeds.cli", "export", "--config", str(config), "--articles", str(articles),
         "--base-url", BASE, "--watch", "--publish", f"s3://{bucket}/news", str(out)],
        cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # The index and OPML go up last (UPLOAD_ORDER), so the first feed seen is not the end of a publish.
        assert _wait_for(lambda: bucket_holds_exactly(moto, bucket, out))
        (articles / "zz-new.md").write_text(NEW_ARTICLE, encoding="utf-8")
        assert _wait_for(lambda: b"A new article" in _get(moto, bucket, "all.rss"))
        assert _wait_for(lambda: objects(moto, bucket).get("all.rss") == md5(out / "all.rss"))
        assert _wait_for(lambda: bucket_holds_exactly(moto, bucket, out))
    finally:
        watcher.send_signal(signal.SIGTERM)
        stdout, stderr = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, stderr
    assert stdout.count(" uploaded, ") >= 2, stdout
    assert_bucket_holds_exactly(moto, bucket, out)


def _get(moto: MotoServer, bucket: str, path: str) -> bytes:
    try:
        return moto.client().get_object(Bucket=bucket, Key=f"news/{path}")["Body"].read()
    except Exception:  # noqa: BLE001 - not there yet
        return b""


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "shown"), [(_Terminal(), True), (io.StringIO(), False)])
def test_progress_is_a_line_on_a_terminal_only(stream: io.StringIO, shown: bool) -> None:
    progress = _Progress(stream, 200, 200 * 50_000)
    for _ in range(200):
        progress.add(50_000)
    text = stream.getvalue()
    assert ("200/200 files, 10.0/10.0 MB" in text) == shown and "\n" not in text
    assert text.endswith("\r\033[K") == shown  # the line is cleared for the summary


@pytest.mark.parametrize(
    ("endpoint_url", "body_signed"),
    [(None, False), ("https://minio.example:9000", False), ("HTTPS://r2.example", False),
     ("http://127.0.0.1:9000", True)],  # fmt: skip
)
def test_the_body_is_signed_exactly_where_no_tls_protects_it(endpoint_url: str | None, body_signed: bool) -> None:
    """Over TLS the signed x-amz-checksum-sha256 header binds the body; over plain http the signature must."""
    from feeds.bucket.plan import parse_target
    from feeds.bucket.s3_store import Bucket, RequestCounter

    bucket = Bucket(parse_target("s3://bucket/news"), endpoint_url=endpoint_url, region="us-east-1", workers=1,
                    counter=RequestCounter())  # fmt: skip
    assert bucket.client.meta.config.s3["payload_signing_enabled"] is body_signed


def test_an_export_flipped_in_during_the_publish_does_not_mix_into_it(
    tmp_path: Path, moto: MotoServer, bucket: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish reads the folder OUT_DIR was when it started, wherever the export's flip moves it."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = export(SAMPLES, tmp_path / "out")
    first = Path(shutil.copytree(out, tmp_path / "first"))
    config = tmp_path / "feeds.yaml"
    config.write_text("cache_max_age: 60\nsite_title: Another title\n", encoding="utf-8")
    publisher = Publisher(PublishOptions(PublishSettings(target=f"s3://{bucket}/news", endpoint_url=moto.url)))
    upload, flipped, once = publisher.bucket.upload, [], threading.Lock()

    def upload_then_export(entry, data):
        with once:  # the first upload waits for the export (uploads run several at a time)
            if not flipped:  # every file differs in the new export: a publish reading OUT_DIR by name would mix
                exported = run_feeds("export", "--no-cache", "--articles", str(SAMPLES), "--base-url", BASE,
                                     "--config", str(config), str(out), env=env)  # fmt: skip
                flipped.append((exported.returncode, exported.stderr))
        return upload(entry, data)

    monkeypatch.setattr(publisher.bucket, "upload", upload_then_export)
    summary = publisher.publish(out)
    assert [code for code, _ in flipped] == [0], flipped
    assert (out / "index.html").read_bytes() != (first / "index.html").read_bytes()
    assert not summary.failures, summary.failures
    assert_bucket_holds_exactly(moto, bucket, first)
