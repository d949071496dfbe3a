"""A real S3 API for the publish tests: moto's server mode on 127.0.0.1, driven by real boto3 over HTTP.

moto logs one line per request it answers, which is how the tests count requests
(independently of the count the publisher reports). A stub HTTP server stands in
for Cloudflare's purge API and a WebSub hub, recording what it was sent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from tests.conftest import PROJECT
from tests.ports import announced_port

_LOGGED = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) (\S+) HTTP/1\.[01]')


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` in a child process, its log in a file."""

    def __init__(self, log: Path, *, environment: dict[str, str] | None = None) -> None:
        program = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(program).exists():
            pytest.skip("moto_server is not installed (pip install 'moto[server]': the test extra)")
        self.log = log
        with log.open("wb") as out:  # port 0: werkzeug binds a free one and logs it (tests/ports.py)
            self.process = subprocess.Popen(
                [program, "-H", "127.0.0.1", "-p", "0"],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(environment or {})},
            )  # fmt: skip
        try:
            self.port = announced_port(self.process, log, r"Running on http://127\.0\.0\.1:(\d+)", timeout=60)
        except RuntimeError:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def client(self, service: str = "s3"):
        return boto3.session.Session(**CREDENTIALS).client(service, endpoint_url=self.url)

    def requests(self) -> list[tuple[str, str]]:
        """Every request answered so far, (method, path), in order; waits until the log has caught up.

        moto writes a request's line after answering it, so a marker request is sent and awaited.
        """
        marker = f"/log-marker-{uuid.uuid4().hex}"
        try:
            self.client().head_bucket(Bucket=marker[1:])
        except Exception:  # noqa: BLE001 - the marker bucket does not exist; only its log line matters
            pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            lines = _LOGGED.findall(self.log.read_text(encoding="utf-8", errors="replace"))
            for index, (_, path) in enumerate(lines):
                if path == marker:
                    return [line for line in lines[:index] if not line[1].startswith("/log-marker-")]
            time.sleep(0.05)
        raise AssertionError("moto's log never showed the marker request")


CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def distribution_config() -> dict:
    """The least a CloudFront distribution needs, for moto."""
    origin = {"Id": "s3", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}
    return {
        "CallerReference": uuid.uuid4().hex, "Comment": "publish test", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all", "MinTTL": 0,
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "TrustedSigners": {"Enabled": False, "Quantity": 0}},
    }  # fmt: skip


def publish_environment(server: MotoServer, home: Path) -> dict[str, str]:
    """A child's environment: test credentials, CloudFront at moto, nothing from the user's ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_CLOUDFRONT=server.url, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        XDG_CACHE_HOME=str(home / "cache"),
    )  # fmt: skip
    return env


def run_feeds(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds.cli", *args],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class StubApi:
    """Cloudflare's purge API (``POST /client/v4/zones/{zone}/purge_cache``) and a WebSub hub, recording."""

    port: int = 0
    received: list[Recorded] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def purges(self) -> list[Recorded]:
        return [r for r in self.received if r.path.endswith("/purge_cache")]


def start_stub_api() -> tuple[StubApi, ThreadingHTTPServer]:
    stub = StubApi()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.startswith("/client/v4/zones/") and self.path.endswith("/purge_cache"):
                parsed = json.loads(body)
                ok = len(parsed.get("files", [])) <= 100 and self.headers.get("Authorization", "").startswith("Bearer ")
                answer = json.dumps({"success": ok, "errors": [] if ok else [{"code": 1, "message": "refused"}]})
            else:  # a WebSub hub: hub.mode=publish&hub.url=...
                parsed = {"form": body.decode("ascii")}
                answer = ""
            with lock:
                stub.received.append(Recorded(self.path, dict(self.headers), parsed))
            data = answer.encode()
            self.send_response(200 if answer else 204)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return stub, server
