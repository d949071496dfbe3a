"""Servers the tests start on 127.0.0.1 without racing other processes for a port (issue 16).

A port found free by binding port 0 and closing that socket stays free only until another
process binds it: several test suites share a machine, so a server sometimes lost the race and
failed to start, or a readiness probe reached another suite's server. So a server that can binds
port 0 itself and says which port it got (:func:`announced_port` reads it from its output:
``feeds serve --port 0``, ``moto_server -p 0``); one that only takes a number (nginx) is started
through :func:`on_free_port`, which tries another port while the server reports it taken.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

Started = TypeVar("Started")
ATTEMPTS = 5
# what `feeds serve` prints first: "Serving N feeds on http://127.0.0.1:PORT/ — open it in a browser"
FEEDS_SERVE_PORT = r"Serving \d+ feeds on http://127\.0\.0\.1:(\d+)/"


class AddressInUse(Exception):
    """The server could not bind the port it was given: another process has it."""


def announced_port(process: subprocess.Popen, output: Path, pattern: str, timeout: float = 120) -> int:
    """The port a server started on port 0 names in ``output`` (the file its output goes to), ``pattern``'s group 1."""
    wanted = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        found = wanted.search(text)
        if found is not None:
            return int(found.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before naming its port:\n{text[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server named no port within {timeout:g} s:\n{text[-2000:]}")
        time.sleep(0.05)


def on_free_port(start: Callable[[int], Started]) -> Started:
    """``start(port)`` on a port that was free a moment ago; another one while ``start`` raises AddressInUse."""
    for _ in range(ATTEMPTS):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            return start(port)
        except AddressInUse:
            continue
    raise AddressInUse(f"every one of {ATTEMPTS} free ports was taken before the server bound it")


def wait_for_nginx(process: subprocess.Popen, run: Path, timeout: float = 30) -> None:
    """Return once nginx (prefix ``run``) listens: it writes its pid file after binding every port.

    AddressInUse when it gave up on a taken port (nginx tries for ~2.5 s, then exits).
    """
    pid_file, error_log = run / "nginx.pid", run / "error.log"
    deadline = time.monotonic() + timeout
    while True:
        if pid_file.exists() and pid_file.read_text().strip() == str(process.pid):
            return
        if process.poll() is not None:
            log = error_log.read_text(errors="replace") if error_log.exists() else ""
            if "Address already in use" in log:
                raise AddressInUse(log[-500:])
            raise RuntimeError(f"nginx exited ({process.returncode}):\n{log[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("nginx wrote no pid file in time")
        time.sleep(0.05)
