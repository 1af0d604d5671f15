"""Memory over re-runs of one notebook cell that calls explore(): does it come back?

Not a test: prints the process RSS after each run and the growth after run 1. Goal (issue): after
six runs, within 60 MB of the RSS after run 1 (before re-runs closed the earlier widget, four runs
on 8 photos grew 1,312 -> 1,610 -> 1,694 -> 1,754 MB).

Each run is `explore(sample_images(8), resolutions=(224, 448))` on a background thread, as a
notebook cell would call it; a re-run of the same cell is simulated by reporting the same cell id
with a new request id to `ncut_widget.widget.cells` (what ipykernel's execute request carries),
so explore() closes the widget of the previous run. Then `wait()` and a `gc.collect()`, and RSS.

    .venv/bin/python benchmarks/rerun_memory.py              # six re-runs of one cell
    .venv/bin/python benchmarks/rerun_memory.py --cells      # six different cells (nothing closed)
    .venv/bin/python benchmarks/rerun_memory.py --overlap    # re-run while the previous one computes
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; psutil elsewhere)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--color", default="tsne", choices=("tsne", "umap", "pca"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", action="store_true", help="each run in a different cell: nothing is closed")
    parser.add_argument("--overlap", action="store_true",
                        help="re-run while the previous run computes (cancels it); wait for the last")
    parser.add_argument("--overlap-s", type=float, default=5.0, help="how long a run computes before the re-run")
    args = parser.parse_args()

    import torch

    from ncut_widget import explore, sample_images
    from ncut_widget.widget import cells

    run_id = ["cell", "request-0"]
    cells.current_run = lambda: (run_id[0], run_id[1])  # what ipykernel's get_parent() would give
    photos = sample_images(args.images)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; {args.images} photos at 224, 448, color={args.color}, "
          f"{'different cells' if args.cells else 're-runs of one cell'}{', overlapping' if args.overlap else ''}")
    print(f"before run 1: {rss_mb():,.0f} MB")

    series: list[float] = []
    widgets = []
    for i in range(1, args.runs + 1):
        run_id[1] = f"request-{i}"
        if args.cells:
            run_id[0] = f"cell-{i}"
        start = time.perf_counter()
        w = explore(photos, resolutions=(224, 448), color=args.color, device=args.device)
        if args.overlap and i < args.runs:
            try:  # compute for a few seconds, then re-run (which cancels this run)
                w.wait(timeout=args.overlap_s)
            except TimeoutError:
                pass
        else:
            w.wait()
        widgets.append(w)  # a user's variable or Out[] history would keep them too
        gc.collect()
        series.append(rss_mb())
        print(f"after run {i}: {series[-1]:,.0f} MB  ({w.stage}, {time.perf_counter() - start:.1f} s)")

    print("RSS series (MB): " + " -> ".join(f"{v:,.0f}" for v in series))
    growth = [v - series[0] for v in series[1:]]
    if growth:
        print(f"growth after run 1: last {growth[-1]:+,.0f} MB, max {max(growth):+,.0f} MB "
              f"(goal: within 60 MB): {'ok' if max(growth) <= 60 else 'over'}")
    alive = sum(getattr(w, "_results", None) is not None for w in widgets)
    print(f"widgets still holding results: {alive} of {len(widgets)}")


if __name__ == "__main__":
    main()
