"""A bucket on S3 or an S3-compatible store (R2, B2, MinIO, Ceph), through boto3.

IO only: what to send comes from :mod:`feeds.bucket.plan`. Credentials come
from boto3's standard chain (environment, ``~/.aws``, instance roles); they are
never read, printed or stored here. Every HTTP request boto3 sends (retries
included) is counted, so a publish can say what it cost and the tests can hold
it to its budget.

Errors: :class:`StoreUnusable` (bad credentials, unknown bucket, unreachable
endpoint: nothing can work, exit 2) is raised; a failed upload or deletion is
returned to the caller, who names it (exit 1).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import boto3
import botocore.config
import botocore.exceptions
import botocore.handlers

from feeds.bucket.plan import Entry, PublishUnusable, Target

# S3's DeleteObjects takes at most 1,000 keys a request.
DELETE_BATCH = 1_000
_REFUSED_CREDENTIALS = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "AuthorizationHeaderMalformed", "InvalidClientTokenId", "UnrecognizedClientException",
}  # fmt: skip


class StoreUnusable(PublishUnusable):
    """The bucket cannot be used at all (credentials refused, no such bucket, endpoint down); one line."""


@dataclass(frozen=True, slots=True)
class ListedObject:
    size: int
    etag: str  # S3's ETag without quotes: the MD5 of the bytes for a single-part upload


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class RequestCounter:
    """Counts the HTTP requests a boto3 client sends (every retry too), from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def attach(self, client) -> None:
        client.meta.events.register("before-send", self._sent)

    def _sent(self, **_) -> None:  # botocore calls event handlers with keyword arguments only
        with self._lock:
            self.count += 1


class Bucket:
    """One target bucket and prefix; thread-safe (boto3 clients are), ``workers`` connections wide."""

    def __init__(
        self, target: Target, *, endpoint_url: str | None, region: str | None, workers: int, counter: RequestCounter
    ) -> None:
        self.target = target
        self._where = f"{target}" + (f" at {endpoint_url}" if endpoint_url else "")
        # Over https the body is bound by the signed x-amz-checksum-sha256 header (see _put), which S3, R2
        # and MinIO check, so botocore need not hash every body again for the signature. Over plain http
        # (a local MinIO, moto) the body stays signed: TLS is not there to keep it intact, and a store that
        # ignores the checksum header (moto, older Ceph) would otherwise take any body, or a rewritten
        # DeleteObjects list (its CRC-32 is no protection against a forger).
        secure = endpoint_url is None or endpoint_url.lower().startswith("https://")
        s3: dict[str, object] = {"payload_signing_enabled": not secure}
        if endpoint_url:  # path-style addressing: MinIO and most self-hosted stores have no per-bucket host names
            s3["addressing_style"] = "path"
        config = botocore.config.Config(
            max_pool_connections=workers,
            retries={"mode": "standard", "max_attempts": 5},  # 5xx, throttling, dropped connections
            connect_timeout=10,
            read_timeout=60,
            # botocore >= 1.36 computes a CRC32 of every body (and checks one on every GET) by default; our
            # uploads carry the manifest's SHA-256 instead, computed once by the export, and the state object
            # is gzip, which has its own CRC-32. "when_required" keeps botocore's checksum where S3 demands
            # one (DeleteObjects: a CRC-32 header).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3=s3,
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        # botocore sends "Expect: 100-continue" with every PutObject and waits for the interim response
        # before the body: one more round trip per upload (and one more response for the store to write),
        # to spare sending a body the store would refuse. Ours are small (an export's files are at most a
        # few hundred kB); a refused one costs its resending at most.
        self.client.meta.events.unregister("before-call.s3", botocore.handlers.add_expect_header)
        counter.attach(self.client)

    def _unusable(self, exc: Exception) -> StoreUnusable:
        if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
            return StoreUnusable(f"{self._where}: no AWS credentials (environment, ~/.aws or an instance role)")
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _code(exc)
            if code == "NoSuchBucket":
                return StoreUnusable(f"{self._where}: no such bucket {self.target.bucket!r}")
            if code == "AccessDenied" or code == "403":
                return StoreUnusable(
                    f"{self._where}: access denied ({code}): check the credentials and the IAM permissions "
                    "(s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket; see the README)"
                )
            if code in _REFUSED_CREDENTIALS:
                return StoreUnusable(f"{self._where}: the credentials were refused ({code})")
            return StoreUnusable(f"{self._where}: {code or 'error'}: {exc}")
        return StoreUnusable(f"{self._where}: cannot reach the store ({exc})")

    def read_state(self) -> bytes | None:
        """The state object's bytes, or None when there is none (a first publish). One GET.

        Raises StoreUnusable for what makes every later request fail too.
        """
        try:
            response = self.client.get_object(Bucket=self.target.bucket, Key=self.target.state_key)
            return response["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise self._unusable(exc) from None
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._unusable(exc) from None

    def write_state(self, data: bytes) -> str | None:
        """Store the state object; None when stored, else why not."""
        return self._put(self.target.state_key, data, "application/gzip", "no-store", hashlib.sha256(data).digest())

    def upload(self, entry: Entry, data: bytes) -> str | None:
        """One site file with the manifest's headers; None when stored, else why not.

        ``data`` must be the bytes whose SHA-256 the manifest names (the caller checked them): the store
        is told that digest and refuses a body that differs (BadDigest), so what lands is the manifest's.
        """
        digest = bytes.fromhex(entry.sha256)
        return self._put(self.target.key(entry.path), data, entry.content_type, entry.cache_control, digest)

    def _put(self, key: str, data: bytes, content_type: str, cache_control: str, sha256: bytes) -> str | None:
        try:
            self.client.put_object(
                Bucket=self.target.bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control,
                # x-amz-checksum-sha256: S3, R2 and MinIO check it against the body and refuse a mismatch; as a
                # signed header it binds the unsigned payload (payload_signing_enabled above)
                ChecksumSHA256=base64.b64encode(sha256).decode("ascii"),
            )  # fmt: skip
        except botocore.exceptions.ClientError as exc:
            return f"{_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            return str(exc)
        return None

    def delete(self, paths: Sequence[str]) -> dict[str, str]:
        """Delete site paths' objects, 1,000 a request; path → why, for each one not deleted."""
        failed: dict[str, str] = {}
        for start in range(0, len(paths), DELETE_BATCH):
            batch = paths[start : start + DELETE_BATCH]
            by_key = {self.target.key(path): path for path in batch}
            try:
                response = self.client.delete_objects(
                    Bucket=self.target.bucket,
                    Delete={"Objects": [{"Key": key} for key in by_key], "Quiet": True},  # Quiet: errors only
                )
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError) as exc:
                failed.update((path, str(exc)) for path in batch)
                continue
            for error in response.get("Errors", []):
                path = by_key.get(error.get("Key", ""), error.get("Key", "?"))
                failed[path] = f"{error.get('Code')}: {error.get('Message', '')}"
        return failed

    def list_objects(self) -> dict[str, ListedObject]:
        """Every object under the prefix (site path → size and ETag), for ``--verify``; 1,000 a request."""
        found: dict[str, ListedObject] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.target.bucket, Prefix=self.target.prefix):
                for item in page.get("Contents", []):
                    path = item["Key"][len(self.target.prefix) :]
                    found[path] = ListedObject(int(item["Size"]), str(item.get("ETag", "")).strip('"'))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._unusable(exc) from None
        return found
