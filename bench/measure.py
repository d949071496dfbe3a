"""What the benchmark scripts measure with: processes and their memory, the checkout measured, the live server.

Not a script. Shared by ``bench_scale.py`` and the scripts built beside it (``bench_watch.py``,
``bench_serve.py``, ``bench_alternate.py``, ``bench_read.py``, ``bench_parse_cache.py``,
``bench_reload.py``, ``bench_http.py``, ``bench_live_memory.py``, ``bench_stages.py``), so that each
measures as the others do:

- a process tree: its members (:func:`process_tree`), their summed PSS (:func:`pss_kib`,
  :class:`TreeMemorySampler`) and CPU (:func:`tree_cpu_seconds`); a command timed to completion
  (:func:`run_measured`); a process and its group stopped, on an interrupt too (:func:`stop_process`);
- the commands and their environment: the checkout measured (:func:`child_env`,
  :func:`measured_checkout`, :func:`revision`), ``feeds`` commands and configs;
- the live server: :class:`LiveServer`, :func:`wait_until_ok`, :func:`change_latencies`.

The corpus they run on and its changes (generated, one article edited or added and put back, read
through, outputs moved aside) are :mod:`corpus_changes`'.

Every measured process is started in a session of its own (``start_new_session``): a Ctrl-C at
the terminal reaches the script alone, which then stops the process and its whole group
(:func:`stop_process`) before the interrupt ends it, so no export, pool worker or server outlives it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corpus_changes import touch_one_article

BASE_URL = "https://feeds.example.org/"
FEED = "/all.rss"
SAMPLE_INTERVAL = 0.05  # seconds between two PSS samples of a tree
STOP_TIMEOUT = 20  # seconds a process has to end after SIGTERM before SIGKILL
STARTUP_TIMEOUT = 900  # seconds a server has to answer (a million articles load in ~100 s)


# --- a process tree: members, memory, CPU ---------------------------------------------------------------


_PROC_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()  # CONFIG_PROC_CHILDREN


def _children(pid: int) -> list[int]:
    """Direct children of pid: /proc/PID/task/*/children, or a scan of /proc where the kernel lacks it."""
    if not _PROC_CHILDREN:
        return _children_by_scan(pid)
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone
        return found
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "(comm)" and state
                found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    """pid and its descendants alive now, pid first."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def pss_kib(pid: int) -> int:
    """The process's PSS (/proc/PID/smaps_rollup), KiB; 0 when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its descendants alive now, each with the children it waited for.

    /proc/PID/stat's utime, stime, cutime and cstime: a worker that ended and was waited for is counted in its
    parent's, a live one in its own, so the difference of two readings is the tree's CPU between them.
    """
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += sum(int(field) for field in fields[11:15])  # fields 14-17, counted from the state (field 3)
    return ticks / _CLOCK_TICKS


class TreeMemorySampler:
    """Polls the summed PSS of a process and its descendants; keeps the peak (KiB)."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            pids = process_tree(self.pid)
            self.max_processes = max(self.max_processes, len(pids))
            self.peak_kib = max(self.peak_kib, sum(pss_kib(pid) for pid in pids))
            if self._stop.wait(self.interval):
                return


def stop_process(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """End ``process`` (started with ``start_new_session=True``) and everything left in its process group.

    SIGTERM to it first (a server stops its workers so), SIGKILL after ``timeout`` s; then SIGKILL to the
    group, for what it left behind: a pool worker of an export ended mid-way, re-parented to init, would
    run on. Its group id is its pid, which the kernel does not hand out again while the group has members.
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # nothing left: the usual case
        pass


@dataclass
class Run:
    seconds: float
    max_rss: float  # MiB, the largest single process
    pss_tree: float  # MiB, peak of the summed PSS over the tree
    processes: int  # most processes seen at once in the tree
    user: float = 0.0  # CPU seconds in user mode of the process and the children it waited for (wait4's rusage)
    system: float = 0.0  # and in the kernel

    @property
    def cpu(self) -> float:
        """user + system: the CPU the process tree used, which other load on the machine moves less than wall time."""
        return self.user + self.system


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to completion; its time, CPU (user, system), max RSS (largest process) and peak summed PSS
    of its tree. Interrupted (Ctrl-C, or any exception), it stops the command and its pool first, then re-raises."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        with TreeMemorySampler(process.pid) as sampler:
            stderr = process.stderr.read() if process.stderr else b""  # EOF: the whole tree has exited
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        stop_process(process)
        raise
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{stderr.decode()[-2000:]}")
    # ru_maxrss is KiB on Linux; wait4 reports the max over the child and its waited-for children
    return Run(
        elapsed, usage.ru_maxrss / 1024, sampler.peak_kib / 1024, sampler.max_processes, usage.ru_utime, usage.ru_stime
    )


# --- the code measured and its commands -----------------------------------------------------------------


def child_env(cache_home: Path) -> dict[str, str]:
    """The environment of every process measured: the interpreter's installed feeds, the cache under ``cache_home``.

    The code measured is the one this interpreter imports (a checkout installed in its virtual
    environment, or the one ``PYTHONPATH`` names), never the current folder's feeds/: run the script
    with each checkout's interpreter to compare them side by side; :func:`measured_checkout` names it.
    """
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    # as installed (pip compiles bytecode): a shell with PYTHONDONTWRITEBYTECODE set would have every
    # run compile the package from source again, ~0.1 s of each export that no user pays (issue 20)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # `python -m` would import the current folder's feeds/ first (run from another checkout: its code, not
    # the installed one the revision is printed of)
    env["PYTHONSAFEPATH"] = "1"
    return env


def measured_checkout(env: dict[str, str], python: str = sys.executable) -> Path:
    """The checkout whose feeds/ the measured processes import (see :func:`child_env`)."""
    probe = [python, "-c", "import feeds, pathlib; print(pathlib.Path(feeds.__file__).resolve().parent.parent)"]
    return Path(subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip())


def code_fingerprint(env: dict[str, str], python: str = sys.executable) -> str:
    """feeds.code_fingerprint() as the measured processes see it (every render signature includes it)."""
    probe = [python, "-c", "import feeds; print(feeds.code_fingerprint())"]
    return subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip()


def revision(checkout: Path) -> str:
    """The checkout's short HEAD, "(feeds/ modified)" after it when feeds/ differs from it; "unknown" outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--", "feeds"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (feeds/ modified)" if dirty else "")


def feeds_command(*args: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "feeds.cli", *args]


def write_config(path: Path, archives: bool, extra: str = "") -> Path:
    path.write_text(f"base_url: {BASE_URL}\n{extra}" + ("" if archives else "archive_page_size: 0\n"), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the live server ------------------------------------------------------------------------------------


def wait_until_ok(
    url: str, process: subprocess.Popen | None = None, timeout: float = STARTUP_TIMEOUT, poll: float = 0.1
) -> None:
    """Return once GET ``url`` answers 200 (its body read), asked again ``poll`` s after each failure.

    RuntimeError when ``process`` (the server, if given) exits first or after ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                response.read()
                return
        except OSError:  # refused while it starts, or 503 while this worker still loads
            time.sleep(poll)
    raise RuntimeError(f"{url} did not answer 200 in {timeout:g} s")


class LiveServer:
    """``feeds serve`` on a free 127.0.0.1 port: launched on entering the with block, up (/healthz answers 200)
    inside it, stopped with its whole process group when the block ends or the wait is interrupted (Ctrl-C).

    ``healthy_after``: seconds from the launch until /healthz first answered, asked every ``poll`` s.
    ``memory``: with ``sample_memory``, the summed PSS of its tree sampled from the launch to the block's end.
    """

    def __init__(
        self, corpus: Path, env: dict[str, str], config: Path, workers: int, *, poll: float = 0.1,
        sample_memory: bool = False,
    ) -> None:  # fmt: skip
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.command = feeds_command("serve", "--config", str(config), "--articles", str(corpus), "--port",
                                     str(self.port), "--workers", str(workers))  # fmt: skip
        self.env = env
        self.poll = poll
        self.sample_memory = sample_memory
        self.memory: TreeMemorySampler | None = None
        self.healthy_after: float | None = None
        self.started = 0.0

    def __enter__(self) -> LiveServer:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            if self.sample_memory:
                self.memory = TreeMemorySampler(self.process.pid).__enter__()
            wait_until_ok(f"{self.base}/healthz", self.process, poll=self.poll)
        except BaseException:  # __exit__ runs only once __enter__ returned: stop it here, Ctrl-C included
            self.__exit__()
            raise
        self.healthy_after = time.perf_counter() - self.started
        return self

    def __exit__(self, *exc: object) -> None:
        if self.memory is not None:
            self.memory.__exit__()
        stop_process(self.process)


CHANGE_SAMPLES = 3  # one-change latencies are the median of this many changes
CHANGE_TIMEOUT = 120  # seconds a change may take to show before the measurement gives up
POLL = 0.02  # seconds between two looks for a change


def change_latencies(
    show: Callable[[str], bool],
    what: str,
    corpus: Path,
    change: Callable[[Path, str], str] = touch_one_article,
    count: int = CHANGE_SAMPLES,
    gap: float = 0.5,
) -> list[float] | None:
    """Seconds from each of ``count`` changes (``change``: an article edited, or added) until ``show(title)``
    holds, polled every 20 ms; each next change ``gap`` seconds after the last one showed, so that it does not
    land in the last one's rebuild. None (and a line on stderr) when one did not show within 120 s."""
    samples = []
    for _ in range(count):
        title = change(corpus, f"{what}-{time.time_ns()}")
        changed = time.perf_counter()
        while not show(title):
            if time.perf_counter() - changed > CHANGE_TIMEOUT:
                late = f"{title!r} did not appear within {CHANGE_TIMEOUT} s of the change"
                print(f"error: {what}: {late}", file=sys.stderr)
                return None
            time.sleep(POLL)
        samples.append(time.perf_counter() - changed)
        time.sleep(gap)
    return samples


Latencies = tuple[float | None, float | None, float | None]  # (the first change after start, an edit, a new file)


def first_and_median(samples: list[float] | None) -> tuple[float | None, float | None]:
    """(the first sample, the median of all); (None, None) for none."""
    return (None, None) if not samples else (samples[0], statistics.median(samples))
