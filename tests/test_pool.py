"""feeds.folder.pool: a bulk render's tasks shared by forked workers and the calling process, in task order."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from pathlib import Path

import pytest

import feeds.folder.bulk as bulk_module
from feeds.folder.pool import mapped

from .test_items import tied_catalog


def _who_rendered(job: bulk_module._Job, task: int) -> tuple[int, int, bool]:
    time.sleep(0.02)  # long enough that the calling process finds its worker busy
    if os.getpid() == job.settings.archive_page_size:  # the caller's share: it renders the last task, always
        raise ValueError("failed in the calling process")
    return task, os.getpid(), job.release


def test_a_pooled_render_shares_its_tasks_with_the_calling_process_in_order() -> None:
    """On 2 cores: one forked worker, and the caller renders tasks too; results in task order."""
    catalog, settings = tied_catalog(3)
    job = bulk_module._Job(catalog, settings)
    for tasks in (list(range(12)), [0, 1], [0]):
        results = list(mapped(job, _who_rendered, tasks, 2, None, bulk_module._pooled(job)))
        assert [task for task, _, _ in results] == tasks
        assert all(release for _, _, release in results)  # no process keeps decoded details
        ours = {task for task, pid, _ in results if pid == os.getpid()}
        assert ours and (len(tasks) == 1 or len({pid for _, pid, _ in results}) == 2), results


def test_a_failure_in_the_callers_share_of_a_pooled_render_stops_its_worker() -> None:
    catalog, settings = tied_catalog(3)
    # fail every task the caller renders: which ones it takes depends on timing (a task fixed in advance went to
    # the worker when forking it took longer than a task), but it always takes the last one
    settings = dataclasses.replace(settings, archive_page_size=os.getpid())
    job = bulk_module._Job(catalog, settings)
    with pytest.raises(ValueError, match="in the calling process"):
        list(mapped(job, _who_rendered, list(range(12)), 2, None))
    assert multiprocessing.active_children() == []


def _logged(job: bulk_module._Job, task: tuple[str, int]) -> int:
    """Notes each run of a task (one appended line: whole), then gives its number back."""
    log, number = task
    time.sleep(0.004 * (number % 3))  # uneven tasks: the caller and the worker overtake each other
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{number}\n")
    return number


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("count", [0, 1, 2, 5, 13])
def test_a_pooled_render_runs_every_task_exactly_once(tmp_path: Path, workers: int, count: int) -> None:
    """Each task runs once, in whichever process, however the caller's share and the workers' interleave;
    results in task order (a task rendered twice, once here and once queued, kept that order)."""
    catalog, settings = tied_catalog(3)
    job = bulk_module._Job(catalog, settings)
    log = tmp_path / "ran"
    log.touch()
    tasks = [(str(log), number) for number in range(count)]
    assert list(mapped(job, _logged, tasks, workers, None)) == list(range(count))
    assert multiprocessing.active_children() == []  # the pool was shut down and joined: every run is logged
    assert sorted(int(line) for line in log.read_text(encoding="utf-8").split()) == list(range(count))


def test_a_pooled_render_closed_early_stops_its_workers(tmp_path: Path) -> None:
    catalog, settings = tied_catalog(3)
    job = bulk_module._Job(catalog, settings)
    log = tmp_path / "ran"
    results = mapped(job, _logged, [(str(log), number) for number in range(40)], 3, None)
    assert next(results) == 0
    results.close()  # what `closing` does when the caller stops on an error
    assert multiprocessing.active_children() == []
    assert len(log.read_text(encoding="utf-8").split()) < 40  # the queued tasks were cancelled
