"""NcutWidget: the anywidget model. Traits and thin methods; the work lives in state/pipeline/export."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from . import state as wire
from .results import Results, build_results

if TYPE_CHECKING:
    from PIL import Image

    from ..features import MultiResFeatures

STATIC = Path(__file__).resolve().parent.parent / "static"
COLOR_MODES = ("rgb", "similarity")
_versions = itertools.count(1)


def _bundle(name: str) -> Path:
    path = STATIC / name
    if not path.exists():
        raise RuntimeError(
            f"the widget's frontend bundle {path} is missing: build it with `npm ci && npm run build` "
            "(or `make setup`) in the ncut_widget source folder, or install a built wheel"
        )
    return path


class NcutWidget(anywidget.AnyWidget):
    """Linked 3D eigen-embedding and per-image colormaps of one NCUT result.

    Build it with :func:`ncut_widget.explore` (computes everything, shows progress) or
    :meth:`NcutWidget.from_results` (wraps results you computed yourself).

    Synced traits: ``selected`` (node ids), ``n_eig_view`` (eigenvectors the similarity uses),
    ``threshold`` (similarity that counts as highlighted), ``color_mode`` (``"rgb"`` or
    ``"similarity"``); read-only from the browser: ``meta``, ``stage``, ``progress``, ``status``,
    ``error``.
    """

    # Paths let anywidget serve the built files (and hot-reload them with ANYWIDGET_HMR=1); an
    # unbuilt checkout still imports, and __init__ says how to build.
    _esm = STATIC / "widget.js" if (STATIC / "widget.js").is_file() else ""
    _css = STATIC / "widget.css" if (STATIC / "widget.css").is_file() else ""

    meta = traitlets.Dict().tag(sync=True)
    # The binary payload (docs/wire-format.md) is widget state, not a message: a notebook saved
    # with widget state reopens with its results, and every new view gets it from the manager.
    # Kernel -> browser messages have no size cap (the 10 MiB cap is on what the server receives).
    payload = traitlets.Bytes(b"").tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    n_eig_view = traitlets.Int(10).tag(sync=True)
    threshold = traitlets.Float(0.6).tag(sync=True)
    color_mode = traitlets.Unicode("rgb").tag(sync=True)
    stage = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        _bundle("widget.js")
        super().__init__(**kwargs)
        self._results: Results | None = None
        self._eig_wire: np.ndarray | None = None
        self._job: threading.Thread | None = None
        self._job_error: BaseException | None = None

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def from_results(
        cls,
        features: MultiResFeatures,
        eigvecs: Any,
        X_3d: Any,
        rgb: Any,
        images: Sequence[Image.Image] | None = None,
        **traits: Any,
    ) -> NcutWidget:
        """Show results computed elsewhere (e.g. the seed tutorial's code).

        Args:
            features: the :class:`~ncut_widget.MultiResFeatures` the nodes came from
                (``MultiResFeatures.from_grids([feats1, feats2], images=images)`` for the seed).
            eigvecs: ``(N, n_eig)`` float eigenvectors (torch or numpy), N = ``features.n_nodes``.
            X_3d: ``(N, 3)`` float 3D layout.
            rgb: ``(N, 3)`` float colors in [0, 1].
            images: one PIL image per feature image; defaults to ``features.images``.
        """
        widget = cls(**traits)
        widget.set_results(build_results(features, eigvecs, X_3d, rgb, images))
        return widget

    def set_results(self, results: Results) -> None:
        """Encode ``results`` and send them to every view (replacing what was shown); marks the job done."""
        encoded = wire.encode_state(
            results.layout, results.eigvecs, results.X_3d, results.rgb, results.images,
            version=next(_versions),
        )
        self._results = results
        self._eig_wire = wire.decode_eigvecs(encoded)
        k = encoded.meta["k"]
        # One comm message: meta and its payload always arrive together.
        with self.hold_sync():
            self.selected = []
            self.n_eig_view = min(max(self.n_eig_view, 1), k)
            self.meta = encoded.meta
            self.payload = encoded.payload
            self.stage = "Done"
            self.progress = 1.0
            self.status = results.summary()

    # --- validation ---------------------------------------------------------------------------
    @traitlets.validate("selected")
    def _check_selected(self, proposal: dict) -> list[int]:
        ids = list(proposal["value"])
        n = int(self.meta.get("n_nodes", 0))
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise traitlets.TraitError(
                f"selected node ids {bad[:5]} are out of range: this widget has {n} nodes (0..{n - 1})"
            )
        return ids

    @traitlets.validate("color_mode")
    def _check_color_mode(self, proposal: dict) -> str:
        if proposal["value"] not in COLOR_MODES:
            raise traitlets.TraitError(f"color_mode must be one of {COLOR_MODES}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("n_eig_view")
    def _check_n_eig_view(self, proposal: dict) -> int:
        value = int(proposal["value"])
        k = int(self.meta.get("k", 0)) or value
        if not 1 <= value <= max(k, 1):
            raise traitlets.TraitError(f"n_eig_view must be within 1..{k}, got {value}")
        return value

    @traitlets.validate("threshold")
    def _check_threshold(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not -1.0 <= value <= 1.0:
            raise traitlets.TraitError(f"threshold is a cosine similarity within [-1, 1], got {value}")
        return value

    # --- what the browser shows, from Python --------------------------------------------------
    @property
    def results(self) -> Results:
        """The results on display; raises until there are some."""
        if self._results is None:
            raise RuntimeError(self.error or "no results yet: the computation is still running (call wait())")
        return self._results

    def similarity(self, nodes: Sequence[int] | None = None) -> np.ndarray:
        """``(N,)`` float32 similarity of every node to ``nodes`` (default: ``selected``).

        The same numbers the browser draws: cosine in the first ``n_eig_view`` eigenvectors as
        sent to the browser (int8), to the mean direction of the chosen nodes.
        """
        self.results  # noqa: B018 - raises a clear error before results exist
        ids = list(self.selected if nodes is None else nodes)
        n = int(self.meta["n_nodes"])
        bad = [i for i in ids if not 0 <= int(i) < n]
        if bad:
            raise ValueError(f"node ids {bad[:5]} are out of range: this widget has {n} nodes")
        assert self._eig_wire is not None
        return wire.similarity(self._eig_wire, ids, self.n_eig_view)

    def selected_masks(self) -> list[np.ndarray]:
        """Per resolution, a boolean ``(n_images, h, w)`` grid of the highlighted patches."""
        sim = self.similarity()
        hit = sim >= self.threshold if self.selected else np.zeros_like(sim, dtype=bool)
        return [np.asarray(grid, dtype=bool) for grid in self.results.split(hit)]

    def save_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page (bundle and state inlined; no network, works from file://)."""
        from .export import save_html

        return save_html(self, path)

    def to_plotly(self, max_points: int = 50_000) -> Any:
        """A static plotly figure: the 3D embedding and the per-image colormaps."""
        from .export import to_plotly

        return to_plotly(self, max_points=max_points)

    def wait(self, timeout: float | None = None) -> NcutWidget:
        """Block until a running :func:`explore` job ends; re-raise its error if it failed."""
        if self._job is not None:
            self._job.join(timeout)
            if self._job.is_alive():
                raise TimeoutError(f"the computation is still running after {timeout} s")
        if self._job_error is not None:
            raise self._job_error
        return self

