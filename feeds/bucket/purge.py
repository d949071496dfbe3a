"""CDN purgers as data: each CDN is one :class:`CdnPurger` entry in :data:`PURGERS`.

A purger gets the public URLs whose answer changed (new bytes, new headers,
or gone) and tells its CDN to forget exactly those, in as few requests as the
CDN allows. Above a threshold one wildcard is both cheaper and kinder to the
CDN's rate limits than thousands of paths; each entry documents its own.

IO, never raising for the CDN's trouble: a purge that fails is a report line
(and exit 1), after the objects are already in the bucket.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions

TIMEOUT = 15.0
RETRIES = 3
USER_AGENT = "feeds-publish/1"


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one CDN was told: ``purged`` paths or URLs named (a wildcard counts one), or why it failed."""

    cdn: str
    purged: int
    requests: int
    error: str | None = None
    wildcard: bool = False

    def line(self) -> str:
        what = "everything under the site (wildcard)" if self.wildcard else f"{self.purged} URLs"
        outcome = "ok" if self.error is None else f"failed: {self.error}"
        return f"purge: {self.cdn}: {what} in {self.requests} requests ({outcome})"


@dataclass(frozen=True, slots=True)
class PurgeTarget:
    """Where to purge: the CDN's own id (distribution, zone) and what it needs besides."""

    ident: str
    api_url: str | None = None  # the CDN's API base, where it has one we call by hand


@dataclass(frozen=True, slots=True)
class CdnPurger:
    """One CDN. ``setting``: the PublishSettings field (and, dashed, the command-line option) naming its id."""

    name: str
    setting: str
    purge: Callable[[PurgeTarget, str, Sequence[str]], PurgeReport]  # (where, the site's base URL, URLs)
    secret_variable: str | None = None  # an environment variable it cannot work without (checked before uploading)


# CloudFront: one CreateInvalidation names every changed path (it takes up to 3,000 paths in flight
# per distribution). Paths cost money: 1,000 free a month, then $0.005 each, while a wildcard counts
# as one path. Above this many paths a publish sends one "/<base path>*" instead: at most $1.50 of
# exact paths per publish, and a site-wide change (a new config, a new renderer) costs one path.
CLOUDFRONT_WILDCARD_ABOVE = 300


def _cloudfront(target: PurgeTarget, base_url: str, urls: Sequence[str]) -> PurgeReport:
    paths = list(dict.fromkeys(urlsplit(url).path or "/" for url in urls))
    wildcard = len(paths) > CLOUDFRONT_WILDCARD_ABOVE
    items = [urlsplit(base_url).path + "*"] if wildcard else paths
    requests = 0

    def count(**_) -> None:
        nonlocal requests
        requests += 1

    config = botocore.config.Config(retries={"mode": "standard", "max_attempts": 5})
    # the endpoint is AWS's; AWS_ENDPOINT_URL_CLOUDFRONT (a boto3 setting) points it elsewhere, e.g. moto
    client = boto3.session.Session().client("cloudfront", config=config)
    client.meta.events.register("before-send", count)
    try:
        client.create_invalidation(
            DistributionId=target.ident,
            InvalidationBatch={
                "Paths": {"Quantity": len(items), "Items": items},
                # unique per call (an equal reference with an equal batch would return the old invalidation
                # instead of making a new one); botocore's retries resend the same one, so a retry is no copy
                "CallerReference": f"feeds-publish-{uuid.uuid4()}",
            },
        )
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return PurgeReport("CloudFront", 0, requests, f"{code}: {exc.response.get('Error', {}).get('Message', '')}")
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        return PurgeReport("CloudFront", 0, requests, str(exc))
    return PurgeReport("CloudFront", len(items), requests, wildcard=wildcard)


# Cloudflare: purge by URL takes at most 100 URLs a request on every plan; the Free plan allows 5
# purge requests a minute. Above 5 requests' worth a publish purges the site's prefix (host + base
# path) in one request instead, which every plan offers.
CLOUDFLARE_BATCH = 100
CLOUDFLARE_WILDCARD_ABOVE = 5 * CLOUDFLARE_BATCH
CLOUDFLARE_TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN"


def _cloudflare_post(url: str, token: str, body: dict) -> tuple[bool, str, int]:
    """(ok, reason, requests sent) of one purge call, retried on 429, 5xx and network errors."""
    data = json.dumps(body).encode("utf-8")
    reason = ""
    for attempt in range(RETRIES + 1):
        if attempt:
            time.sleep(0.5 * 2 ** (attempt - 1))
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                answer = json.loads(response.read(1_000_000) or b"{}")
                if answer.get("success") is True:
                    return True, "", attempt + 1
                return False, f"not accepted: {answer.get('errors')}", attempt + 1
        except urllib.error.HTTPError as exc:
            exc.close()
            reason = f"HTTP {exc.code}"
            if exc.code != 429 and exc.code < 500:
                return False, reason, attempt + 1
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc))
    return False, reason, RETRIES + 1


def _cloudflare(target: PurgeTarget, base_url: str, urls: Sequence[str]) -> PurgeReport:
    token = os.environ.get(CLOUDFLARE_TOKEN_VARIABLE, "")
    if not token:
        return PurgeReport("Cloudflare", 0, 0, f"{CLOUDFLARE_TOKEN_VARIABLE} is not set")
    endpoint = f"{target.api_url}/zones/{target.ident}/purge_cache"
    if len(urls) > CLOUDFLARE_WILDCARD_ABOVE:
        parts = urlsplit(base_url)
        ok, reason, sent = _cloudflare_post(endpoint, token, {"prefixes": [parts.netloc + parts.path]})
        return PurgeReport("Cloudflare", 1 if ok else 0, sent, None if ok else reason, wildcard=True)
    requests = purged = 0
    for start in range(0, len(urls), CLOUDFLARE_BATCH):
        batch = list(urls[start : start + CLOUDFLARE_BATCH])
        ok, reason, sent = _cloudflare_post(endpoint, token, {"files": batch})
        requests += sent
        if not ok:
            return PurgeReport("Cloudflare", purged, requests, reason)
        purged += len(batch)
    return PurgeReport("Cloudflare", purged, requests)


# Every CDN a publish can purge. A new one is one entry here (and its id in PublishSettings).
PURGERS: tuple[CdnPurger, ...] = (
    CdnPurger("CloudFront", "cloudfront_distribution", _cloudfront),
    CdnPurger("Cloudflare", "cloudflare_zone", _cloudflare, secret_variable=CLOUDFLARE_TOKEN_VARIABLE),
)
