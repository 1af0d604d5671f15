"""Where the tasks run: a loopback ``LocalCluster``, a scheduler address, or a local dask scheduler."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from ._deps import require

# Scheduler names that need no cluster: dask's own single-machine schedulers.
LOCAL_SCHEDULERS = ("threads", "sync", "synchronous", "processes")


@contextlib.contextmanager
def local_cluster(
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str | int = "auto",
    silence_logs: int = logging.WARNING,
) -> Iterator[Any]:
    """A ``dask.distributed.LocalCluster`` of worker processes on 127.0.0.1, and its ``Client``.

    Loopback only (nothing listens on other interfaces), no dashboard. Each worker process
    runs torch with one thread per dask thread (the nanny sets ``OMP_NUM_THREADS``), so
    ``n_workers * threads_per_worker`` should not exceed the cores.

    Yields:
        The connected ``distributed.Client``; cluster and client close on exit.
    """
    distributed = require("distributed")
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        memory_limit=memory_limit,
        silence_logs=silence_logs,
    )
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def get_client(
    scheduler: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | int = "auto",
) -> Iterator[Any]:
    """Run the enclosed dask computations on ``scheduler``.

    Args:
        scheduler: ``None`` starts a :func:`local_cluster` (``n_workers``: one per core by
            default); an address such as ``"tcp://127.0.0.1:8786"`` connects to a running
            scheduler; ``"threads"`` / ``"sync"`` / ``"processes"`` use dask's local schedulers
            (no cluster; ``sync`` runs every task in this process, for debugging).

    Yields:
        A ``distributed.Client``, or ``None`` for a local dask scheduler.
    """
    if scheduler is not None and scheduler in LOCAL_SCHEDULERS:
        dask = require("dask")
        with dask.config.set(scheduler=scheduler):
            yield None
        return
    if scheduler is None:
        workers = n_workers if n_workers is not None else max(1, (os.cpu_count() or 1) // threads_per_worker)
        with local_cluster(workers, threads_per_worker, memory_limit) as client:
            yield client
        return
    distributed = require("distributed")
    try:
        client = distributed.Client(scheduler, timeout="20s")
    except OSError as err:
        raise ConnectionError(f"cannot reach the dask scheduler at {scheduler!r}: {err}") from err
    with client:
        yield client


def current_client() -> Any:
    """The ``distributed.Client`` in use (``get_client`` or one the user made), or ``None``."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def compute(*collections: Any, progress: bool = True, client: Any = None) -> tuple[Any, ...]:
    """``dask.compute(*collections)`` on ``client`` (default: the current one, else the
    configured local scheduler), showing dask's progress bar when ``progress``."""
    client = current_client() if client is None else client
    if client is not None:
        futures = client.compute(list(collections))
        if progress:
            require("distributed").progress(futures)
        return tuple(client.gather(futures))
    dask = require("dask")
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return dask.compute(*collections)
    return dask.compute(*collections)


def _import_task_code() -> None:
    import torch

    from . import blocks, features, models, synthetic  # noqa: F401

    torch.zeros(1)


def warm_workers(client: Any) -> None:
    """Import torch and the task code on every worker now, so the first tasks do not pay for
    imports (hundreds of MB and seconds) and timings and memory watches measure the work."""
    client.run(_import_task_code)


# Per-process state of watch_worker_memory's sampler (a worker runs one watch at a time).
_WATCH: dict[str, Any] = {}


def _watch_start(interval: float, dask_worker: Any = None) -> None:
    import psutil

    _watch_stop()
    proc = psutil.Process()
    state: dict[str, Any] = {"start": proc.memory_info().rss, "stop": threading.Event(), "managed": 0}
    state["peak"] = state["start"]

    def sample() -> None:
        while not state["stop"].wait(interval):
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            if dask_worker is not None:  # bytes of task results the worker holds (dask's count)
                state["managed"] = max(state["managed"], int(dask_worker.state.nbytes))

    state["thread"] = threading.Thread(target=sample, name="ncut-memory-watch", daemon=True)
    state["thread"].start()
    _WATCH["state"] = state


def _watch_stop() -> tuple[int, int, int] | None:
    state = _WATCH.pop("state", None)
    if state is None:
        return None
    state["stop"].set()
    state["thread"].join()
    return state["start"], state["peak"], state["managed"]


@contextlib.contextmanager
def watch_worker_memory(client: Any, interval: float = 0.01) -> Iterator[dict[str, tuple[int, int, int] | None]]:
    """Sample every worker's resident memory, and the task results it holds, while the block runs.

    ``ru_maxrss`` cannot tell a worker's peak: a worker process starts by fork + exec from the
    nanny, and Linux carries the parent's peak across ``execve``. So each worker samples its
    own RSS every ``interval`` seconds in a thread.

    Yields:
        A dict filled on exit: worker address -> ``(RSS at start, peak RSS, peak bytes of task
        results held)``, or ``None`` for a worker that joined during the block (e.g. one
        restarted after a crash).
    """
    client.run(_watch_start, interval)
    result: dict[str, tuple[int, int, int] | None] = {}
    try:
        yield result
    finally:
        result.update(client.run(_watch_stop))
