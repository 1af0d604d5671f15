"""Scale-out on a real dask.distributed cluster: 2 worker processes, 1 thread each, loopback only.

400,000 nodes transformed on the workers equal the in-memory transform; the client never holds
the dataset; a worker killed mid-run is replaced and its tasks rerun with the same result;
``ncut-widget fit`` on 200 images writes a store that ``results_from_zarr`` opens.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")
psutil = pytest.importorskip("psutil")

from test_scale_zarr import make_images  # noqa: E402

from ncut_widget import Ncut, cli  # noqa: E402
from ncut_widget.scale import (  # noqa: E402
    ZarrResults,
    lazy_planted_features,
    local_cluster,
    results_from_zarr,
    transform,
)
from ncut_widget.scale.cluster import compute, warm_workers, watch_worker_memory  # noqa: E402

N_NODES, DIM = 400_000, 256  # 410 MB of features: each worker sees ~205 MB, in 5 MB chunks
IMAGES_PER_BLOCK = 4
CHUNK_BYTES = IMAGES_PER_BLOCK * 1280 * DIM * 4


def _vecs(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


@pytest.fixture(scope="module")
def problem(client):
    """Lazy 400k x 256 features (generated on the workers), a model fitted on 20,480 of them."""
    X = lazy_planted_features(N_NODES, dim=DIM, images_per_block=IMAGES_PER_BLOCK, seed=0)
    (fit,) = compute(X[:20_480], progress=False, client=client)
    model = Ncut(n_eig=10, n_sample=512, device="cpu", seed=0).fit(fit)
    return X, model


@pytest.fixture(scope="module")
def reference(problem):
    """The in-memory transform of the whole array (computed in this process, for comparison)."""
    X, model = problem
    Xm = X.compute(scheduler="threads")
    return _vecs(model.transform(torch.from_numpy(Xm))).numpy()


class _RssWatch:
    """Peak RSS of this (client) process while the block runs, sampled every 10 ms."""

    def __enter__(self) -> _RssWatch:
        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_cluster_is_loopback_processes(client):
    info = client.scheduler_info()
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert len(info["workers"]) == 2
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in info["workers"])
    assert all(w["nthreads"] == 1 for w in info["workers"].values())
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


def test_400k_rows_on_two_workers_equal_in_memory_and_stay_off_the_client(client, problem, reference, tmp_path):
    X, model = problem
    vecs, values = transform(model, X)
    assert vecs.chunks[0] == X.chunks[0] and vecs.numblocks[0] == 79
    root = zarr.open_group(str(tmp_path / "eig.zarr"), mode="w")
    target = root.create_array("eigvecs", shape=vecs.shape, chunks=(X.chunks[0][0], 10), dtype="float32")
    warm_workers(client)  # the memory watched below is the work's, not torch's import
    with _RssWatch() as watch, watch_worker_memory(client) as workers:
        compute(da.store(vecs, target, lock=False, compute=False), progress=False, client=client)
    # the workers wrote every row; the client received nothing but task states
    assert watch.peak - watch.start < 0.1 * N_NODES * DIM * 4, (watch.peak - watch.start) / 1e6
    assert len(workers) == 2
    share = N_NODES * DIM * 4 / 2
    for addr, (start, peak, held) in workers.items():
        # Each worker transformed ~205 MB of features; its memory grew by a fixed ~25 MB
        # (buffers, allocator) plus a few chunks (measured 45 MB), never by its share.
        assert peak - start < min(0.5 * share, 20 * CHUNK_BYTES), (addr, (peak - start) / 1e6)
        # dask's own count of results in memory: a few chunks (measured 4, and 8 in one CI run:
        # generated blocks waiting for their transform or their write), whatever the number of
        # chunks (79 here, ~40 per worker)
        assert 0 < held <= 12 * CHUNK_BYTES, (addr, held / 1e6)
    got = zarr.open_array(str(tmp_path / "eig.zarr" / "eigvecs"), mode="r")[:]
    assert float(np.abs(got - reference).max()) <= 1e-5
    torch.testing.assert_close(values, model.eigenvalues_)


def test_a_worker_killed_mid_run_is_retried_and_the_result_is_unchanged(client, problem, reference):
    X, model = problem
    vecs, _ = transform(model, X)
    pids = client.run(os.getpid)
    persisted = client.persist(vecs)
    futures = distributed.futures_of(persisted)
    deadline = time.monotonic() + 120
    while sum(f.done() for f in futures) < 2:
        assert time.monotonic() < deadline, "no task finished in 2 minutes"
        time.sleep(0.005)
    done_at_kill = sum(f.done() for f in futures)
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)  # a worker process this test's cluster started
    assert done_at_kill < len(futures), "the run finished before the kill: make it longer"
    out = persisted.compute()
    assert float(np.abs(out - reference).max()) <= 1e-5
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it
    assert victim not in client.scheduler_info()["workers"]


def test_cli_fit_200_images_on_the_cluster(client, tmp_path, capsys):
    folder = tmp_path / "images"
    make_images(folder, 200)
    out = tmp_path / "results.zarr"
    code = cli.main([
        "fit", str(folder), "--out", str(out), "--scheduler", client.scheduler.address,
        "--sample", "40", "--resolutions", "28", "56", "--n-eig", "8", "--anchors", "400",
        "--n-clusters", "4", "--images-per-task", "16", "--color", "pca", "--quiet",
    ])
    assert code == 0
    assert client.scheduler.address in capsys.readouterr().out
    store = ZarrResults(out)
    assert store.n_images == 200 and store.n_nodes == 200 * 20 and store.n_eig == 8
    labels = store.read("labels")
    assert len(np.unique(labels)) >= 3
    index = store.read("index")
    assert index[:, 0].max() == 199 and set(np.unique(index[:, 1])) == {0, 1}
    res = results_from_zarr(out, images=range(150, 200))  # browse 50 images, read only theirs
    assert len(res.images) == 50 and res.eigvecs.shape == (50 * 20, 8)
    assert res.layout.image_names[0] == "img_150"
    assert np.isfinite(res.X_3d).all() and 0 <= res.rgb.min() and res.rgb.max() <= 1


# The scheduler's HTTP routes listen on 127.0.0.1:8787, or on a free port when the module's
# cluster already holds it: expected here, not a problem.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_cli_fit_starts_its_own_loopback_cluster(tmp_path, capsys):
    folder = tmp_path / "images"
    make_images(folder, 6)
    out = tmp_path / "own.zarr"
    code = cli.main([
        "fit", str(folder), "--out", str(out), "--workers", "1", "--sample", "3", "--resolutions", "28",
        "--n-eig", "3", "--n-clusters", "2", "--color", "pca", "--quiet",
    ])
    assert code == 0
    assert "running on tcp://127.0.0.1:" in capsys.readouterr().out
    assert ZarrResults(out).n_nodes == 6 * 4
