"""Coloring benchmark: our tsne/umap/pca_color vs ncut_pytorch 3.2.0's tsne_color, same eigenvectors.

Eigenvectors: Ncut(n_eig=50) of offline DINOv2 ViT-S/14 layer-9 features of the bundled photos at
224 and 448 px. Only 10 photos are bundled, so their 10 mirror images are added to reach the
tutorial's 20 images = 25,600 nodes. The reference runs in its own venv (benchmarks/.venv-ref,
created here when missing) in a subprocess on the saved .npy; both sides use the same threads.

Neighbour preservation: for 1,000 probe nodes, the share of each node's 10 cosine-nearest
neighbours in eigenvector space kept among its 10 nearest in the layout (the reference returns
only RGB, which is its scaled 3D layout, so it is measured on that).

Usage: python benchmarks/coloring.py [--runs 3] [--skip-400k] [--skip-umap] [--skip-seed-call]

Each timing line carries torch's CPU capability and the load average: on a shared machine wall
times move with other load, the ratio (measured back to back) is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from reference_env import REF_PY, ensure_reference_env  # noqa: E402

OUT = ROOT / "benchmarks" / "out"

REF_SCRIPT = """
import json, sys, time, numpy as np, torch
from ncut_pytorch.color import tsne_color  # 3.2.0 does not re-export it at top level
X = torch.from_numpy(np.load(sys.argv[1])); times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); rgb = tsne_color(X, num_sample=1000, knn=10, device="cpu", seed=0)
    times.append(time.perf_counter() - t)
np.save(sys.argv[2], rgb.numpy()); print(json.dumps(times))
"""


def real_eigvecs() -> np.ndarray:
    path = OUT / "real_eigvecs.npy"
    if path.exists():
        return np.load(path)
    from PIL import ImageOps

    from ncut_widget.engine.ncut import Ncut
    from ncut_widget.features import extract_features, sample_images

    images = sample_images()
    images += [ImageOps.mirror(im) for im in images]
    feats = extract_features(images, resolutions=(224, 448), layer=9, device="cpu", progress=False)
    vecs, _ = Ncut(n_eig=50, n_sample=30000, n_neighbors=10, d_gamma=0.5, device="cpu").fit_transform(
        feats.nodes
    )
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs.numpy())
    return vecs.numpy()


def run_reference(vecs_path: Path, runs: int) -> tuple[list[float], np.ndarray]:
    rgb_path = OUT / "ref_rgb.npy"
    res = subprocess.run(
        [str(REF_PY), "-c", REF_SCRIPT, str(vecs_path), str(rgb_path), str(runs)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1]), np.load(rgb_path)


def timed(fn, runs: int):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-400k", action="store_true")
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--skip-seed-call", action="store_true", help="skip tsne_color(num_sample=30000)")
    args = parser.parse_args()

    from ncut_widget.color import neighbor_preservation, pca_color, tsne_color, umap_color

    vecs = real_eigvecs()
    vecs_path = OUT / "real_eigvecs.npy"
    print(f"eigenvectors {vecs.shape} (DINOv2 ViT-S/14 layer 9, 10 photos + mirrors, 224+448 px)")
    print(f"torch threads: {torch.get_num_threads()}; cpu capability {torch.backends.cpu.get_cpu_capability()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    ensure_reference_env()
    ref_times, ref_rgb = run_reference(vecs_path, args.runs)
    ref_med = statistics.median(ref_times)
    ref_pres = neighbor_preservation(vecs, ref_rgb)
    print(f"ncut_pytorch tsne_color(num_sample=1000): median {ref_med:.2f}s of {[round(t, 2) for t in ref_times]} "
          f"preservation {ref_pres:.3f}  load {os.getloadavg()[0]:.1f}")

    rows = [
        ("tsne_color (default, num_sample=2000)", lambda: tsne_color(vecs, device="cpu"), args.runs),
        ("tsne_color(num_sample=1000)", lambda: tsne_color(vecs, num_sample=1000, device="cpu"), args.runs),
        ("pca_color", lambda: pca_color(vecs, device="cpu"), args.runs),
    ]
    if not args.skip_seed_call:
        rows.append(("tsne_color seed call (num_sample=30000: all nodes)",
                     lambda: tsne_color(vecs, num_sample=30000, knn=10, device="cpu"), 1))
    if not args.skip_umap:
        rows.append(("umap_color (default, num_sample=5000)", lambda: umap_color(vecs, device="cpu"), 1))
    for name, fn, runs in rows:
        times, (X_3d, rgb) = timed(fn, runs)
        med = statistics.median(times)
        print(f"{name}: median {med:.2f}s of {[round(t, 2) for t in times]}  "
              f"preservation 3D {neighbor_preservation(vecs, X_3d):.3f} rgb "
              f"{neighbor_preservation(vecs, rgb):.3f}  speed-up vs ref {ref_med / med:.1f}x  "
              f"load {os.getloadavg()[0]:.1f}")

    if not args.skip_400k:
        # 400,000 nodes: the real eigenvectors tiled with small jitter (no 400k-node photo set here).
        gen = torch.Generator().manual_seed(0)
        base = torch.from_numpy(vecs)
        big = base.repeat(16, 1)[:400_000]
        big = big + 0.05 * base.std() * torch.randn(big.shape, generator=gen)
        times, (X_3d, _) = timed(lambda: tsne_color(big, device="cpu"), 1)
        print(f"tsne_color default at {big.shape[0]:,} nodes: {times[0]:.2f}s  "
              f"preservation {neighbor_preservation(big, X_3d):.3f}")


if __name__ == "__main__":
    main()
