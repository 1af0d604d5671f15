"""Scale-out benchmark: fit on a sample, transform every node on a dask LocalCluster, write Zarr.

    .venv/bin/python benchmarks/scale_out.py                      # 400k and 2M nodes x 768, 1 and 2 workers
    .venv/bin/python benchmarks/scale_out.py --quick              # 400k only
    .venv/bin/python benchmarks/scale_out.py --sizes 400000 --workers 2 --images-per-block 8 32

Features are seed-shaped synthetic patch features (``lazy_planted_features``: 8 images x 1,280
nodes a block at 224/448 px, 768 channels), generated block by block on the workers, so no
process ever holds the dataset. One model is fitted in this process on 102,400 nodes (80
images): ``Ncut(n_eig=50)`` at its defaults (2,048 anchors), ``tsne_color`` and
``kway_ncut``'s rotation (8 segments). Each run then starts a loopback ``LocalCluster`` of
``w`` worker processes x 1 thread, warms them (torch and the task code imported), and times
one ``da.store`` of eigenvectors (50), 3D positions, RGB and segment labels into a Zarr store:
per chunk, generate the features, then one task transforms, colours and labels them
(``transform_all``), then the writes.

Reported per run: wall seconds, worker CPU seconds (steadier than wall on a shared machine),
nodes per second, the largest worker RSS at the start and at its peak during the run (each
worker samples its own RSS every 10 ms: ``ru_maxrss`` would report the nanny's peak, which Linux
carries across exec), the most bytes of task results a worker held at once (dask's own count),
and the client's RSS growth (sampled the same way; a LocalCluster's
scheduler runs in the client process). One chunk of each run is checked against the in-memory
transform of the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch

from ncut_widget import Ncut
from ncut_widget.scale import (
    fit_coloring,
    fit_kway,
    lazy_planted_features,
    local_cluster,
)
from ncut_widget.scale.blocks import transform_all
from ncut_widget.scale.cluster import compute, warm_workers, watch_worker_memory

DIM = 768
FIT_NODES = 80 * 1280


def _cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


class RssWatch:
    """Peak RSS of this process while the block runs (sampled every 10 ms)."""

    def __enter__(self) -> RssWatch:
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def fit_models(seed: int = 0) -> tuple[Ncut, object, object, dict]:
    X = lazy_planted_features(FIT_NODES, dim=DIM, images_per_block=8, seed=seed)
    fit = X.compute(scheduler="threads")
    t0 = time.perf_counter()
    model = Ncut(n_eig=50, device="cpu", seed=seed).fit(fit)
    t1 = time.perf_counter()
    out = model.transform(torch.from_numpy(fit))
    vecs = out[0] if isinstance(out, tuple) else out
    coloring, _, _ = fit_coloring(vecs, "tsne", device="cpu", seed=seed)
    t2 = time.perf_counter()
    kway = fit_kway(vecs, 8, seed=seed)
    t3 = time.perf_counter()
    return model, coloring, kway, {"ncut_fit_s": t1 - t0, "tsne_fit_s": t2 - t1, "kway_fit_s": t3 - t2}


def one_run(n_nodes: int, workers: int, images_per_block: int, model: Ncut, coloring, kway, tmp: Path) -> dict:
    import dask.array as da
    import zarr

    X = lazy_planted_features(n_nodes, dim=DIM, images_per_block=images_per_block, seed=1)
    rows = X.chunks[0][0]
    outputs = transform_all(model, X, coloring=coloring, kway=kway)
    vecs, X_3d, rgb, labels = (outputs[k] for k in ("eigvecs", "X_3d", "rgb", "labels"))
    path = tmp / f"run_{n_nodes}_{workers}_{images_per_block}.zarr"
    root = zarr.open_group(str(path), mode="w")
    targets = [
        root.create_array("eigvecs", shape=vecs.shape, chunks=(rows, 50), dtype="float32"),
        root.create_array("X_3d", shape=X_3d.shape, chunks=(rows, 3), dtype="float32"),
        root.create_array("rgb", shape=rgb.shape, chunks=(rows, 3), dtype="float32"),
        root.create_array("labels", shape=labels.shape, chunks=(rows,), dtype="int16"),
    ]
    sources = [vecs, X_3d, rgb, labels.astype("int16")]
    with local_cluster(n_workers=workers, threads_per_worker=1) as client:
        client.wait_for_workers(workers, timeout=120)
        warm_workers(client)
        cpu0 = client.run(_cpu_seconds)
        t0 = time.perf_counter()
        with RssWatch() as watch, watch_worker_memory(client) as memory:
            compute(da.store(sources, targets, lock=False, compute=False), progress=False, client=client)
        wall = time.perf_counter() - t0
        cpu1 = client.run(_cpu_seconds)
    # One chunk against the in-memory transform of the same rows.
    block = X.blocks[3].compute(scheduler="sync")
    out = model.transform(torch.from_numpy(block))
    want = (out[0] if isinstance(out, tuple) else out).numpy()
    got = zarr.open_array(str(path / "eigvecs"), mode="r")[3 * rows : 4 * rows]
    stored_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
    shutil.rmtree(path)
    return {
        "n_nodes": n_nodes,
        "workers": workers,
        "images_per_block": images_per_block,
        "chunk_rows": rows,
        "chunk_mb": rows * DIM * 4 / 1e6,
        "tasks": vecs.numblocks[0],
        "features_gb": n_nodes * DIM * 4 / 1e9,
        "wall_s": wall,
        "worker_cpu_s": sum(cpu1.values()) - sum(cpu0.values()),
        "nodes_per_s": n_nodes / wall,
        "worker_start_mb": max(m[0] for m in memory.values()) / 1e6,
        "worker_peak_mb": max(m[1] for m in memory.values()) / 1e6,
        "worker_growth_mb": max(m[1] - m[0] for m in memory.values()) / 1e6,
        "worker_held_mb": max(m[2] for m in memory.values()) / 1e6,
        "client_growth_mb": (watch.peak - watch.start) / 1e6,
        "stored_mb": stored_mb,
        "max_abs_diff_chunk": float(np.abs(got - want).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400_000, 2_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--images-per-block", type=int, nargs="+", default=[8])
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting, interleaved across worker counts")
    parser.add_argument("--quick", action="store_true", help="400k nodes only")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    sizes = [400_000] if args.quick else args.sizes
    torch.set_num_threads(max(1, (os.cpu_count() or 1)))

    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "load_average_at_start": os.getloadavg(),
    }
    print(json.dumps(info))
    model, coloring, kway, fit_times = fit_models()
    print(f"fit on {FIT_NODES:,} nodes x {DIM}: " + ", ".join(f"{k} {v:.1f}" for k, v in fit_times.items()))
    results = []
    tmp = Path(tempfile.mkdtemp(prefix="scale_out_"))
    try:
        header = (
            f"{'nodes':>10} {'workers':>7} {'chunk rows':>10} {'chunk MB':>8} {'wall s':>7} {'cpu s':>7} "
            f"{'nodes/s':>9} {'worker MB':>9} {'peak MB':>8} {'held MB':>8} {'client MB':>9} {'diff':>8}"
        )
        print(header)
        for n in sizes:
            for ipb in args.images_per_block:
                # Interleaved (1, 2, 1, 2, ...): on a shared machine, load drifts between runs.
                for w in [w for _ in range(args.repeat) for w in args.workers]:
                    r = one_run(n, w, ipb, model, coloring, kway, tmp)
                    results.append(r)
                    print(
                        f"{r['n_nodes']:>10,} {r['workers']:>7} {r['chunk_rows']:>10,} {r['chunk_mb']:>8.1f} "
                        f"{r['wall_s']:>7.1f} {r['worker_cpu_s']:>7.1f} {r['nodes_per_s']:>9,.0f} "
                        f"{r['worker_start_mb']:>9.0f} {r['worker_peak_mb']:>8.0f} {r['worker_held_mb']:>8.0f} "
                        f"{r['client_growth_mb']:>9.1f} "
                        f"{r['max_abs_diff_chunk']:>8.1e}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.repeat > 1:
        print("best of", args.repeat)
        for key in sorted({(r["n_nodes"], r["images_per_block"], r["workers"]) for r in results}):
            runs = [r for r in results if (r["n_nodes"], r["images_per_block"], r["workers"]) == key]
            best = min(runs, key=lambda r: r["wall_s"])
            print(f"{key[0]:>10,} nodes, {key[1]} images a chunk, {key[2]} worker(s): wall {best['wall_s']:.1f} s, "
                  f"cpu {best['worker_cpu_s']:.1f} s, {best['nodes_per_s']:,.0f} nodes/s")
    info["load_average_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps({"info": info, "fit": fit_times, "runs": results}, indent=1))
    print(json.dumps({"load_average_at_end": info["load_average_at_end"]}))


if __name__ == "__main__":
    main()
