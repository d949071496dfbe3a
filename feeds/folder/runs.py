"""What an export run reports, and who is told: :class:`ExportRun` and :class:`ExportObserver`.

A module of their own that imports none of the export stack, so the command line can define its
observers when it is imported (``feeds publish`` and ``feeds serve`` never import the exporter:
~28 ms of start-up) and still subclass :class:`ExportObserver`. :class:`feeds.folder.exporter.Exporter`
runs the exports and tells the observers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feeds import websub
    from feeds.folder.export import ExportSummary


@dataclass(frozen=True, slots=True)
class ExportRun:
    """What one run did. ``summary`` is None when nothing changed since the last export (nothing was read).

    ``problems`` are the articles' problems as lines (``PATH[:LINE]: error|warning: MESSAGE``;
    under ``--watch`` only their counts); ``notes`` are warnings about the run itself (the
    parse cache). ``changed``: the feed paths whose bytes this run changed or added.
    """

    out_dir: Path
    summary: ExportSummary | None
    feeds: int
    articles: int
    errors: int
    warnings: int
    seconds: float
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> tuple[str, ...]:
        return self.summary.changed if self.summary is not None else ()


class ExportObserver:
    """Told about an exporter's runs, in the order observers were added; every method is optional.

    Called on the thread that ran the export (under ``--watch``, the reload thread).
    """

    def loaded(self) -> None:
        """A run read its articles and built their catalog; rendering and placing follow.

        Not called when nothing changed (nothing is read) nor for the changes ``--watch``
        exports. What the run loaded lives until the run's end; the process's owner may
        act on that here (the command line hides it from the garbage collector)."""

    def exported(self, run: ExportRun) -> None:
        """A run finished: its generation is live (or nothing changed). The WebSub ping follows."""

    def pinged(self, report: websub.PingReport) -> None:
        """The hub was told about the feeds a run changed (or tried to be: ``report.ok``)."""

    def failed(self, error: Exception) -> None:
        """Under ``--watch``: an export failed; the previous one stays live, the next change retries."""
