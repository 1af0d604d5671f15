"""explore(): features -> Ncut -> color -> widget, reporting progress to the widget as it goes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..engine.checks import resolve_device
from .results import Results, build_results
from .widget import NcutWidget

COLORINGS = ("tsne", "umap", "pca")
# Progress traits are comm messages: a few per second keeps the bar live without flooding.
_MIN_REPORT_INTERVAL_S = 0.2


class _WidgetProgress:
    """A ``progress(stage, done, total)`` callback that writes the widget's progress traits."""

    def __init__(self, widget: NcutWidget) -> None:
        self._widget = widget
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if stage == self._widget.stage and not finished and now - self._last < _MIN_REPORT_INTERVAL_S:
            return
        self._last = now
        fraction = 0.0 if total <= 0 else min(done / total, 1.0)
        with self._widget.hold_trait_notifications():
            self._widget.stage = stage
            self._widget.progress = fraction
            self._widget.status = f"{stage}: {done}/{total}"


def _coloring(name: str) -> Callable[..., Any]:
    from .. import color

    return {"tsne": color.tsne_color, "umap": color.umap_color, "pca": color.pca_color}[name]


def compute(
    images: Sequence[Any],
    resolutions: Sequence[Any] = (224, 448),
    layer: int | Sequence[int] = 9,
    backbone: Any = None,
    n_eig: int = 50,
    color: str = "tsne",
    device: str | None = None,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    **ncut_kwargs: Any,
) -> Results:
    """Run features -> Ncut -> coloring and return validated :class:`Results` (no widget involved)."""
    from ..engine.ncut import Ncut
    from ..features import extract_features
    from ..progress import resolve_progress

    report = resolve_progress(progress)
    features = extract_features(
        images, resolutions=resolutions, layer=layer, backbone=backbone, device=device, progress=report
    )
    ncut = Ncut(n_eig=n_eig, device=device, seed=seed, progress=_prefixed(report, "Normalized cut"), **ncut_kwargs)
    eigvecs, _ = ncut.fit_transform(features.nodes)
    X_3d, rgb = _coloring(color)(eigvecs, device=device, seed=seed, progress=report)
    return build_results(features, eigvecs, X_3d, rgb)


def _prefixed(report: Callable[[str, int, int], None], prefix: str) -> Callable[[str, int, int], None]:
    def prefixed(stage: str, done: int, total: int) -> None:
        report(f"{prefix}: {stage}", done, total)

    return prefixed


def explore(
    images: Sequence[Any],
    resolutions: Sequence[int | tuple[int, int]] = (224, 448),
    layer: int | Sequence[int] = 9,
    backbone: Any = None,
    n_eig: int = 50,
    color: str = "tsne",
    device: str | None = None,
    seed: int = 0,
    background: bool = True,
    **ncut_kwargs: Any,
) -> NcutWidget:
    """Compute features -> :class:`~ncut_widget.Ncut` -> a 3D coloring, and show them in a widget.

    The widget is returned at once and shows progress (stage, percent) while a background thread
    computes, so the notebook never looks frozen; call ``widget.wait()`` to block until done.

    Args:
        images: PIL images, file paths, ``(H, W, 3)`` uint8 arrays or ``(3, H, W)`` tensors.
        resolutions: input sizes, each an int (square) or ``(h, w)``.
        layer: backbone layer (or layers) whose patch features become nodes.
        backbone: ``None`` for the offline DINOv2 ViT-S/14, a hub name, or a module/callable
            (see :func:`~ncut_widget.extract_features`).
        n_eig: eigenvectors to compute (the widget sends up to 30 to the browser).
        color: ``"tsne"``, ``"umap"`` or ``"pca"`` for the 3D layout and its RGB.
        device: ``None`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        seed: makes the whole run deterministic.
        background: compute in a thread (``True``) or before returning (``False``).
        **ncut_kwargs: passed to :class:`~ncut_widget.Ncut` (``n_sample``, ``d_gamma``, …).
    """
    if color not in COLORINGS:
        raise ValueError(f"unknown color {color!r}: choose one of {COLORINGS}")
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)) or len(images) == 0:
        raise ValueError("images must be a non-empty list of images (PIL, paths, arrays or tensors)")
    resolve_device(device)  # an unusable device fails here, not later in the thread
    widget = NcutWidget(stage="Starting", status="Starting…")
    images = list(images)

    def job() -> None:
        try:
            report = _WidgetProgress(widget)
            results = compute(images, resolutions, layer, backbone, n_eig, color, device, seed,
                              progress=report, **ncut_kwargs)
            report("Sending to the browser", 0, 1)
            widget.set_results(results)
        except BaseException as err:  # noqa: BLE001 - shown in the widget, re-raised by wait()
            widget._job_error = err
            widget.error = f"{type(err).__name__}: {err}"
            widget.stage = "Failed"

    if background:
        widget._job = threading.Thread(target=job, name="ncut-widget-explore", daemon=True)
        widget._job.start()
    else:
        job()
        widget.wait()
    return widget
