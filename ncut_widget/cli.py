"""`ncut-widget demo`: compute on the bundled photos (or a folder) and write a standalone page."""

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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ncut-widget`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: ncut-widget demo [IMAGES_DIR] [--resolutions 224 448] [--out demo.html] [--open]")
        return 0 if argv else 2
    if argv[0] != "demo":
        print(f"unknown command {argv[0]!r}; try: ncut-widget demo --help", file=sys.stderr)
        return 2
    return demo(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
