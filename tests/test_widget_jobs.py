"""The explore() job: trait writes on the widget's thread, cancellation, close(), re-runs of a cell."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget, explore
from ncut_widget.features.backbones import Backbone
from ncut_widget.progress import Cancelled, cancellable
from ncut_widget.widget import cells, jobs, pipeline


class PoolBackbone(Backbone):
    """A fast stand-in backbone: 12 statistics of 8x8 pixel blocks. ``on_call(n)`` runs inside
    the n-th batch, so a test can act (or block) in the middle of the job's first chunk."""

    name = "pool"
    patch_size = 8

    def __init__(self, on_call: Callable[[int], None] | None = None) -> None:
        self.calls = 0
        self.on_call = on_call

    def features(self, x: torch.Tensor, layers: object) -> torch.Tensor:
        self.calls += 1
        if self.on_call is not None:
            self.on_call(self.calls)
        p = torch.nn.functional.avg_pool2d(x, 8)
        return torch.cat([p, p * p, p.sin(), p.cos()], dim=1).permute(0, 2, 3, 1)

    def to(self, device: torch.device) -> PoolBackbone:
        return self


def _photos(n: int = 2) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(n)]


def _explore(backbone: Backbone | None = None, n_images: int = 2, **kwargs: object) -> NcutWidget:
    # 2 images at 32 and 64 px in 8 px patches: 2 * (4 * 4 + 8 * 8) = 160 nodes, about a second.
    return explore(_photos(n_images), resolutions=(32, 64), backbone=backbone or PoolBackbone(),
                   n_eig=6, color="pca", **kwargs)


def _blocking_backbone() -> tuple[PoolBackbone, threading.Event, threading.Event]:
    """A backbone whose first batch signals ``inside`` and waits for ``go``."""
    inside, go = threading.Event(), threading.Event()

    def hold(call: int) -> None:
        if call == 1:
            inside.set()
            go.wait(30)

    return PoolBackbone(on_call=hold), inside, go


def _either(*events: threading.Event, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.is_set() for e in events):
            return True
        time.sleep(0.01)
    return False


# --- trait writes happen on the widget's thread --------------------------------------------------
def test_a_users_write_during_a_job_write_is_validated_at_once_and_the_job_survives(monkeypatch):
    in_job_write, release = threading.Event(), threading.Event()
    writers: list[threading.Thread] = []

    class Gated(NcutWidget):
        @traitlets.validate("status")
        def _gate(self, proposal: dict) -> str:
            writers.append(threading.current_thread())
            if threading.current_thread() is not threading.main_thread():
                # A job writing traits itself is now inside hold_trait_notifications/hold_sync,
                # where writes from other threads skip their validators.
                in_job_write.set()
                release.wait(30)
            return proposal["value"]

    monkeypatch.setattr(pipeline, "NcutWidget", Gated)
    reached_backbone = threading.Event()
    w = _explore(PoolBackbone(on_call=lambda call: reached_backbone.set()))
    try:
        # Either the job blocks inside its own trait write, or it has posted its first progress
        # write and reached the backbone.
        assert _either(in_job_write, reached_backbone)
        with pytest.raises(traitlets.TraitError, match="not ready yet"):
            w.selected = [1_000_000]
    finally:
        release.set()
    w.wait(timeout=120)
    assert (w.stage, w.error) == ("Done", "")
    assert all(t is threading.main_thread() for t in writers)
    w.selected = [5]
    assert w.selected == [5]


def test_with_an_event_loop_the_loop_applies_the_jobs_writes_on_its_thread():
    writers: set[str] = set()

    async def cell() -> NcutWidget:
        w = _explore()
        w.observe(lambda change: writers.add(threading.current_thread().name), names=["stage", "meta"])
        for _ in range(1200):  # no wait(): the loop applies the writes between its callbacks
            if w.stage in ("Done", "Failed"):
                break
            await asyncio.sleep(0.05)
        return w

    w = asyncio.run(cell())
    assert w.stage == "Done" and w.meta["n_nodes"] == 160
    assert writers == {threading.main_thread().name}


def test_without_an_event_loop_the_jobs_writes_wait_for_wait():
    w = _explore()
    w._job.join(120)  # the job is over, but nothing on this thread has applied its writes
    assert not w._job.is_alive()
    assert w.stage == "Starting" and w.meta == {}
    w.wait()
    assert w.stage == "Done" and w.meta["n_nodes"] == 160
    w.selected = [5]  # validated against the results wait() applied


# --- cancellation --------------------------------------------------------------------------------
def test_a_cancelled_job_stops_within_one_chunk():
    cancel = threading.Event()
    backbone = PoolBackbone(on_call=lambda call: cancel.set())  # cancel inside the first batch
    # 20 images, batches of 8: 3 backbone calls per resolution if nothing stops the job.
    with pytest.raises(Cancelled):
        pipeline.compute(_photos(20), resolutions=(32, 64), backbone=backbone, n_eig=6, color="pca",
                         progress=cancellable(lambda *report: None, cancel))
    assert backbone.calls == 1


@pytest.mark.parametrize("stage", ["features", "Normalized cut", "Coloring"])
def test_every_stage_stops_at_its_next_progress_report(stage: str):
    cancel = threading.Event()
    delivered: list[str] = []

    def report(name: str, done: int, total: int) -> None:
        delivered.append(name)
        if name.startswith(stage):
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled during"):
        pipeline.compute(_photos(), resolutions=(32, 64), backbone=PoolBackbone(), n_eig=6, color="pca",
                         progress=cancellable(report, cancel))
    # The report that set the flag was the last one delivered, and the first of its stage.
    assert delivered[-1].startswith(stage)
    assert sum(name.startswith(stage) for name in delivered) == 1


def test_cancel_shows_cancelled_and_wait_raises():
    backbone, inside, go = _blocking_backbone()
    w = _explore(backbone)
    assert inside.wait(60)
    w.cancel()
    go.set()
    with pytest.raises(Cancelled, match="cancelled"):
        w.wait(timeout=120)
    assert (w.stage, w.status, w.error, w.meta) == ("Cancelled", "Cancelled", "", {})
    assert backbone.calls == 1


# --- close() ---------------------------------------------------------------------------------------
def test_close_frees_the_results_and_the_payload():
    w = _explore()
    w.wait(timeout=120)
    results = weakref.ref(w.results)
    assert w.payload
    w.close()
    gc.collect()
    assert results() is None
    assert w.payload == b"" and w.meta == {} and w.comm is None
    with pytest.raises(RuntimeError, match="closed: its results were freed"):
        w.results  # noqa: B018


def test_close_cancels_a_running_job():
    backbone, inside, go = _blocking_backbone()
    w = _explore(backbone)
    assert inside.wait(60)
    w.close()
    go.set()
    with pytest.raises(Cancelled, match="closed"):
        w.wait(timeout=120)
    assert not w._job.is_alive()
    assert backbone.calls == 1  # stopped after the batch that was running
    assert w.meta == {} and w.payload == b""


def test_a_script_that_exits_while_a_job_computes_exits_cleanly(tmp_path):
    # Without cancelling at exit, the daemon thread is inside torch during interpreter teardown
    # and the process aborts ("terminate called without an active exception", status 134).
    script = tmp_path / "exits_early.py"
    script.write_text(textwrap.dedent(
        """
        import threading, numpy as np, torch
        from PIL import Image
        from ncut_widget import explore
        from ncut_widget.features.backbones import Backbone

        inside = threading.Event()

        class Busy(Backbone):
            name, patch_size = "busy", 8
            def features(self, x, layers):
                inside.set()
                a = torch.randn(1500, 1500)
                for _ in range(40):  # seconds inside torch
                    a = torch.tanh(a @ a)
                p = torch.nn.functional.avg_pool2d(x, 8)
                return torch.cat([p, p * p, p.sin(), p.cos()], 1).permute(0, 2, 3, 1)
            def to(self, device):
                return self

        rng = np.random.default_rng(0)
        photos = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(2)]
        w = explore(photos, resolutions=(32, 64), backbone=Busy(), n_eig=6, color="pca")
        assert inside.wait(60)
        """
    ))
    repo = Path(__file__).resolve().parent.parent  # this checkout, not whatever is installed
    env = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.skipif(jobs._malloc_trim() is None, reason="needs glibc's malloc_trim (Linux)")
def test_a_finished_job_gives_its_freed_heap_back_to_the_os(tmp_path):
    # glibc keeps freed blocks in the thread's arena; a few live blocks pin it, so the process
    # RSS would stay ~200 MB up after the job without malloc_trim.
    script = tmp_path / "heap.py"
    script.write_text(textwrap.dedent(
        """
        from pathlib import Path
        from ncut_widget.widget.jobs import Job

        def rss():
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        def work(progress):
            blocks = [bytes(1000) for _ in range(200_000)]  # ~200 MB of malloc'd blocks
            keep = blocks[::1000]
            del blocks
            return keep

        kept = []
        before = rss()
        job = Job(work, lambda *report: None, kept.append, kept.append)
        job.start()
        job.join()
        print(rss() - before)
        """
    ))
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120, check=True)
    assert float(done.stdout) < 50  # MB still resident after the job (~200 without the trim)


# --- re-running a notebook cell ---------------------------------------------------------------------
@pytest.fixture
def cell_run(monkeypatch) -> list[str]:
    """``[cell id, request id]`` that ``cells.current_run`` reports; edit it to re-run a cell."""
    run = ["cell-1", "request-1"]
    monkeypatch.setattr(cells, "current_run", lambda: tuple(run))
    monkeypatch.setattr(cells, "_by_cell", {})
    return run


def test_rerunning_a_cell_closes_what_its_earlier_run_made(cell_run: list[str]):
    first = _explore().wait(timeout=120)
    also_first = _explore().wait(timeout=120)  # two widgets of one run both stay
    assert first.comm is not None and also_first.comm is not None
    results = weakref.ref(first.results)

    cell_run[1] = "request-2"
    backbone, inside, go = _blocking_backbone()
    second = _explore(backbone)
    assert first.comm is None and also_first.comm is None
    gc.collect()
    assert results() is None

    assert inside.wait(60)
    cell_run[1] = "request-3"  # re-run while the second run is still computing
    third = _explore()
    go.set()
    second._job.join(120)
    assert not second._job.is_alive() and backbone.calls == 1
    assert second.comm is None
    assert third.wait(timeout=120).stage == "Done" and third.comm is not None

    cell_run[0] = "cell-2"  # another cell leaves this one's widget alone
    _explore().wait(timeout=120)
    assert third.comm is not None


def test_rerunning_a_from_results_cell_closes_its_earlier_widget(cell_run: list[str]):
    gen = torch.Generator().manual_seed(0)
    features = MultiResFeatures.from_grids([torch.randn(2, 4, 4, 8, generator=gen)], images=_photos())
    arrays = (torch.randn(32, 5, generator=gen), torch.randn(32, 3, generator=gen), torch.rand(32, 3, generator=gen))
    first = NcutWidget.from_results(features, *arrays)
    cell_run[1] = "request-2"
    second = NcutWidget.from_results(features, *arrays)
    assert first.comm is None and first.payload == b"" and second.comm is not None


def test_without_a_cell_id_nothing_is_closed(monkeypatch):
    monkeypatch.setattr(cells, "current_run", lambda: None)
    a = _explore().wait(timeout=120)
    b = _explore().wait(timeout=120)
    assert a.comm is not None and b.comm is not None and a.results is not None


def test_current_run_reads_the_execute_requests_cell_id(monkeypatch):
    import IPython

    class Kernel:
        parent: dict = {}

        def get_parent(self) -> dict:
            return self.parent

    class Shell:
        kernel = Kernel()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    Kernel.parent = {"header": {"msg_id": "m1"}, "metadata": {"cellId": "c1"}}
    assert cells.current_run() == ("c1", "m1")
    Kernel.parent = {"header": {"msg_id": "m1"}, "metadata": {}}  # a front end without cell ids
    assert cells.current_run() is None
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # plain Python
    assert cells.current_run() is None
