"""explore(): features -> Ncut -> color -> widget, reporting progress to the widget as it goes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.checks import resolve_device
from . import cells
from .results import build_results
from .widget import NcutWidget

COLORINGS = ("tsne", "umap", "pca")


@dataclass(frozen=True)
class _Plan:
    """Checked inputs of one run: everything that can be wrong is found before any model runs."""

    images: list[Any]  # RGB PIL images, named (``info["name"]``)
    resolutions: list[tuple[int, int]]  # (H, W) as requested
    layer: int | Sequence[int]
    backbone: Any  # a resolved ``Backbone``, or a torch.hub name (loaded by the job: a download)
    n_eig: int
    color: str
    device: str | None
    seed: int
    ncut_kwargs: dict[str, Any]


def _check(
    images: Any,
    resolutions: Any,
    layer: int | Sequence[int],
    backbone: Any,
    n_eig: int,
    color: str,
    device: str | None,
    seed: int,
    ncut_kwargs: dict[str, Any],
) -> _Plan:
    """Validate every argument with the checks the later stages use, without running a model.

    Raises ``ValueError``/``TypeError`` naming the bad input: an unreadable image, a resolution
    under the backbone's patch size, an unknown backbone or color, a layer out of range, bad
    Ncut arguments, an unusable device. Resolving the backbone loads the offline weights (cached
    after the first call); a torch.hub name is left to the job, since loading it may download.
    """
    from ..engine.ncut import Ncut
    from ..features.backbones import HUB_NAMES, resolve_backbone, resolve_layers
    from ..features.extract import parse_resolutions, round_to_patch
    from ..features.images import load_images

    if color not in COLORINGS:
        raise ValueError(f"unknown color {color!r}: choose one of {COLORINGS}")
    resolve_device(device)  # an unusable device fails here, not later in the thread
    photos, _ = load_images(images)
    sizes = parse_resolutions(resolutions)
    Ncut(n_eig=n_eig, device=device, seed=seed, **ncut_kwargs)  # checks the Ncut arguments
    if isinstance(backbone, str) and backbone in HUB_NAMES:
        resolve_layers(layer, None)  # types only: the layer count comes with the download
    else:
        backbone = resolve_backbone(backbone)
        resolve_layers(layer, backbone.n_layers)
        for size in sizes:
            round_to_patch(size, backbone.patch_size)
    return _Plan(photos, sizes, layer, backbone, n_eig, color, device, seed, dict(ncut_kwargs))


def _coloring(name: str) -> Callable[..., Any]:
    from .. import color

    return {"tsne": color.tsne_color, "umap": color.umap_color, "pca": color.pca_color}[name]


def _run(plan: _Plan, report: Callable[[str, int, int], None], keep_model: bool = False) -> Any:
    """``Results``; with ``keep_model``, ``(Results, MapModel)`` (what ``add_images`` needs)."""
    from ..features import extract_features

    features = extract_features(
        plan.images, resolutions=plan.resolutions, layer=plan.layer, backbone=plan.backbone,
        device=plan.device, progress=report,
    )
    return fit_results(plan, features, report, keep_model)


def fit_results(
    plan: _Plan, features: Any, report: Callable[[str, int, int], None], keep_model: bool = False
) -> Any:
    """Ncut -> coloring of ``features`` (a ``MultiResFeatures``) with ``plan``'s settings.

    Returns ``Results``; with ``keep_model``, ``(Results, MapModel)`` (what ``add_images`` needs).
    """
    from ..engine.ncut import Ncut

    ncut = Ncut(n_eig=plan.n_eig, device=plan.device, seed=plan.seed,
                progress=_prefixed(report, "Normalized cut"), **plan.ncut_kwargs)
    eigvecs, _ = ncut.fit_transform(features.nodes)
    if not keep_model:
        del ncut  # its anchors and fitted state are not needed for the coloring
        X_3d, rgb = _coloring(plan.color)(eigvecs, device=plan.device, seed=plan.seed, progress=report)
        return build_results(features, eigvecs, X_3d, rgb)
    from ..scale.models import fit_coloring, portable_ncut
    from .growth import MapModel

    # Anchors only (no N x C features): the portable copy is what transform needs.
    small = portable_ncut(ncut, device=ncut.device)
    del ncut
    # The same coloring call as above, keeping its laid-out sample to place new nodes later.
    coloring, X_3d, rgb = fit_coloring(eigvecs, method=plan.color, device=plan.device, seed=plan.seed, progress=report)
    model = MapModel(
        backbone=plan.backbone, resolutions=tuple(plan.resolutions), layer=plan.layer,
        device=plan.device, ncut=small, coloring=coloring.to(small.device),
    )
    return build_results(features, eigvecs, X_3d, rgb), model


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
    return_model: bool = False,
    **ncut_kwargs: Any,
) -> Any:
    """Run features -> Ncut -> coloring and return validated :class:`Results` (no widget involved).

    Arguments as in :func:`explore`; ``progress`` is a ``progress(stage, done, total)`` callable
    (raise :class:`~ncut_widget.progress.Cancelled` from it to stop between chunks). With
    ``return_model``, returns ``(results, model)``: the :class:`~ncut_widget.widget.growth.MapModel`
    that :func:`~ncut_widget.add_images` grows the results with (without segment rotations: the
    widget computes those with its ladder).
    """
    from ..progress import resolve_progress

    plan = _check(images, resolutions, layer, backbone, n_eig, color, device, seed, ncut_kwargs)
    return _run(plan, resolve_progress(progress), keep_model=bool(return_model))


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

    The arguments are checked first, in the calling cell (a bad image, resolution, backbone,
    layer or Ncut argument raises there). Then the widget is returned at once and shows progress
    (stage, percent) while a background thread computes, so the notebook never looks frozen;
    call ``widget.wait()`` to block until done, ``widget.cancel()`` or ``widget.close()`` to stop.
    Re-running the notebook cell closes the widget its earlier run made (cancelling its job).
    The job never writes traits itself: the kernel's event loop applies its updates between
    cells; in a plain script (no running event loop) ``wait()`` applies them.

    Args:
        images: PIL images, file paths, ``(H, W, 3)`` uint8 arrays or ``(3, H, W)`` tensors.
        resolutions: input sizes, each an int (square) or ``(h, w)``; at least one backbone patch.
        layer: backbone layer (or layers) whose patch features become nodes.
        backbone: ``None`` for the offline DINOv2 ViT-S/14, a hub name, or a module/callable
            (see :func:`~ncut_widget.extract_features`).
        n_eig: eigenvectors to compute (the widget sends up to 30 to the browser).
        color: ``"tsne"``, ``"umap"`` or ``"pca"`` for the 3D layout and its RGB.
        device: ``None`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        seed: makes the whole run deterministic.
        background: compute in a thread (``True``) or before returning (``False``; errors raise).
        **ncut_kwargs: passed to :class:`~ncut_widget.Ncut` (``n_sample``, ``d_gamma``, …).
    """
    # First: an earlier run of this cell stops computing before this one checks or starts.
    cells.close_earlier_run()
    plan = _check(images, resolutions, layer, backbone, n_eig, color, device, seed, ncut_kwargs)
    widget = NcutWidget(stage="Starting", status="Starting…")
    cells.remember(widget)
    # The widget keeps the fitted model too (anchors, coloring sample, rotations): w.add_images.
    widget.start_job(lambda report: _run(plan, report, keep_model=True), background=background)
    if not background:
        widget.wait()
    return widget
