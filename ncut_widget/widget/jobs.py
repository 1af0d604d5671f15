"""Background work for a widget without races: the job computes, the widget's thread writes traits.

traitlets and ipywidgets are not thread-safe. While one thread is inside ``hold_sync`` or
``hold_trait_notifications``, a trait write from another thread skips its validator (it is
validated later, on the first thread) and rides in the first thread's message. So a job never
writes a trait itself: it posts each write to the :class:`Mailbox` of the widget, whose owner (the
thread that created the widget, where the user's cells and the browser's messages are handled)
applies them in order.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import functools
import itertools
import sys
import threading
import time
import weakref
from collections.abc import Callable, Hashable

from ..progress import Cancelled, cancellable

Write = Callable[[], None]
# At interpreter exit, how long running jobs get to reach their next progress report.
_EXIT_WAIT_S = 30.0


class Mailbox:
    """Trait writes posted from any thread, applied in posting order on the owner thread.

    The owner is the thread that creates the mailbox. Where an asyncio loop is running there (a
    Jupyter cell: ipykernel runs cells inside its asyncio loop on the main thread), a post asks
    the loop to apply the writes soon (``loop.call_soon_threadsafe``): they run between cells and
    browser messages, never during one. Where no loop is running (a plain script), posted writes
    wait until the owner calls :meth:`apply`; ``NcutWidget.wait()`` and ``NcutWidget.results``
    do. A post made on the owner thread is applied at once.
    """

    def __init__(self) -> None:
        self._owner = threading.get_ident()
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._lock = threading.Lock()
        self._writes: dict[Hashable, Write] = {}
        self._ids = itertools.count()
        self._scheduled = False
        self._closed = False

    @property
    def on_owner_thread(self) -> bool:
        return threading.get_ident() == self._owner

    @property
    def has_loop(self) -> bool:
        """Whether posted writes are applied by a running event loop (else by :meth:`apply`)."""
        return self._loop is not None

    def post(self, write: Write, key: Hashable | None = None) -> None:
        """Queue ``write`` for the owner thread.

        A ``key`` makes the write replace a pending one with the same key (progress only needs
        its latest value); the replacement moves to the end, so posting order still holds.
        """
        with self._lock:
            if self._closed:
                return
            if key is None:
                key = ("write", next(self._ids))
            self._writes.pop(key, None)
            self._writes[key] = write
            schedule = self._loop is not None and not self._scheduled
            self._scheduled = self._scheduled or schedule
        if self.on_owner_thread:
            self.apply()
        elif schedule:
            try:
                self._loop.call_soon_threadsafe(self.apply)  # type: ignore[union-attr]
            except RuntimeError:  # the loop is closed (kernel shutting down): nobody to show it to
                pass

    def apply(self) -> None:
        """Run the pending writes in order. Does nothing off the owner thread."""
        if not self.on_owner_thread:
            return
        with self._lock:
            writes = list(self._writes.values())
            self._writes.clear()
            self._scheduled = False
        failures = []
        for write in writes:
            try:
                write()
            except Exception as err:  # noqa: BLE001 - one bad write must not drop the later ones
                failures.append(err)
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Drop pending writes (they may hold whole results) and ignore later posts."""
        with self._lock:
            self._closed = True
            self._writes.clear()


class Job:
    """One background computation: a daemon thread and a cancel flag.

    ``work(progress)`` runs on the thread with ``progress`` raising :class:`Cancelled` once
    :meth:`cancel` is called (the engine calls it between chunks). Its return value goes to
    ``done``, its exception to ``failed``, both on the worker thread: they post trait writes.
    The job keeps no reference to ``work`` once it ends, so finished jobs hold no images or models.
    """

    def __init__(
        self,
        work: Callable[[Callable[[str, int, int], None]], object],
        progress: Callable[[str, int, int], None],
        done: Callable[[object], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self._cancel = threading.Event()
        self._steps: tuple | None = (work, progress, done, failed)
        self._thread: threading.Thread | None = None

    def cancel(self) -> None:
        """Ask the job to stop at its next progress report (within one chunk of work)."""
        self._cancel.set()

    def start(self) -> None:
        """Run on a daemon thread (the cell returns at once)."""
        self._thread = threading.Thread(target=self.run, name="ncut-widget-explore", daemon=True)
        _running.add(self)
        self._thread.start()

    def run(self) -> None:
        """Run on the calling thread."""
        assert self._steps is not None, "a job runs once"
        work, progress, done, failed = self._steps
        self._steps = None
        try:
            result = work(cancellable(progress, self._cancel))
            if self._cancel.is_set():  # cancelled after the last report: do not show it
                raise Cancelled("cancelled")
        except BaseException as err:  # noqa: BLE001 - handed to the widget, re-raised by wait()
            failed(err)
        else:
            done(result)
        # The job's features, graphs and embeddings are garbage now (only the results live on).
        release_freed_memory()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


_running: weakref.WeakSet[Job] = weakref.WeakSet()


@atexit.register
def _stop_running_jobs() -> None:
    # A daemon thread still inside torch when the interpreter tears down aborts the process
    # ("terminate called without an active exception"): cancel the jobs, let them stop.
    jobs = [job for job in list(_running) if job.is_alive()]
    for job in jobs:
        job.cancel()
    deadline = time.monotonic() + _EXIT_WAIT_S
    for job in jobs:
        job.join(max(0.0, deadline - time.monotonic()))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return None


def release_freed_memory() -> None:
    """Give the C heap's free pages back to the operating system (glibc ``malloc_trim(0)``).

    A job allocates and frees hundreds of MB of buffers; glibc keeps freed memory in its arenas,
    so without this the process RSS stays up after the job (measured: +250 MB after one re-run
    of an 8-photo explore cell, every byte of it free). A no-op without glibc.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
