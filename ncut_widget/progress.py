"""One progress protocol for every long step: ``progress(stage, done, total)``.

The engine, the coloring and the feature extractor call it; tqdm bars and the widget's progress
traits both consume it. Nothing here imports a later stage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class ProgressFn(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


class Cancelled(Exception):
    """The computation was cancelled: raised from a progress callback, between two chunks of work.

    Every long step calls its progress callback after each chunk, so raising here stops a job
    within one chunk without the engine knowing about cancellation.
    """


def silent(stage: str, done: int, total: int) -> None:
    """The default: report nothing."""


class TqdmProgress:
    """A ``ProgressFn`` that shows one tqdm bar per stage (a new stage closes the last bar)."""

    def __init__(self, **tqdm_kwargs: object) -> None:
        self._kwargs = tqdm_kwargs
        self._bar = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm.auto import tqdm

        if stage != self._stage or self._bar is None:
            self.close()
            self._bar = tqdm(total=total, desc=stage, **self._kwargs)
            self._stage = stage
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._stage = None


def resolve_progress(progress: bool | ProgressFn | None) -> Callable[[str, int, int], None]:
    """Map ``True`` to tqdm bars, ``False``/``None`` to silence, a callable to itself."""
    if progress is True:
        return TqdmProgress()
    if progress is None or progress is False:
        return silent
    if callable(progress):
        return progress
    raise TypeError(f"progress must be a bool or a callable(stage, done, total), got {type(progress).__name__}")


def scaled(progress: Callable[[str, int, int], None], stage: str) -> Callable[[int, int], None]:
    """Adapt a ``(done, total)`` callback (e.g. ``knn_propagate``'s) to a named stage."""

    def report(done: int, total: int) -> None:
        progress(stage, done, total)

    return report


def cancellable(progress: Callable[[str, int, int], None], cancel: threading.Event) -> Callable[[str, int, int], None]:
    """Wrap ``progress`` so that it raises :class:`Cancelled` once ``cancel`` is set.

    The flag is checked before reporting, so the chunk that was running when ``cancel`` was set
    is the last one: the callback that follows it raises instead of reporting.
    """

    def report(stage: str, done: int, total: int) -> None:
        if cancel.is_set():
            raise Cancelled(f"cancelled during {stage}")
        progress(stage, done, total)

    return report
