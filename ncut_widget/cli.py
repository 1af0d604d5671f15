"""The ``ncut-widget`` command.

* ``ncut-widget demo [IMAGES_DIR]``: compute on the bundled photos (or a folder) and write a
  standalone page.
* ``ncut-widget fit IMAGES_DIR --out results.zarr``: fit on a sample of the images, transform
  every image on a dask cluster, write the results to Zarr (needs ``ncut-widget[dask]``).
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def load_folder(folder: Path) -> tuple[list, list[str]]:
    """Read every image in ``folder`` (sorted by name); return (PIL images, 'name: reason' skips)."""
    from PIL import Image, UnidentifiedImageError

    if not folder.is_dir():
        raise SystemExit(f"error: {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"error: {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    images, skipped = [], []
    for path in files:
        try:
            with Image.open(path) as img:
                image = img.convert("RGB")
            image.info["name"] = path.stem
            images.append(image)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            skipped.append(f"{path.name}: {err}")
    return images, skipped


def demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ncut-widget demo", description=__doc__)
    parser.add_argument("images_dir", nargs="?", type=Path, help="folder of images (default: bundled photos)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[224, 448], metavar="SIZE")
    parser.add_argument("--n-images", type=int, default=8, help="bundled photos to use (default 8)")
    parser.add_argument("--color", choices=("tsne", "umap", "pca"), default="tsne")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: CUDA if available)")
    parser.add_argument("--out", type=Path, default=Path("demo.html"))
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    args = parser.parse_args(argv)

    from .features import sample_images
    from .progress import TqdmProgress
    from .widget import NcutWidget
    from .widget.pipeline import compute

    if args.images_dir is None:
        images = sample_images(args.n_images)
    else:
        images, skipped = load_folder(args.images_dir)
        for line in skipped:
            print(f"skipped unreadable file {line}", file=sys.stderr)
        if not images:
            raise SystemExit(f"error: none of the images in {args.images_dir} could be read")
    progress = TqdmProgress()
    results = compute(images, resolutions=args.resolutions, color=args.color, device=args.device, progress=progress)
    progress.close()
    widget = NcutWidget()
    widget.set_results(results)
    out = widget.save_html(args.out).resolve()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {results.layout.n_nodes} nodes, "
          f"{len(results.images)} images at {', '.join(results.layout.labels)}")
    if args.open:
        webbrowser.open(out.as_uri())
    return 0


def fit(argv: list[str]) -> int:
    """``ncut-widget fit``: the scale-out pipeline (see ``ncut_widget.scale.fit_folder``)."""
    parser = argparse.ArgumentParser(
        prog="ncut-widget fit",
        description="Fit Ncut, a coloring and k-way segments on a sample of the images, transform "
        "every image on a dask cluster and write eigenvectors, 3D positions, RGB, segment labels "
        "and the node index to a Zarr store. Needs: pip install 'ncut-widget[dask]'.",
    )
    parser.add_argument("images_dir", type=Path, help="folder of images")
    parser.add_argument("--out", type=Path, required=True, help="Zarr store to write, e.g. results.zarr")
    parser.add_argument("--sample", type=int, default=100, help="images to fit on (default 100)")
    parser.add_argument(
        "--scheduler", default=None,
        help="dask scheduler address (tcp://HOST:PORT), or threads / sync for no cluster "
        "(default: a local cluster of worker processes on 127.0.0.1)",
    )
    parser.add_argument("--workers", type=int, default=None, help="local cluster workers (default: one per core)")
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--memory-limit", default="auto", help="per local worker, e.g. 4GB (default: auto)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[224, 448], metavar="SIZE")
    parser.add_argument("--layer", type=int, default=9)
    parser.add_argument("--backbone", default=None, help="backbone name (default: offline DINOv2 ViT-S/14)")
    parser.add_argument("--n-eig", type=int, default=50)
    parser.add_argument("--anchors", type=int, default=2048, help="Nystrom anchors (Ncut n_sample)")
    parser.add_argument("--color", choices=("tsne", "umap", "pca"), default="tsne")
    parser.add_argument("--n-clusters", type=int, default=8, help="k-way segments (labels)")
    parser.add_argument("--images-per-task", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (client and workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing store")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    try:
        from .scale.cluster import get_client
        from .scale.features import list_images
        from .scale.pipeline import fit_folder
    except ImportError as err:
        raise SystemExit(f"error: {err}") from err
    if not args.images_dir.is_dir():
        raise SystemExit(f"error: {args.images_dir} is not a folder")
    try:
        paths, _, skipped = list_images(args.images_dir)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err
    for line in skipped:
        print(f"skipped unreadable file {line}", file=sys.stderr)
    if not paths:
        raise SystemExit(f"error: none of the images in {args.images_dir} could be read")
    with get_client(args.scheduler, args.workers, args.threads_per_worker, args.memory_limit) as client:
        where = "dask's local " + args.scheduler + " scheduler" if client is None else f"{client.scheduler.address}"
        print(f"running on {where}")
        try:
            store = fit_folder(
                paths, args.out, sample=args.sample, resolutions=args.resolutions, layer=args.layer,
                backbone=args.backbone, n_eig=args.n_eig, n_sample=args.anchors, color=args.color,
                n_clusters=args.n_clusters, images_per_task=args.images_per_task, device=args.device,
                seed=args.seed, overwrite=args.overwrite, progress=not args.quiet, client=client,
            )
        except (FileExistsError, ValueError) as err:
            raise SystemExit(f"error: {err}") from err
    print(store)
    from .widget import NcutWidget

    if hasattr(NcutWidget, "from_zarr"):
        print(f"browse it: NcutWidget.from_zarr({str(args.out)!r}, images=range(50))")
    else:
        print(
            "browse it: w = NcutWidget(); "
            f"w.set_results(ncut_widget.scale.results_from_zarr({str(args.out)!r}, images=range(50)))"
        )
    return 0


COMMANDS = {"demo": demo, "fit": fit}
USAGE = (
    "usage: ncut-widget demo [IMAGES_DIR] [--resolutions 224 448] [--out demo.html] [--open]\n"
    "       ncut-widget fit IMAGES_DIR --out results.zarr [--sample N] [--scheduler ADDRESS]"
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ncut-widget`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"unknown command {argv[0]!r}; try: ncut-widget --help", file=sys.stderr)
        return 2
    return command(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
