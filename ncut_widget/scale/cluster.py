"""Where the tasks run: a loopback ``LocalCluster``, a scheduler address, or a local dask scheduler."""

from __future__ import annotations

import contextlib
import logging
import os
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
