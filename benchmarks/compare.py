"""compare() benchmark: 4 layers of the offline DINOv2 ViT-S/14 on the 10 bundled photos at (224, 448).

Times, back to back in one process:
  compare     compare(photos, layer=[3, 6, 9, 11]) to its last panel's results (one feature pass
              for the 4 layers, then per panel Ncut -> t-SNE coloring -> segment ladder -> encoding),
              with each panel's stages from its progress traits (as the widget shows them);
  peer        explore() once per layer, one after another (4 feature passes), the same settings;
  features    extract_features of the 4 layers at once vs of one layer (the shared forward pass).
Everything runs on worker threads, as the widgets' jobs do (background=True); runs alternate
compare / peer so that load changes hit both.

Prints medians over --runs and the ratio compare / peer, with torch's CPU capability, threads and
the load average (other processes share this machine's cores). Not a test.

Usage: python benchmarks/compare.py [--runs 1] [--threads 2] [--layers 3 6 9 11] [--no-peer]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ncut_widget import compare, explore, extract_features, sample_images  # noqa: E402

RESOLUTIONS = (224, 448)


def _stage_key(stage: str) -> str:
    """Progress stages grouped as the bar shows them ("Normalized cut: scan" -> "Normalized cut")."""
    return stage.split(":")[0].strip() or "?"


def time_compare(photos: list, layers: list[int]) -> tuple[float, dict[str, dict[str, float]]]:
    """Total seconds to the last panel's results, and per panel the seconds spent in each stage."""
    t0 = time.perf_counter()
    cmp = compare(photos, resolutions=RESOLUTIONS, layer=layers, background=True)
    seen: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for name, w in cmp.panels.items():
        w.observe(lambda change, name=name: seen[name].append((time.perf_counter(), change["new"])), names="stage")
    cmp.wait()
    total = time.perf_counter() - t0
    # The features stage is shared (one pass for every panel): timed once, from the first panel.
    stages: dict[str, dict[str, float]] = {}
    for k, (name, events) in enumerate(seen.items()):
        spent: dict[str, float] = defaultdict(float)
        for (t, stage), (t_next, _) in zip(events, events[1:], strict=False):
            key = _stage_key(stage)
            if stage not in ("Waiting", "Done") and (key != "features" or k == 0):
                spent[key] += t_next - t
        stages[name] = dict(spent)
    cmp.close()
    return total, stages


def time_peer(photos: list, layers: list[int]) -> float:
    # Background jobs like compare()'s: on this machine the same work ran 3.5x slower on the main
    # thread than on a worker thread under load, so both sides run on worker threads.
    t0 = time.perf_counter()
    for layer in layers:
        explore(photos, resolutions=RESOLUTIONS, layer=layer, background=True).wait().close()
    return time.perf_counter() - t0


def time_features(photos: list, layer: int | list[int]) -> float:
    """Seconds of extract_features on a worker thread (where the widgets' jobs run it)."""
    took: list[float] = []

    def run() -> None:
        t0 = time.perf_counter()
        extract_features(photos, resolutions=RESOLUTIONS, layer=layer, progress=False)
        took.append(time.perf_counter() - t0)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return took[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 6, 9, 11])
    parser.add_argument("--no-peer", action="store_true", help="skip the explore()-per-layer peer")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    photos = sample_images(10)
    n_nodes = len(photos) * sum((r // 14) ** 2 for r in RESOLUTIONS)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{args.threads} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{len(photos)} photos at {RESOLUTIONS}: {n_nodes:,} nodes per panel; layers {args.layers}")
    time_features(photos[:1], 9)  # loads the weights once, outside the timings

    feats_all, feats_one, totals, peers, stages = [], [], [], [], {}
    for _ in range(args.runs):
        feats_all.append(time_features(photos, args.layers))
        feats_one.append(time_features(photos, args.layers[-1]))
        total, stages = time_compare(photos, args.layers)
        totals.append(total)
        print(f"  compare run: {total:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        if not args.no_peer:
            peers.append(time_peer(photos, args.layers))
            print(f"  peer run:    {peers[-1]:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)

    med = statistics.median
    print(f"\nfeatures, {len(args.layers)} layers in one pass: {med(feats_all):.1f} s; one layer: {med(feats_one):.1f} s "
          f"(ratio {med(feats_all) / med(feats_one):.2f})")
    print("per panel, seconds in each stage (last run; the shared features pass under the first):")
    for name, spent in stages.items():
        parts = ", ".join(f"{k} {v:.1f}" for k, v in spent.items())
        print(f"  {name}: {sum(spent.values()):.1f} s  ({parts})")
    print(f"compare, {len(args.layers)} panels: median {med(totals):.1f} s over {args.runs} run(s)")
    if peers:
        print(f"peer, explore() per layer: median {med(peers):.1f} s; compare / peer = {med(totals) / med(peers):.2f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
