"""Engine benchmark: ncut_widget.Ncut vs the reference ncut-pytorch==3.2.0, on CPU.

    .venv/bin/python benchmarks/engine.py [--threads 2] [--quick]

Creates benchmarks/.venv-ref (python -m venv; pip install ncut-pytorch==3.2.0 torch==2.14.1) on
first use and runs the reference there, in a subprocess. Every timed fit runs in a fresh worker
process (same thread count for both) that loads the same synthetic seed-shaped features from a
temp .npy, does one warm-up fit and then the timed ones (median), and reports the peak RSS
growth over the loaded data (``ru_maxrss`` after fitting minus RSS before).

Prints:
1. speed at defaults on 25,600 x 768 (the seed's shape): median wall and CPU seconds, ratio;
2. quality on the same data: how well the top eigenvectors span the 9 planted parts;
3. closeness to the exact solution of each method's own graph at 10,240 nodes (the reference
   only approximates above 8,192 nodes);
4. the seed's exact call (n_sample=30000 >= N): time and peak memory;
5. scaling of ours (and the reference) at 25,600 / 100,000 / 400,000 nodes x 768.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reference_env import REF_PY, ensure_reference_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


# ----------------------------------------------------------------------------- worker side
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    X = torch.from_numpy(np.load(args.data))
    kwargs = json.loads(args.kwargs)
    if args.method == "ours":
        sys.path.insert(0, str(ROOT))
        from ncut_widget import Ncut

        def fit():
            return Ncut(device="cpu", **kwargs).fit_transform(X)
    else:
        from ncut_pytorch import Ncut

        def fit():
            model = Ncut(device="cpu", **kwargs)
            vecs = model.fit_transform(X)
            return vecs, model.eigval, float(model.sigma)

    base = _rss_mb()
    walls, cpus = [], []
    for rep in range(args.reps + (1 if args.warm else 0)):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fit()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if rep > 0 or not args.warm:
            walls.append(wall)
            cpus.append(cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"wall": walls, "cpu": cpus, "peak_mb": peak - base, "data_mb": X.numel() * 4 / 2**20}
    if args.save:
        np.save(args.save + "_vecs.npy", out[0].float().numpy())
        np.save(args.save + "_vals.npy", out[1].float().numpy())
        if len(out) > 2:
            res["sigma"] = out[2]
    print("RESULT " + json.dumps(res))


# ----------------------------------------------------------------------------- driver side
def run_worker(method: str, data: str, *, reps: int, threads: int, warm: bool = True,
               save: str | None = None, **kwargs: object) -> dict:
    py = sys.executable if method == "ours" else str(REF_PY)
    cmd = [py, __file__, "--worker", method, "--data", data, "--reps", str(reps),
           "--threads", str(threads), "--kwargs", json.dumps(kwargs)]
    if not warm:
        cmd.append("--cold")
    if save:
        cmd += ["--save", save]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{method} worker failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def part_scores(vecs, labels, k: int) -> tuple[float, float]:
    """(captured, probe): share of the part-indicator energy inside span(top-k eigvecs), and
    the accuracy of a least-squares linear probe from the top-k eigvecs to the part labels."""
    import torch

    V = vecs[:, :k].double()
    ind = torch.nn.functional.one_hot(labels).double()
    ind_n = ind / ind.norm(dim=0, keepdim=True)
    Q = torch.linalg.qr(V).Q
    captured = float((Q.T @ ind_n).norm() ** 2 / ind_n.shape[1])
    A = torch.cat([V, torch.ones(len(V), 1, dtype=V.dtype)], 1)
    coef = torch.linalg.lstsq(A, ind).solution
    probe = float(((A @ coef).argmax(1) == labels).double().mean())
    return captured, probe


def principal_cosine(A, B) -> float:
    import torch

    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def ref_exact(X, sigma: float, k: int):
    """Exact top-k of the reference's own graph: rbf W = exp(-|x-y|^2 / (2 sigma^2)), D^-1/2 W D^-1/2."""
    import torch

    sys.path.insert(0, str(ROOT))
    from ncut_widget.engine.eigsolve import top_eigh

    sq = X.pow(2).sum(1)
    W = torch.addmm(sq[None, :], X, X.T, alpha=-2.0).add_(sq[:, None]).clamp_min_(0)
    W.mul_(-0.5 / sigma**2).exp_()
    s = W.sum(1).rsqrt()
    W.mul_(s[:, None]).mul_(s[None, :])
    vals, vecs, *_ = top_eigh(W, k, seed=0)  # (values, vectors, converged, n_iter, change)
    return vecs, vals


def fmt_t(res: dict) -> str:
    return f"wall {statistics.median(res['wall']):6.2f} s  cpu {statistics.median(res['cpu']):6.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="skip 400k and the exact seed call")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from ncut_widget.engine.synthetic import planted_patch_features

    torch.set_num_threads(args.threads)
    ensure_reference_env()
    tmp = Path(tempfile.mkdtemp(prefix="ncut-bench-"))
    T = args.threads
    print(f"threads={T}  torch={torch.__version__}  cpu_count={os.cpu_count()}  "
          f"load={os.getloadavg()[0]:.1f}", flush=True)

    # 1-2. seed-shaped data at defaults
    X, labels = planted_patch_features(n_images=20, grids=(16, 32), dim=768, seed=0)
    seed_path = str(tmp / "seed.npy")
    np.save(seed_path, X.numpy())
    ours = run_worker("ours", seed_path, reps=args.reps, threads=T, n_eig=50, save=str(tmp / "ours"))
    ref = run_worker("ref", seed_path, reps=args.reps, threads=T, n_eig=50, save=str(tmp / "ref"))
    print("\n== 1. speed at defaults, 25,600 x 768, n_eig=50 (median of "
          f"{args.reps} warm runs, fresh process each method) ==")
    print(f"ours (n_sample=2048, n_neighbors=10, cosine): {fmt_t(ours)}  peak +{ours['peak_mb']:.0f} MB")
    print(f"ncut-pytorch 3.2.0 (defaults):             {fmt_t(ref)}  peak +{ref['peak_mb']:.0f} MB")
    print(f"speed-up: wall x{statistics.median(ref['wall']) / statistics.median(ours['wall']):.2f}, "
          f"cpu x{statistics.median(ref['cpu']) / statistics.median(ours['cpu']):.2f}")
    ov = torch.from_numpy(np.load(tmp / "ours_vecs.npy"))
    rv = torch.from_numpy(np.load(tmp / "ref_vecs.npy"))
    print("\n== 2. planted parts (9 labels) on the same data: captured share / linear-probe accuracy ==")
    for k in (9, 20, 50):
        oc, op = part_scores(ov, labels, k)
        rc, rp = part_scores(rv, labels, k)
        print(f"top-{k:2d}: ours {oc:.4f} / {op:.4f}   ncut-pytorch {rc:.4f} / {rp:.4f}")

    # 3. closeness to the exact solution of each method's own graph
    Xm, _ = planted_patch_features(n_images=10, grids=(32,), dim=768, seed=3)
    mid_path = str(tmp / "mid.npy")
    np.save(mid_path, Xm.numpy())
    run_worker("ours", mid_path, reps=1, threads=T, warm=False, n_eig=50, save=str(tmp / "mo"))
    rr = run_worker("ref", mid_path, reps=1, threads=T, warm=False, n_eig=50, save=str(tmp / "mr"))
    run_worker("ours", mid_path, reps=1, threads=T, warm=False, n_eig=50, n_sample=len(Xm),
               save=str(tmp / "mx"))
    ours_ex = torch.from_numpy(np.load(tmp / "mx_vecs.npy"))
    ours_ex_vals = torch.from_numpy(np.load(tmp / "mx_vals.npy"))
    ref_ex, ref_ex_vals = ref_exact(Xm, rr["sigma"], 50)
    mo = torch.from_numpy(np.load(tmp / "mo_vecs.npy"))
    mov = torch.from_numpy(np.load(tmp / "mo_vals.npy"))
    mr = torch.from_numpy(np.load(tmp / "mr_vecs.npy"))
    mrv = torch.from_numpy(np.load(tmp / "mr_vals.npy"))
    print("\n== 3. vs the exact solution of the same graph, 10,240 x 768 (mean principal cosine; "
          "max |eigenvalue error| over the top 9) ==")
    for k in (2, 5, 9, 20, 50):
        print(f"top-{k:2d}: ours {principal_cosine(mo[:, :k], ours_ex[:, :k]):.4f}   "
              f"ncut-pytorch {principal_cosine(mr[:, :k], ref_ex[:, :k]):.4f}")
    print(f"eigenvalues top-9: ours {float((mov[:9] - ours_ex_vals[:9]).abs().max()):.4f}   "
          f"ncut-pytorch {float((mrv[:9] - ref_ex_vals[:9]).abs().max()):.4f}")

    # 4. the seed's exact call
    if not args.quick:
        ex = run_worker("ours", seed_path, reps=1, threads=T, warm=False, n_eig=50, n_sample=30000,
                        n_neighbors=10, d_gamma=0.5)
        print("\n== 4. seed's exact call Ncut(n_eig=50, n_sample=30000, n_neighbors=10, d_gamma=0.5, "
              "device='cpu') on 25,600 x 768 (1 cold run) ==")
        print(f"ours exact path: {fmt_t(ex)}  peak +{ex['peak_mb']:.0f} MB over the "
              f"{ex['data_mb']:.0f} MB of features (dense 25,600^2 float32 = 2,500 MB)")

    # 5. scaling
    sizes = [25_600, 100_000] + ([] if args.quick else [400_000])
    print("\n== 5. scaling at defaults, N x 768 (peak = RSS growth over the loaded features) ==")
    for n in sizes:
        n_img = math.ceil(n / 1280)
        Xs, _ = planted_patch_features(n_images=n_img, grids=(16, 32), dim=768, seed=1)
        path = str(tmp / f"s{n}.npy")
        np.save(path, Xs[:n].numpy())
        del Xs
        reps = 3 if n <= 25_600 else (2 if n <= 100_000 else 1)
        o = run_worker("ours", path, reps=reps, threads=T, n_eig=50)
        r = run_worker("ref", path, reps=reps, threads=T, warm=n <= 100_000, n_eig=50)
        print(f"N={n:>7,}: ours {fmt_t(o)} peak +{o['peak_mb']:6.0f} MB ({o['peak_mb'] * 2**20 / n:.0f} B/node) | "
              f"ncut-pytorch {fmt_t(r)} peak +{r['peak_mb']:6.0f} MB | wall x{statistics.median(r['wall']) / statistics.median(o['wall']):.2f}",
              flush=True)
        os.remove(path)
    print(f"\n(features alone: 3,072 B/node; load avg at end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--worker", dest="method", choices=["ours", "ref"])
        ap.add_argument("--data")
        ap.add_argument("--reps", type=int)
        ap.add_argument("--threads", type=int)
        ap.add_argument("--kwargs")
        ap.add_argument("--save")
        ap.add_argument("--cold", dest="warm", action="store_false")
        worker(ap.parse_args())
    else:
        main()
