"""CDN purgers over real HTTP: Cloudflare's purge API as a local stub, CloudFront through moto's server."""

from __future__ import annotations

import pytest

from feeds.bucket.purge import CLOUDFLARE_WILDCARD_ABOVE, CLOUDFRONT_WILDCARD_ABOVE, PURGERS, PurgeTarget
from tests.s3_server import MotoServer, distribution_config, start_stub_api

BASE = "https://feeds.example.org/news/"
CLOUDFLARE = next(p for p in PURGERS if p.name == "Cloudflare")
CLOUDFRONT = next(p for p in PURGERS if p.name == "CloudFront")


@pytest.fixture
def stub():
    api, server = start_stub_api()
    yield api
    server.shutdown()


@pytest.mark.parametrize("count", [1, 100, 101, 250, CLOUDFLARE_WILDCARD_ABOVE])
def test_cloudflare_purges_each_url_once_at_most_100_a_request(stub, monkeypatch, count: int) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok")
    urls = [f"{BASE}topics/t{n}.rss" for n in range(count)]
    report = CLOUDFLARE.purge(PurgeTarget("zone9", f"{stub.url}/client/v4"), BASE, urls)
    assert report.error is None and report.purged == count and not report.wildcard
    sent = [url for r in stub.purges() for url in r.body["files"]]
    assert sent == urls and all(len(r.body["files"]) <= 100 for r in stub.purges())
    assert report.requests == len(stub.purges()) == -(-count // 100)


def test_cloudflare_purges_the_site_prefix_once_above_its_threshold(stub, monkeypatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok")
    urls = [f"{BASE}providers/p{n}.rss" for n in range(CLOUDFLARE_WILDCARD_ABOVE + 1)]
    report = CLOUDFLARE.purge(PurgeTarget("zone9", f"{stub.url}/client/v4"), BASE, urls)
    assert report.wildcard and report.requests == 1 and report.error is None
    assert [r.body for r in stub.purges()] == [{"prefixes": ["feeds.example.org/news/"]}]


def test_cloudflare_refusal_is_a_report_not_an_exception(stub, monkeypatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok")
    report = CLOUDFLARE.purge(PurgeTarget("zone9", f"{stub.url}/not-the-api"), BASE, [BASE + "all.rss"])
    assert report.error is not None and "failed" in report.line()


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory):
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.mark.parametrize(("count", "wildcard"), [(3, False), (CLOUDFRONT_WILDCARD_ABOVE, False),
                                                  (CLOUDFRONT_WILDCARD_ABOVE + 1, True)])  # fmt: skip
def test_cloudfront_invalidates_the_paths_in_one_request_or_one_wildcard(
    moto: MotoServer, monkeypatch, count: int, wildcard: bool
) -> None:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in {**env, "AWS_ENDPOINT_URL_CLOUDFRONT": moto.url}.items():
        monkeypatch.setenv(name, value)
    cloudfront = moto.client("cloudfront")
    distribution = cloudfront.create_distribution(DistributionConfig=distribution_config())["Distribution"]["Id"]
    urls = [f"{BASE}topics/t{n}.rss" for n in range(count - 1)] + [BASE]  # count paths
    report = CLOUDFRONT.purge(PurgeTarget(distribution), BASE, urls)
    assert report.error is None and report.requests == 1 and report.wildcard == wildcard
    (listed,) = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=listed["Id"])["Invalidation"]
    paths = batch["InvalidationBatch"]["Paths"]["Items"]
    assert paths == (["/news/*"] if wildcard else [f"/news/topics/t{n}.rss" for n in range(count - 1)] + ["/news/"])
