"""The process pool of a bulk render: forked workers and the calling process sharing one job's tasks.

:func:`mapped` runs ``function(job, task)`` for each task and yields the results in task order: in
this process, or on N cores with N - 1 forked workers, this process taking the next task whenever
the result it must yield next is not ready. Workers get the job from the pool's initializer (the
fork hands it over: it is never pickled, and never a global of the caller's, so two renders in one
process cannot see each other's); a worker that dies raises :class:`WorkerDied`, never a hang; a
generator closed early (an error in the caller) shuts its pool down at once. :mod:`feeds.folder.bulk`
renders with it.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, TypeVar

from feeds.read.parse_pool import die_with_parent

__all__ = ["WorkerDied", "mapped"]

J = TypeVar("J")


class WorkerDied(RuntimeError):
    """A render worker was killed (the OOM killer, say): nothing of the render can be trusted."""


# The job of this process when it is a forked render worker: empty in every other process. The
# pool's initializer puts the job here once, at the worker's start (the worker process owns it and
# lives exactly as long as the job); a process pool has no other channel from its initializer to the
# tasks that would not pickle the catalog with every task.
_worker_job: list[Any] = []


def _start_worker(job: Any, on_start: Callable[[], None] | None) -> None:
    # Everything inherited from the parent (the catalog) is only read here: freeze it, so this
    # worker's garbage collections never walk it and copy its pages (copy-on-write memory). Here,
    # not in the parent: gc.freeze() is process-wide state, and this process is the job's own.
    gc.freeze()
    _worker_job.append(job)
    if on_start is not None:
        on_start()
    die_with_parent()


def _in_job(function: Callable[[Any, Any], Any], task: Any) -> Any:
    return function(_worker_job[0], task)


def _return_free_heap() -> None:
    """Give the C heap's free pages back to the system before forking workers (glibc's malloc_trim).

    Reading leaves tens of MiB freed but still resident in this process's heap (the
    readers' records, parsed once and moved into the parse cache): every forked worker
    would inherit those pages and the run's summed PSS count them (issue 14: +20 MiB
    at 10,000 articles). Elsewhere than glibc this does nothing.
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def mapped(
    job: J,
    function: Callable[[J, Any], Any],
    tasks: list,
    workers: int,
    on_start: Callable[[], None] | None,
    pooled: J | None = None,
) -> Iterator[Any]:
    """``function(job, task)`` for each task, in order: in-process, or on ``workers`` cores, where every
    process (the workers and this one) runs the tasks with ``pooled`` (``job`` when None).

    On several cores, ``workers - 1`` forked workers each have a few tasks
    queued ahead, and this process renders the next task not yet handed out
    whenever the result it yields next is not ready: the tasks are shared
    between them as each is free, and the results come back in task order.
    """
    if workers <= 1 or not hasattr(os, "fork"):
        for task in tasks:
            yield function(job, task)
        return
    _return_free_heap()
    pooled = job if pooled is None else pooled
    pool = ProcessPoolExecutor(
        max_workers=workers - 1, mp_context=get_context("fork"), initializer=_start_worker, initargs=(pooled, on_start)
    )
    in_job = functools.partial(_in_job, function)
    queued: dict[int, Future] = {}
    ready: dict[int, Any] = {}  # results of tasks this process rendered before their turn
    taken = 0  # tasks handed out so far (to the pool or to this process), in task order
    # This process's collector is left as its owner set it (process-wide state): the command line froze
    # what it loaded, and a library caller's load left the catalog in the oldest generation
    # (bulk_allocation), which no collection walked during a 10,000-article render (gc.callbacks).
    try:
        for index in range(len(tasks)):
            while index not in ready:
                # each worker has a task running and, while many are left, one waiting; never the last
                depth = (workers - 1) * (2 if len(tasks) - taken > 2 * (workers - 1) else 1)
                while len(tasks) - taken > 1 and len(queued) < depth:
                    queued[taken] = pool.submit(in_job, tasks[taken])
                    taken += 1
                future = queued.get(index)
                if future is not None and (future.done() or taken == len(tasks)):
                    ready[index] = queued.pop(index).result()
                else:  # its worker is still busy: render the next task here meanwhile
                    ready[taken] = function(pooled, tasks[taken])
                    taken += 1
            yield ready.pop(index)
    except BrokenProcessPool as exc:
        raise WorkerDied(f"a render worker died ({exc})") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # an error, or the caller closing us: stop at once
