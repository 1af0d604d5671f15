"""K-way benchmark: ncut_widget.kway_ncut vs ncut-pytorch 3.2.0's kway_ncut on the same eigenvectors.

    .venv/bin/python benchmarks/kway.py [--threads 2] [--reps 5]

The eigenvectors are ours (``Ncut`` at defaults, 50 of them) on seed-shaped synthetic features with
9 planted parts (background + 8 parts, 25,600 nodes); both methods discretize the same leading
``k`` columns. Each method runs in a fresh worker process (the reference in its own venv,
benchmarks/.venv-ref) with the same thread count: one warm-up, then the median of ``--reps``.
Prints, per k: median seconds, the ratio, and the adjusted Rand index of the segments against
the planted parts (meaningful at k = 9, the planted count; other k show speed and how the
partition degrades).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reference_env import ensure_reference_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KS = (4, 9, 16, 32)


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    V = torch.from_numpy(np.load(args.data))
    if args.method == "ours":
        sys.path.insert(0, str(ROOT))
        from ncut_widget import kway_ncut

        def labels(k: int) -> torch.Tensor:
            return kway_ncut(V, k).argmax(1)
    else:
        from ncut_pytorch import kway_ncut

        def labels(k: int) -> torch.Tensor:
            return kway_ncut(V[:, :k]).argmax(1)

    out = {}
    for k in KS:
        times = []
        for rep in range(args.reps + 1):
            t0 = time.perf_counter()
            lab = labels(k)
            if rep:
                times.append(time.perf_counter() - t0)
        np.save(f"{args.save}_{k}.npy", lab.numpy())
        out[k] = times
    print(json.dumps(out))


def run(python: str, method: str, data: Path, save: str, args: argparse.Namespace) -> dict:
    cmd = [python, __file__, "--worker", method, "--data", str(data), "--save", save,
           "--threads", str(args.threads), "--reps", str(args.reps)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=HERE)
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--worker", choices=["ours", "reference"])
    parser.add_argument("--data")
    parser.add_argument("--save")
    args = parser.parse_args()
    if args.worker:
        args.method = args.worker
        return worker(args)

    import numpy as np
    import torch
    from sklearn.metrics import adjusted_rand_score

    sys.path.insert(0, str(ROOT))
    from ncut_widget import Ncut
    from ncut_widget.engine.synthetic import planted_patch_features

    ref_py = ensure_reference_env()
    X, parts = planted_patch_features(n_images=20, grids=(16, 32))
    vecs, _ = Ncut(device="cpu").fit_transform(X)
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}, threads {args.threads}, "
          f"{X.shape[0]:,} nodes, {int(parts.max()) + 1} planted parts, eigenvectors {tuple(vecs.shape)}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "vecs.npy"
        np.save(data, vecs.numpy())
        ours = run(sys.executable, "ours", data, f"{tmp}/ours", args)
        ref = run(str(ref_py), "reference", data, f"{tmp}/ref", args)
        print(f"{'k':>3} | {'ours s':>8} | {'ref s':>8} | {'ratio':>6} | {'ARI ours':>8} | {'ARI ref':>8}")
        for k in KS:
            o, r = statistics.median(ours[k]), statistics.median(ref[k])
            ari_o = adjusted_rand_score(parts.numpy(), np.load(f"{tmp}/ours_{k}.npy"))
            ari_r = adjusted_rand_score(parts.numpy(), np.load(f"{tmp}/ref_{k}.npy"))
            print(f"{k:>3} | {o:8.4f} | {r:8.4f} | x{r / o:5.1f} | {ari_o:8.3f} | {ari_r:8.3f}")


if __name__ == "__main__":
    main()
