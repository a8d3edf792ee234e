"""What firing probes shows, on global rank 0 only: which moment, which probe computes, each forward pass (its split,
its samples, samples per second), then one summary line of what was written::

    probes at fit_end: embedding_dumper, linear_probe -> runs/x/version_0/probes (3.1 s)

On a terminal the display is a rich progress display (under Lightning's rich progress bar when that one is live) that
disappears when the moment is written, leaving the summary line. Elsewhere (a CI log, ``| tee``) it is plain lines
only, no control characters: one per pass and the summary. With the trainer's progress bar off
(``enable_progress_bar=False``) only the summary line is printed. Other ranks print nothing.

A pass reports its samples on rank 0 (under DDP, rank 0's share of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from latent_probe.artifacts.writer import probes_dir

LIVE, PLAIN, SUMMARY, SILENT = "live", "plain", "summary", "silent"
REFRESH_SECONDS = 0.1  # at most this often is a nested display redrawn while a pass runs


def display_style(trainer: Any) -> str:
    """How this process shows a firing: nothing off rank 0, the summary only without a progress bar, else by the console."""
    if not getattr(trainer, "is_global_zero", True):
        return SILENT
    if getattr(trainer, "progress_bar_callback", None) is None:
        return SUMMARY
    from rich import get_console

    console = get_console()
    return LIVE if console.is_terminal and not console.is_dumb_terminal else PLAIN


class MomentProgress:
    """The display of one moment's firing; ``style`` is one of ``live``, ``plain``, ``summary``, ``silent``.

    Use it as a context manager; the runner says which probe computes (``computing``) and how it ended (``finished``),
    the passes report through ``pass_over``.
    """

    def __init__(self, moment: str, probes: Sequence[str], log_dir: str | Path, style: str = SILENT) -> None:
        self.moment, self.probes, self.where, self.style = moment, list(probes), probes_dir(log_dir), style
        self.written: list[str] = []
        self.failed: list[str] = []
        self._started = time.monotonic()
        self.display: Any = None
        self._probe_task: Any = None
        self._refreshed = 0.0

    def __enter__(self) -> MomentProgress:
        if self.style == LIVE:
            self.display = live_progress()
            try:
                self.display.start()
            except Exception:  # noqa: BLE001  a rich before 14.1 has no nested displays (LiveError): plain lines
                self.display, self.style = None, PLAIN
                return self
            self._probe_task = self.display.add_task(f"probes at {self.moment}", total=len(self.probes))
            self._refresh(force=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if self.display is not None:
            for task in list(self.display.task_ids):  # drawn empty first: a display above ours keeps its last drawing
                self.display.remove_task(task)
            self._refresh(force=True)
            self.display.stop()  # transient: the display disappears
            self.display = None
        if kind is None and self.style != SILENT and (self.written or self.failed):
            print(self.summary(), flush=True)

    def summary(self) -> str:
        """``probes at MOMENT: a, b -> RUN/probes (3.1 s)``, naming the probes that failed."""
        line = f"probes at {self.moment}: {', '.join(self.written) or 'none written'} -> {self.where} "
        failed = f"; failed: {', '.join(self.failed)}" if self.failed else ""
        return line + f"({time.monotonic() - self._started:.1f} s{failed})"

    def computing(self, probe: str) -> None:
        """``probe`` computes now."""
        if self.display is not None:
            done = len(self.written) + len(self.failed)
            self.display.update(self._probe_task, description=f"probes at {self.moment}: {probe} ({done + 1}/{len(self.probes)})")
            self._refresh(force=True)

    def finished(self, probe: str, written: bool) -> None:
        """``probe`` has written its moment (``written``) or failed."""
        (self.written if written else self.failed).append(probe)
        if self.display is not None:
            self.display.advance(self._probe_task)
            self._refresh(force=True)

    def pass_over(self, split: str, samples: int) -> Callable[[int], None]:
        """A pass over ``samples`` samples of ``split`` begins; the returned function is called with each batch's size."""
        if self.style in (SILENT, SUMMARY):
            return _ignore
        return PassProgress(self, split, samples).advance

    def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.display is not None and (force or now - self._refreshed >= REFRESH_SECONDS):
            self._refreshed = now
            self.display.refresh()  # a display nested in Lightning's is drawn only when asked


class PassProgress:
    """One pass: a task of the live display, or one plain line when it ends."""

    def __init__(self, moment: MomentProgress, split: str, samples: int) -> None:
        self.moment, self.split, self.samples, self.seen = moment, split, samples, 0
        self.started = time.monotonic()
        progress = moment.display
        self.task = progress.add_task(f"  pass over {split}", total=samples, unit="samples") if progress is not None else None
        if samples == 0:
            self._end()

    def advance(self, count: int) -> None:
        """``count`` more samples went through the model."""
        self.seen += count
        progress = self.moment.display
        if progress is not None and self.task is not None:
            progress.advance(self.task, count)
            self.moment._refresh()
        if self.seen >= self.samples:
            self._end()

    def _end(self) -> None:
        progress = self.moment.display
        if progress is not None and self.task is not None:
            progress.remove_task(self.task)
            self.task = None
            self.moment._refresh(force=True)
        elif self.moment.style == PLAIN:
            seconds = time.monotonic() - self.started
            rate = f", {self.samples / seconds:,.0f} samples/s" if seconds > 0 else ""
            print(f"probes at {self.moment.moment}: pass over {self.split}, {self.samples:,} samples in {seconds:.1f} s{rate}",
                  flush=True)


def _ignore(count: int) -> None:
    """No display: nothing to advance."""


def live_progress() -> Any:
    """A transient rich ``Progress`` on the shared console (nested under Lightning's bar when that one is live)."""
    from rich import get_console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Samples per second of a pass."""

        def render(self, task: Any) -> Text:
            if task.fields.get("unit") != "samples" or not task.speed:
                return Text("")
            return Text(f"{task.speed:,.0f} samples/s", style="progress.data.speed")

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeElapsedColumn(), console=get_console(), transient=True)


def moment_progress(trainer: Any, moment: str, probes: Sequence[str], log_dir: str | Path) -> MomentProgress:
    """The display of firing ``probes`` at ``moment`` (by ``display_style``)."""
    return MomentProgress(moment, probes, log_dir, display_style(trainer))
