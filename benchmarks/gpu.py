"""GPU benchmark: the 1,000,000-node table of issue 12 (Ncut defaults, 768 dims, 50 eigenvectors).

    .venv/bin/python benchmarks/gpu.py                       # CUDA, 1,000,000 x 768
    .venv/bin/python benchmarks/gpu.py --device cpu --n 20000   # the same script as a CPU smoke run

Without a CUDA device the default run says so and exits 0 (nothing to measure), or 1 where
``nvidia-smi`` finds a GPU that torch cannot use (e.g. a driver older than torch's CUDA needs):
a GPU run that measured nothing must not pass for one. ``--device cpu`` runs the same
measurements on the CPU (meant at a small ``--n``).

Features: ``planted_patch_features`` (seed-shaped: images at 16x16 and 32x32 patches, 768 dims,
planted parts), as many images as ``--n`` needs, cut to ``--n`` rows, moved to the device before
timing. Prints:

1. ``Ncut(n_eig=50)`` at defaults on the device: one warm-up fit (CUDA context, cuBLAS handles,
   allocator), then the median of ``--reps`` fits of the time per stage (stage boundaries from
   the fit's own ``progress`` callback, with the device synchronised at each boundary) and the
   total of ``fit_transform`` (eigenvectors back on the CPU, as returned), and the peak device
   memory;
2. ``tsne_color()`` at defaults on those eigenvectors (median of ``--reps``);
3. closeness on a ``--check-n`` node subsample of the same features, on the same device: the
   default (Nystrom) fit against the exact path (``n_sample >= N``), mean principal cosine of the
   top-9 / 20 / 50 eigenvectors and the largest eigenvalue difference.

The header line gives the device (a GPU's name, memory and compute capability), torch's CPU
capability, the dtype the scan multiplies in there at ``"auto"`` and the load average.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ncut_widget.color import tsne_color  # noqa: E402
from ncut_widget.engine.ncut import Ncut  # noqa: E402
from ncut_widget.engine.propagate import scan_dtype  # noqa: E402
from ncut_widget.engine.synthetic import planted_patch_features  # noqa: E402

GOAL_S = 0.5  # issue 12: 1,000,000 x 768, 50 eigenvectors, on a GPU


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def features(n: int, dim: int) -> torch.Tensor:
    """``n`` seed-shaped rows (1,280 per image at grids 16 and 32), on the CPU."""
    X, _ = planted_patch_features(n_images=math.ceil(n / 1280), grids=(16, 32), dim=dim, seed=0)
    return X[:n].contiguous()


class StageClock:
    """A ``progress(stage, done, total)`` callback that timestamps each stage change (after a
    device synchronisation, so queued kernels are charged to the stage that queued them)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stage: str | None = None
        self.t = 0.0
        self.times: dict[str, float] = {}

    def start(self) -> None:
        sync(self.device)
        self.stage, self.t, self.times = None, time.perf_counter(), {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self._close()
            self.stage = stage

    def _close(self) -> None:
        sync(self.device)
        now = time.perf_counter()
        key = self.stage or "before the first stage (input checks, moving X)"
        self.times[key] = self.times.get(key, 0.0) + now - self.t
        self.t = now

    def stop(self) -> dict[str, float]:
        self._close()
        return self.times


def timed(fn: Callable[[], object], device: torch.device, reps: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return times, out


def principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def header(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        major, minor = torch.cuda.get_device_capability(device)
        where = f"{name} ({total:.0f} GiB, compute capability {major}.{minor}), CUDA {torch.version.cuda}"
    else:
        where = f"CPU, {torch.get_num_threads()} torch threads"
    scan = str(scan_dtype(device)).removeprefix("torch.")
    return (
        f"device: {where}; torch {torch.__version__}; cpu capability "
        f"{torch.backends.cpu.get_cpu_capability()}; scan dtype at auto {scan}; load {os.getloadavg()[0]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--n", type=int, default=1_000_000, help="nodes (default 1,000,000)")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n-eig", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--check-n", type=int, default=25_600, help="subsample for the closeness check")
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        if shutil.which("nvidia-smi"):
            print(f"nvidia-smi is here but torch {torch.__version__} (built for CUDA {torch.version.cuda}) "
                  "cannot use the GPU (driver too old for it?): nothing was measured.")
            return 1
        print(f"no CUDA device here (torch {torch.__version__}, built for CUDA {torch.version.cuda}): "
              "nothing to measure. Run with --device cpu --n 20000 for a CPU smoke run.")
        return 0
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    print(f"# benchmarks/gpu.py {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")
    print(header(device))

    t = time.perf_counter()
    X_cpu = features(args.n, args.dim)
    print(f"features: {args.n:,} x {args.dim} seed-shaped float32 ({X_cpu.numel() * 4 / 2**30:.2f} GiB), "
          f"generated on the CPU in {time.perf_counter() - t:.1f} s")
    X = X_cpu.to(device)
    sync(device)

    # 1. Ncut at defaults.
    clock = StageClock(device)
    warm_n = min(args.n, 50_000)
    Ncut(n_eig=args.n_eig, device=device).fit_transform(X[:warm_n])  # CUDA context, kernels, allocator
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    totals, stages = [], []
    vecs = vals = None
    for _ in range(args.reps):
        model = Ncut(n_eig=args.n_eig, device=device, progress=clock)
        clock.start()
        t = time.perf_counter()
        vecs, vals = model.fit_transform(X)
        sync(device)
        totals.append(time.perf_counter() - t)
        stages.append(clock.stop())
    assert vecs is not None and vals is not None
    print(f"\nNcut(n_eig={args.n_eig}) defaults (n_sample={model.n_sample}, scan "
          f"{model.scan_precision or os.environ.get('NCUT_WIDGET_SCAN') or 'auto'}) on {args.n:,} x {args.dim}, "
          f"median of {args.reps} after 1 warm-up:")
    print("| stage | median s |\n|---|---|")
    for name in stages[0]:
        print(f"| {name} | {statistics.median(s.get(name, 0.0) for s in stages):.3f} |")
    total = statistics.median(totals)
    verdict = ("met" if total < GOAL_S else "missed") if device.type == "cuda" and args.n >= 1_000_000 else "n/a here"
    print(f"| **total** (fit_transform, eigenvectors on the CPU) | **{total:.3f}** (runs {[round(x, 3) for x in totals]}) |")
    print(f"goal < {GOAL_S} s at 1,000,000 nodes on a GPU: {verdict}")
    if device.type == "cuda":
        print(f"peak device memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB "
              f"(features {X.numel() * 4 / 2**30:.2f} GiB)")
    ninth = min(8, len(vals) - 1)
    print(f"eigenvalues: first {float(vals[0]):.4f}, #{ninth + 1} {float(vals[ninth]):.4f}, last {float(vals[-1]):.4f}; "
          f"converged {model.converged_}; eigenvectors {tuple(vecs.shape)} on {vecs.device.type}")

    # 2. tsne_color at defaults on those eigenvectors.
    tsne_color(vecs[:warm_n], device=device)  # warm-up
    times, (X_3d, rgb) = timed(lambda: tsne_color(vecs, device=device), device, args.reps)
    print(f"\ntsne_color() defaults on {args.n:,} nodes: median {statistics.median(times):.3f} s "
          f"(runs {[round(x, 3) for x in times]}); rgb {tuple(rgb.shape)} in [{float(rgb.min()):.2f}, {float(rgb.max()):.2f}]")

    # 3. Closeness to the exact solution on a subsample (the same device, the same features).
    if not args.skip_check:
        m = min(args.check_n, args.n)
        idx = torch.randperm(args.n, generator=torch.Generator().manual_seed(1))[:m].sort().values
        Xs = X[idx.to(device)]
        t = time.perf_counter()
        approx, approx_vals = Ncut(n_eig=args.n_eig, device=device).fit_transform(Xs)
        t_approx = time.perf_counter() - t
        t = time.perf_counter()
        exact_model = Ncut(n_eig=args.n_eig, n_sample=m, device=device)
        exact, exact_vals = exact_model.fit_transform(Xs)
        t_exact = time.perf_counter() - t
        tops = [k for k in (9, 20, 50) if k <= args.n_eig] or [args.n_eig]
        cos = "  ".join(f"top-{k} {principal_cosine(approx[:, :k], exact[:, :k]):.4f}" for k in tops)
        print(f"\ncloseness on a {m:,}-node subsample ({device.type}): defaults ({t_approx:.2f} s) vs the exact "
              f"path ({t_exact:.2f} s, converged {exact_model.converged_}): mean principal cosine {cos}; "
              f"max eigenvalue difference {float((approx_vals - exact_vals).abs().max()):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
