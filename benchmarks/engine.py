"""Engine benchmark: ncut_widget.Ncut vs the reference ncut-pytorch==3.2.0, on CPU.

    .venv/bin/python benchmarks/engine.py [--threads 2] [--quick] [--isa native|avx2|both]
    .venv/bin/python benchmarks/engine.py --isa native --only-scaling --sizes 400000 --rounds 3

Creates benchmarks/.venv-ref (python -m venv; pip install ncut-pytorch==3.2.0 torch==2.14.1) on
first use and runs the reference there, in a subprocess. Every timed fit runs in a fresh worker
process (same thread count for both) that loads the same synthetic seed-shaped features from a
temp .npy, does one warm-up fit and then the timed ones (median), and reports the peak RSS
growth over the loaded data (``VmHWM`` after fitting minus RSS before).

``--isa avx2`` emulates an AVX2-only CPU for *both* libraries: ``ATEN_CPU_CAPABILITY=avx2``
(torch's own kernels), ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (float32 matmuls) and
``ONEDNN_MAX_CPU_ISA=AVX2`` (no AMX: ``auto`` picks float32 products, as on such a CPU). Ours
then runs with ``scan_precision="float32"`` (the exact call at ``"auto"``: float32 products,
float16 affinities). ``native`` uses the machine as it is, and times both of our scan paths
(float32 forced, and ``auto``).

Prints, per ISA:
1. speed at defaults on 25,600 x 768 (the seed's shape): median wall and CPU seconds, ratios;
2. planted parts captured by the top eigenvectors on the same data;
3. closeness to the exact solution of each method's own graph at 10,240 nodes (and, without
   --quick, at 25,600), the exact solutions from our converged block-Krylov solver;
4. the seed's exact call (n_sample=30000 >= N): time, memory, and accuracy against a tighter
   solve of the same graph (residual 1e-7; the tests check the exact path against float64
   dense eigendecompositions);
5. scaling at 25,600 / 100,000 / 400,000 nodes (400k skipped with --quick; ``--sizes`` picks
   others, ``--rounds R`` repeats each size R times back to back and prints the median ratio;
   ``--only-scaling`` runs this section alone).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_description
from reference_env import REF_PY, ensure_reference_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
}


# ----------------------------------------------------------------------------- worker side
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak RSS of this process image: VmHWM (reset by exec), not ru_maxrss, which a child
    inherits across fork + exec from a large driver process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
            # Each stage ends at its last progress report (the next one starts there).
            model = Ncut(device="cpu", progress=lambda stage, done, total: ends.__setitem__(stage, time.perf_counter()), **kwargs)
            vecs, vals = model.fit_transform(X)
            return vecs, vals, model

    else:
        from ncut_pytorch import Ncut

        def fit():
            model = Ncut(device="cpu", **kwargs)
            vecs = model.fit_transform(X)
            return vecs, model.eigval, model

    base = _rss_mb()
    walls, cpus, stages = [], [], {}
    ends: dict = {}
    for rep in range(args.reps + (1 if args.warm else 0)):
        ends.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fit()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if rep > 0 or not args.warm:
            walls.append(wall)
            cpus.append(cpu)
            prev = t0
            for stage, end in ends.items():  # dicts keep the stages' order of first report
                stages.setdefault(stage, []).append(end - prev)
                prev = end
    peak = _peak_mb()
    res = {"wall": walls, "cpu": cpus, "peak_mb": peak - base, "data_mb": X.numel() * 4 / 2**20,
           "capability": torch.backends.cpu.get_cpu_capability(),
           "stages": {k: statistics.median(v) for k, v in stages.items()}}
    model = out[2]
    if args.method == "ref":
        res["sigma"] = float(model.sigma)
    else:
        res["gamma"] = float(model.gamma_)
        res["n_iter"] = int(model.n_iter_)
    if args.save:
        np.save(args.save + "_vecs.npy", out[0].float().numpy())
        np.save(args.save + "_vals.npy", out[1].float().numpy())
    print("RESULT " + json.dumps(res))


# ----------------------------------------------------------------------------- driver side
def run_worker(method: str, data: str, *, reps: int, threads: int, warm: bool = True,
               save: str | None = None, env: dict | None = None, **kwargs: object) -> dict:
    py = sys.executable if method == "ours" else str(REF_PY)
    cmd = [py, __file__, "--worker", method, "--data", data, "--reps", str(reps),
           "--threads", str(threads), "--kwargs", json.dumps(kwargs)]
    if not warm:
        cmd.append("--cold")
    if save:
        cmd += ["--save", save]
    full_env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), **(env or {}))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env)
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
    """Exact top-k of the reference's own graph: rbf W = exp(-|x-y|^2 / (2 sigma^2)), D^-1/2 W D^-1/2,
    by our block-Krylov solver to a residual of 1e-6 (the degrees applied as a scale)."""
    import torch

    sys.path.insert(0, str(ROOT))
    from ncut_widget.engine.eigsolve import top_eigh

    sq = X.pow(2).sum(1)
    W = torch.addmm(sq[None, :], X, X.T, alpha=-2.0).add_(sq[:, None]).clamp_min_(0)
    W.mul_(-0.5 / sigma**2).exp_()
    res = top_eigh(W, k, seed=0, tol=1e-6, scale=W.sum(1).rsqrt())
    return res.vectors, res.values


def tight_exact(X, gamma: float, k: int):
    """Our exact graph at the same gamma, solved to a residual of 1e-7 (float32's floor is ~1e-7)."""
    sys.path.insert(0, str(ROOT))
    from ncut_widget.engine import affinity as aff
    from ncut_widget.engine.eigsolve import top_eigh
    from ncut_widget.engine.exact import exact_affinity

    W, _, deg = exact_affinity(aff.prepare(X, "cosine"), "cosine", gamma, None)
    # tol 1e-7 is float32's floor: cap the cycles (one run did not reach it in 200, another
    # stood at 1.7e-7 after 40, 14 minutes; 4 cycles reach 1e-7 when it can be reached); the
    # residual reached is printed with the comparison.
    res = top_eigh(W, k, seed=1, tol=1e-7, max_iter=10, scale=deg.rsqrt())
    del W
    return res.vectors, res.values.double(), res.residual


def med(res: dict, key: str = "wall") -> float:
    return statistics.median(res[key])


def fmt_t(res: dict) -> str:
    return f"wall {med(res):6.2f} s  cpu {med(res, 'cpu'):6.2f} s  peak +{res['peak_mb']:5.0f} MB"


def run_isa(isa: str, args: argparse.Namespace, tmp: Path, data: dict) -> None:
    import numpy as np
    import torch

    T = args.threads
    env = AVX2_ENV if isa == "avx2" else {}
    ours_paths = [("ours float32 scan", {"scan_precision": "float32"})]
    if isa == "native":
        ours_paths.append(("ours auto scan", {}))
    # Defaults denoise (0.8, engine/nystrom.py); denoise=0 gives the graph's own eigenvectors.
    ours_paths += [(f"{name}, denoise 0", dict(kw, denoise=0)) for name, kw in ours_paths]
    print(f"\n################ ISA: {isa} "
          f"({'AVX2 emulated for both libraries: ' + ' '.join(f'{k}={v}' for k, v in AVX2_ENV.items()) if env else 'as the machine is'})"
          f"  load {os.getloadavg()[0]:.1f}", flush=True)

    if args.only_scaling:
        scaling(args, data, ours_paths, env)
        return

    # 1-2. seed-shaped data at defaults
    seed_path, labels = data["seed"]
    runs = {}
    for name, kw in ours_paths:
        runs[name] = run_worker("ours", seed_path, reps=args.reps, threads=T, env=env, n_eig=50,
                                save=str(tmp / f"{isa}_{len(runs)}"), **kw)
    runs["ncut-pytorch 3.2.0"] = run_worker("ref", seed_path, reps=args.reps, threads=T, env=env, n_eig=50,
                                            save=str(tmp / f"{isa}_ref"))
    ref_wall = med(runs["ncut-pytorch 3.2.0"])
    cap = runs["ncut-pytorch 3.2.0"]["capability"]
    print(f"\n== 1. Ncut defaults, 25,600 x 768, n_eig=50 (median of {args.reps} warm runs, fresh "
          f"process each; torch kernels {cap}; load {os.getloadavg()[0]:.1f}) ==")
    for name, res in runs.items():
        ratio = "" if name.startswith("ncut-pytorch") else f"  speed-up x{ref_wall / med(res):.2f}"
        print(f"{name:34s} {fmt_t(res)}{ratio}")
    print("stages (median wall s; 'sample anchors' = FPS + gamma + the scan's principal subspace):")
    for name, res in runs.items():
        if not name.startswith("ncut-pytorch"):
            print(f"  {name:32s} " + "  ".join(f"{k} {v:.3f}" for k, v in res["stages"].items()))
    print("\n== 2. planted parts (9 labels) on the same data: captured share / linear-probe accuracy ==")
    vecs = {name: torch.from_numpy(np.load(tmp / f"{isa}_{i}_vecs.npy")) for i, (name, _) in enumerate(ours_paths)}
    vecs["ncut-pytorch 3.2.0"] = torch.from_numpy(np.load(tmp / f"{isa}_ref_vecs.npy"))
    for k in (9, 20, 50):
        cells = "   ".join(f"{name} {c:.4f} / {p:.4f}" for name, (c, p) in
                           ((n, part_scores(v, labels, k)) for n, v in vecs.items()))
        print(f"top-{k:2d}: {cells}")

    # 3. closeness to each method's own exact solution
    sizes = [("10,240", data["mid"])] + ([] if args.quick else [("25,600", data["seed"])])
    for label, (path, _) in sizes:
        X = torch.from_numpy(np.load(path))
        run_worker("ours", path, reps=1, threads=T, warm=False, env=env, n_eig=50, n_sample=len(X),
                   save=str(tmp / f"{isa}_ex"))
        ex_vecs = torch.from_numpy(np.load(tmp / f"{isa}_ex_vecs.npy"))
        ex_vals = torch.from_numpy(np.load(tmp / f"{isa}_ex_vals.npy"))
        approx = {}
        for i, (name, kw) in enumerate(ours_paths):
            run_worker("ours", path, reps=1, threads=T, warm=False, env=env, n_eig=50, save=str(tmp / f"{isa}_a{i}"), **kw)
            approx[name] = (torch.from_numpy(np.load(tmp / f"{isa}_a{i}_vecs.npy")),
                            torch.from_numpy(np.load(tmp / f"{isa}_a{i}_vals.npy")), ex_vecs, ex_vals)
        rr = run_worker("ref", path, reps=1, threads=T, warm=False, env=env, n_eig=50, save=str(tmp / f"{isa}_ar"))
        rv, rl = ref_exact(X, rr["sigma"], 50)
        approx["ncut-pytorch 3.2.0"] = (torch.from_numpy(np.load(tmp / f"{isa}_ar_vecs.npy")),
                                        torch.from_numpy(np.load(tmp / f"{isa}_ar_vals.npy")), rv, rl)
        print(f"\n== 3. vs the exact solution of each method's own graph, {label} x 768 (mean principal "
              f"cosine; max |eigenvalue error| over the top 9) ==")
        for k in (2, 5, 9, 20, 50):
            print(f"top-{k:2d}: " + "   ".join(f"{name} {principal_cosine(v[:, :k], e[:, :k]):.4f}"
                                               for name, (v, _, e, _) in approx.items()))
        print("eigenvalues top-9: " + "   ".join(f"{name} {float((lv[:9].double() - el[:9].double()).abs().max()):.4f}"
                                                  for name, (_, lv, _, el) in approx.items()))
        del X

    # 4. the seed's exact call
    if not args.quick:
        ex = run_worker("ours", seed_path, reps=1, threads=T, warm=False, env=env, n_eig=50, n_sample=30000,
                        n_neighbors=10, d_gamma=0.5, save=str(tmp / f"{isa}_seedex"))
        X = torch.from_numpy(np.load(seed_path))
        tv, tl, tres = tight_exact(X, ex["gamma"], 60)
        v = torch.from_numpy(np.load(tmp / f"{isa}_seedex_vecs.npy"))
        lv = torch.from_numpy(np.load(tmp / f"{isa}_seedex_vals.npy")).double()
        print("\n== 4. the seed's exact call Ncut(n_eig=50, n_sample=30000, n_neighbors=10, d_gamma=0.5, "
              "device='cpu') on 25,600 x 768 (1 cold run) ==")
        print(f"ours exact path: {fmt_t(ex)} (features {ex['data_mb']:.0f} MB; dense 25,600^2 float32 "
              f"would be 2,500 MB, we keep its upper half), {ex['n_iter']} Krylov cycle(s)")
        print(f"vs the same graph solved to residual {tres:.1e}: max |eigenvalue error| "
              f"{float((lv - tl[:50]).abs().max()):.1e}; subspace cosine top-9 "
              f"{principal_cosine(v[:, :9], tv[:, :9]):.5f}, top-20 {principal_cosine(v[:, :20], tv[:, :20]):.5f}, "
              f"top-50 {principal_cosine(v[:, :50], tv[:, :50]):.5f}")
        del X

    scaling(args, data, ours_paths, env)


def scaling(args: argparse.Namespace, data: dict, ours_paths: list, env: dict) -> None:
    """5. Each size at defaults, ``args.rounds`` rounds of the reference then each of our paths
    back to back; per-round ratios and, over several rounds, the median ratio."""
    T = args.threads
    print(f"\n== 5. scaling at defaults, N x 768 (peak = RSS growth over the loaded features; "
          f"{args.rounds} round(s); load {os.getloadavg()[0]:.1f}) ==")
    for n in args.sizes:
        path = data[n]
        reps = 3 if n <= 25_600 else (2 if n <= 100_000 else 1)
        ratios: dict[str, list[float]] = {name: [] for name, _ in ours_paths}
        for rnd in range(args.rounds):
            line = f"N={n:>7,}{f' round {rnd + 1}' if args.rounds > 1 else ''}:"
            r = run_worker("ref", path, reps=reps, threads=T, warm=n <= 100_000, env=env, n_eig=50)
            for name, kw in ours_paths:
                o = run_worker("ours", path, reps=reps, threads=T, env=env, n_eig=50, **kw)
                ratios[name].append(med(r) / med(o))
                line += (f" {name}: {med(o):5.2f} s, +{o['peak_mb']:5.0f} MB ({o['peak_mb'] * 2**20 / n:4.0f} B/node),"
                         f" x{ratios[name][-1]:.2f} |")
            print(f"{line} ncut-pytorch {med(r):5.2f} s, +{r['peak_mb']:5.0f} MB   (load {os.getloadavg()[0]:.1f})",
                  flush=True)
        if args.rounds > 1:
            print(f"N={n:>7,} median ratio over {args.rounds} rounds: "
                  + " | ".join(f"{name} x{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" for name, v in ratios.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="skip 400k, the exact seed call and closeness at 25,600")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--isa", choices=["native", "avx2", "both"], default="both")
    ap.add_argument("--only-scaling", action="store_true", help="section 5 alone")
    ap.add_argument("--sizes", type=int, nargs="+", help="section 5's sizes (default 25,600, 100,000 and, "
                    "without --quick, 400,000)")
    ap.add_argument("--rounds", type=int, default=1, help="section 5's back-to-back rounds per size")
    args = ap.parse_args()
    args.sizes = args.sizes or [25_600, 100_000] + ([] if args.quick else [400_000])
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from ncut_widget.engine.synthetic import planted_patch_features

    ensure_reference_env()
    tmp = Path(tempfile.mkdtemp(prefix="ncut-bench-"))
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  CPU: {cpu_description()}  threads={args.threads}  "
          f"torch={torch.__version__} ({torch.backends.cpu.get_cpu_capability()})  load={os.getloadavg()[0]:.1f}",
          flush=True)
    try:  # the features are GBs at 400k: removed however the run ends
        data = {}
        if not args.only_scaling:  # sections 1-4's data
            X, labels = planted_patch_features(n_images=20, grids=(16, 32), dim=768, seed=0)
            np.save(tmp / "seed.npy", X.numpy())
            data["seed"] = (str(tmp / "seed.npy"), labels)
            Xm, lm = planted_patch_features(n_images=10, grids=(32,), dim=768, seed=3)
            np.save(tmp / "mid.npy", Xm.numpy())
            data["mid"] = (str(tmp / "mid.npy"), lm)
            del X, Xm
        for n in args.sizes:
            Xs, _ = planted_patch_features(n_images=math.ceil(n / 1280), grids=(16, 32), dim=768, seed=1)
            np.save(tmp / f"s{n}.npy", Xs[:n].numpy())
            data[n] = str(tmp / f"s{n}.npy")
            del Xs
        for isa in (["native", "avx2"] if args.isa == "both" else [args.isa]):
            run_isa(isa, args, tmp, data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
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
