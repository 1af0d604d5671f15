"""NcutWidget: the anywidget model. Traits and thin methods; the work lives in state/pipeline/export."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import numpy as np
import traitlets

from ..progress import Cancelled
from . import cells, links
from . import state as wire
from .jobs import Job, Mailbox, release_freed_memory
from .results import Results, build_results
from .segments import segment_ladder

if TYPE_CHECKING:
    from PIL import Image

    from ..features import MultiResFeatures

STATIC = Path(__file__).resolve().parent.parent / "static"
COLOR_MODES = ("rgb", "similarity", "segments")
# The granularity shown first: this many segments when the ladder has it, else its coarsest level.
DEFAULT_SEGMENTS = 6
_versions = itertools.count(1)
# Progress traits are comm messages: a few per second keeps the bar live without flooding.
_MIN_REPORT_INTERVAL_S = 0.2
# How often wait() applies the job's posted writes while it blocks (so the bar moves meanwhile).
_WAIT_POLL_S = 0.1


def _bundle(name: str) -> Path:
    path = STATIC / name
    if not path.exists():
        raise RuntimeError(
            f"the widget's frontend bundle {path} is missing: build it with `npm ci && npm run build` "
            "(or `make setup`) in the ncut_widget source folder, or install a built wheel"
        )
    return path


@dataclass(frozen=True)
class _Encoded:
    """Results with their wire encoding: made on any thread, shown on the widget's."""

    results: Results
    state: wire.EncodedState
    eig_codes: tuple[np.ndarray, np.ndarray]  # (N, k) int8 codes and (k,) float32 scales, as the browser holds them
    segment_ks: tuple[int, ...]  # (L,) the ladder's segment counts, ascending
    segment_labels: np.ndarray  # (L, N) uint8, the labels exactly as the browser decodes them
    map_model: Any = None  # growth.MapModel (with the ladder's rotations) when explore() fitted one

    @classmethod
    def of(
        cls, results: Results, progress: Callable[[str, int, int], None] | None = None, model: Any = None
    ) -> _Encoded:
        # The ladder is computed here, once per result, from the full eigenvectors: the browser
        # only ever reads its labels (one byte a node per level). A job passes its progress
        # callback, so the levels show in the bar and a cancel stops between them.
        ladder = segment_ladder(results.eigvecs, results.rgb, progress=progress)
        state = wire.encode_state(
            results.layout, results.eigvecs, results.X_3d, results.rgb, results.images,
            version=next(_versions), segments=ladder,
        )
        ks, labels = wire.decode_segments(state)
        grown = None if model is None else model.with_ladder(ladder)
        return cls(results, state, wire.decode_eig_codes(state), ks, labels, grown)


class _ProgressWrites:
    """A ``progress(stage, done, total)`` callback for the job's thread: posts the widget's
    progress traits to its owner thread, at most a few times a second per stage."""

    def __init__(self, widget: NcutWidget) -> None:
        self._widget = widget
        self._stage: str | None = None
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == self._stage and done < total and now - self._last < _MIN_REPORT_INTERVAL_S:
            return
        self._stage, self._last = stage, now
        fraction = 0.0 if total <= 0 else min(done / total, 1.0)
        status = f"{stage}: {done:,}/{total:,}"
        widget = self._widget

        def write() -> None:
            with widget.hold_sync():
                widget.stage = stage
                widget.progress = fraction
                widget.status = status

        widget._mailbox.post(write, key="progress")


class NcutWidget(anywidget.AnyWidget):
    """Linked 3D eigen-embedding and per-image colormaps of one NCUT result.

    Build it with :func:`ncut_widget.explore` (computes everything, shows progress) or
    :meth:`NcutWidget.from_results` (wraps results you computed yourself).

    Synced traits: ``selected`` (node ids), ``n_eig_view`` (eigenvectors the similarity uses),
    ``threshold`` (similarity that counts as highlighted), ``color_mode`` (``"rgb"``,
    ``"similarity"`` or ``"segments"``), ``negative`` (node ids Alt-clicked as negatives: nodes
    nearer them than the positives are not highlighted), ``k`` (the segment count Segments mode shows, one of
    ``meta["segments"]["ks"]``), ``segment_borders`` (segment borders on the images in Segments
    mode); read-only from the browser: ``meta``, ``stage``, ``progress``, ``status``,
    ``error``.

    Threads: traits are written only on the thread that created the widget (in a notebook, the
    kernel's main thread). A running job posts its writes there: in a notebook its event loop
    applies them between cells; in a plain script (no running event loop) :meth:`wait` and
    :attr:`results` apply them. :meth:`close` cancels the job and frees the results; re-running
    the notebook cell that made a widget closes it (see ``ncut_widget.widget.cells``).
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
    # Images added to the fitted map (w.add_images): one {"meta", "payload"} chunk each, only the
    # new nodes (docs/wire-format.md "Added images"). Sent once as a custom message; the trait
    # holds them for new views, saved state and the exported page, and is never echoed whole.
    appended = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    # Negative examples (Alt-click): suppress nodes nearer them than the selected ones.
    negative = traitlets.List(traitlets.Int()).tag(sync=True)
    n_eig_view = traitlets.Int(10).tag(sync=True)
    threshold = traitlets.Float(0.6).tag(sync=True)
    color_mode = traitlets.Unicode("rgb").tag(sync=True)
    # Segment count shown in Segments mode; 0 until results with a segment ladder exist.
    k = traitlets.Int(0).tag(sync=True)
    # Segment borders drawn on the images in Segments mode (the toolbar's Borders box).
    segment_borders = traitlets.Bool(False).tag(sync=True)
    stage = traitlets.Unicode("").tag(sync=True)
    progress = traitlets.Float(0.0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    # A short name the header shows ("layer 9", a model's name); empty shows none.
    title = traitlets.Unicode("").tag(sync=True)
    # Widgets with the same non-empty group select by pixel region together (NcutWidget.link).
    link_group = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        _bundle("widget.js")
        super().__init__(**kwargs)
        self._mailbox = Mailbox()
        self._results: Results | None = None
        self._eig_codes: tuple[np.ndarray, np.ndarray] | None = None
        self._segment_ks: tuple[int, ...] = ()
        self._segment_labels: np.ndarray | None = None
        self._map_model: Any = None
        self._job: Job | None = None
        self._job_error: BaseException | None = None
        self._closed = False
        self.on_msg(self._on_view_message)

    def _on_view_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        # A view that loaded after an add_images message asks for the chunks it missed.
        from .grow_widget import send_missing

        send_missing(self, content, buffers)

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

        Re-running the notebook cell that called this closes the widget its earlier run made.
        """
        results = build_results(features, eigvecs, X_3d, rgb, images)
        cells.close_earlier_run()
        widget = cls(**traits)
        cells.remember(widget)
        widget.set_results(results)
        return widget

    @classmethod
    def from_zarr(
        cls, path: str | Path, images: Any = None, image_root: str | Path | None = None, **traits: Any
    ) -> NcutWidget:
        """Browse some images of an ``ncut-widget fit`` Zarr store, reading only their rows and files.

        Args:
            path: the store ``ncut-widget fit`` wrote.
            images: which images (indices, a range or slice, or names); ``None`` for all.
            image_root: where the image files are now, when they moved since the fit.

        Needs ``ncut-widget[dask]`` (zarr). See ``docs/scale-out.md``.
        """
        from ..scale.zarr_io import results_from_zarr

        results = results_from_zarr(path, images=images, image_root=image_root)
        cells.close_earlier_run()
        widget = cls(**traits)
        cells.remember(widget)
        widget.set_results(results)
        return widget

    def set_results(self, results: Results) -> None:
        """Encode ``results`` and send them to every view (replacing what was shown); marks the job done.

        Call it on the thread that owns the widget (the one that created it).
        """
        self._show(_Encoded.of(results))

    def _show(self, encoded: _Encoded) -> None:
        self._results = encoded.results
        self._eig_codes = encoded.eig_codes
        self._segment_ks = encoded.segment_ks
        self._segment_labels = encoded.segment_labels
        self._map_model = encoded.map_model
        k = encoded.state.meta["k"]
        ks = encoded.segment_ks
        # A k asked for before the results (a constructor argument) is kept when the ladder has it.
        seg_k = self.k if self.k in ks else (DEFAULT_SEGMENTS if DEFAULT_SEGMENTS in ks else (ks[0] if ks else 0))
        # One comm message: meta and its payload always arrive together.
        with self.hold_sync():
            self.selected = []
            self.negative = []
            self.n_eig_view = min(max(self.n_eig_view, 1), k)
            self.meta = encoded.state.meta
            self.appended = []
            self.k = seg_k
            self.payload = encoded.state.payload
            self.stage = "Done"
            self.progress = 1.0
            self.status = encoded.results.summary()

    # --- the background job -------------------------------------------------------------------
    def start_job(
        self, work: Callable[[Callable[[str, int, int], None]], Results], background: bool = True
    ) -> None:
        """Compute this widget's results with ``work(progress) -> Results`` and show them.

        ``work`` must call ``progress(stage, done, total)`` between chunks of work: that keeps the
        progress traits live and is where :meth:`cancel` stops it (``progress`` raises
        :class:`~ncut_widget.progress.Cancelled`). With ``background`` it runs on a daemon thread
        and every trait write it causes is posted to this widget's thread; otherwise it runs
        here, before returning. A widget runs one job: make a new widget for a new computation.
        """
        if self._job is not None:
            raise RuntimeError("this widget already ran a job: make a new widget to compute again")

        def encoded(progress: Callable[[str, int, int], None]) -> _Encoded:
            out = work(progress)
            # explore()'s work also returns the fitted model that add_images grows the map with.
            results, model = out if isinstance(out, tuple) else (out, None)
            # Segments, quantizing and JPEG thumbnails stay on the job's thread; only trait
            # assignment happens on the widget's.
            segmented = _Encoded.of(results, progress, model)
            progress("Sending to the browser", 0, 1)
            return segmented

        def done(shown: object) -> None:
            self._mailbox.post(lambda: self._show(shown))  # type: ignore[arg-type]

        job = Job(encoded, _ProgressWrites(self), done, self._post_failure)
        self._job = job
        if background:
            job.start()
        else:
            job.run()

    def _post_failure(self, err: BaseException) -> None:
        if isinstance(err, Cancelled):
            # A fresh error without the job's traceback: its frames would keep features alive.
            err = Cancelled("the computation was cancelled")
            stage, status, message = "Cancelled", "Cancelled", None
        else:
            stage, status, message = "Failed", None, f"{type(err).__name__}: {err}"

        def write() -> None:
            self._job_error = err
            with self.hold_sync():
                self.stage = stage
                if status is not None:
                    self.status = status
                if message is not None:
                    self.error = message

        self._mailbox.post(write)

    def cancel(self) -> None:
        """Stop the running job at its next progress report (within one chunk of work); the
        widget then shows "Cancelled" and :meth:`wait` raises :class:`~ncut_widget.progress.Cancelled`."""
        if self._job is not None:
            self._job.cancel()

    def close(self) -> None:
        """Cancel the running job, free the results and the payload, and close every view."""
        job = getattr(self, "_job", None)
        if job is not None and job.is_alive():
            job.cancel()
            self._job_error = Cancelled("the widget was closed while computing")
        elif job is not None:
            self._job_error = None
        mailbox = getattr(self, "_mailbox", None)
        if mailbox is not None:
            mailbox.close()  # pending writes may hold whole results
        held_data = getattr(self, "_results", None) is not None or bool(self.payload)
        self._results = None
        self._eig_codes = None
        self._segment_labels = None
        self._map_model = None
        self._closed = True
        super().close()
        # The comm is closed: these send nothing, they only drop the bytes.
        if self.payload:
            self.payload = b""
        if self.meta:
            self.meta = {}
        if self.appended:
            self.appended = []
        if held_data:
            release_freed_memory()

    # --- linking by pixel region -------------------------------------------------------------
    @staticmethod
    def link(a: NcutWidget, b: NcutWidget, *more: NcutWidget) -> None:
        """Link widgets on the same images: a selection in one (a click, a box, a lasso, or
        ``w.selected = [...]`` from Python) selects, in every other, the patches that overlap
        the same pixels, at each of its resolutions, whatever its patch size or grid.

        Every widget must have results showing the same number of images with the same sizes
        (``ValueError`` otherwise). Widgets already linked elsewhere bring their group along.
        """
        links.link([a, b, *more])

    @traitlets.observe("link_group")
    def _on_link_group(self, change: dict) -> None:
        links.regroup(self, change["old"], change["new"])

    @traitlets.observe("selected", "negative")
    def _on_selection(self, change: dict) -> None:
        links.propagate(self, change["name"], change["new"])

    # --- validation ---------------------------------------------------------------------------
    @traitlets.validate("selected", "negative")
    def _check_selected(self, proposal: dict) -> list[int]:
        name = proposal["trait"].name
        ids = list(proposal["value"])
        n = self._n_nodes()
        if ids and not self.meta:
            if self.error:
                raise traitlets.TraitError(f"cannot select nodes {ids[:5]}: the computation failed ({self.error})")
            raise traitlets.TraitError(
                f"cannot select nodes {ids[:5]}: the results are not ready yet "
                f"({self.stage or 'no results'}). Call w.wait() first, then set w.{name}"
            )
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise traitlets.TraitError(
                f"{name} node ids {bad[:5]} are out of range: this widget has {n} nodes (0..{n - 1})"
            )
        return ids

    @traitlets.validate("color_mode")
    def _check_color_mode(self, proposal: dict) -> str:
        if proposal["value"] not in COLOR_MODES:
            raise traitlets.TraitError(f"color_mode must be one of {COLOR_MODES}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("k")
    def _check_k(self, proposal: dict) -> int:
        value = int(proposal["value"])
        if not self.meta:
            return value  # before results: _show keeps it if the ladder has it
        ks = list(self.meta.get("segments", {}).get("ks", []))
        if value not in ks and not (value == 0 and not ks):
            raise traitlets.TraitError(
                f"k={value} is not on this widget's segment ladder; choose one of {ks}"
                if ks
                else f"k={value}: this widget has no segments (its results have fewer than 2 eigenvectors)"
            )
        return value

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

    # --- growing the map -----------------------------------------------------------------------
    def _n_nodes(self) -> int:
        """Nodes on display: the first payload's plus every added chunk's."""
        return int(self.meta.get("n_nodes", 0)) + sum(int(c["meta"]["n_nodes"]) for c in self.appended)

    @property
    def map_model(self) -> Any:
        """The fitted :class:`~ncut_widget.widget.growth.MapModel` (``explore()`` widgets), else ``None``."""
        self._mailbox.apply()
        return self._map_model

    def add_images(self, images: Any) -> None:
        """Place new images into this fitted map and show them, without refitting or resending.

        Features with the map's backbone, ``Ncut.transform`` and the coloring's propagation place
        the new nodes; existing nodes keep their ids, eigenvectors, positions and colours. Only the
        new nodes go to the browser (one message), marked as added. Blocks until done, reporting
        progress in the widget. Needs a widget made by :func:`~ncut_widget.explore`. Returns
        nothing, so a cell ending in ``w.add_images(...)`` does not show the widget a second time.

        Args:
            images: PIL images, paths, ``(H, W, 3)`` uint8 arrays or ``(3, H, W)`` tensors.
        """
        from .grow_widget import append_images

        append_images(self, images)

    # --- what the browser shows, from Python --------------------------------------------------
    @property
    def results(self) -> Results:
        """The results on display; raises until there are some."""
        self._mailbox.apply()  # without an event loop, the job's writes wait for the owner
        if self._results is None:
            if getattr(self, "_closed", False):
                raise RuntimeError("this widget is closed: its results were freed")
            raise RuntimeError(self.error or "no results yet: the computation is still running (call wait())")
        return self._results

    def similarity(self, nodes: Sequence[int] | None = None, negative: Sequence[int] | None = None) -> np.ndarray:
        """``(N,)`` float32 score of every node: the numbers the browser draws and thresholds.

        Cosine in the first ``n_eig_view`` eigenvectors as sent to the browser (int8) to the mean
        direction of ``nodes`` (default: ``selected``), bit-identical to the browser's numbers;
        with negatives (default: ``negative``) nodes not at least ``state.NEGATIVE_MARGIN`` nearer the positives than the negatives
        score ``state.SUPPRESSED`` (-2). See docs/wire-format.md "Similarity".
        """
        self.results  # noqa: B018 - raises a clear error before results exist
        ids = list(self.selected if nodes is None else nodes)
        neg = list(self.negative if negative is None else negative)
        n = self._n_nodes()
        bad = [i for i in ids + neg if not 0 <= int(i) < n]
        if bad:
            raise ValueError(f"node ids {bad[:5]} are out of range: this widget has {n} nodes")
        assert self._eig_codes is not None
        return wire.similarity(*self._eig_codes, ids, self.n_eig_view, neg)

    @property
    def _eig_wire(self) -> np.ndarray:
        """``(N, k)`` float32: the eigenvectors exactly as the browser dequantizes them (tests, debugging)."""
        assert self._eig_codes is not None, "no results"
        return wire.dequantize_eigvecs(*self._eig_codes)

    def selected_masks(self) -> list[np.ndarray]:
        """Per resolution, a boolean ``(n_images, h, w)`` grid of the highlighted patches."""
        sim = self.similarity()
        hit = sim >= self.threshold if self.selected else np.zeros_like(sim, dtype=bool)
        return [np.asarray(grid, dtype=bool) for grid in self.results.split(hit)]

    def segment_masks(self, k: int | None = None) -> list[np.ndarray]:
        """Per resolution, an ``(n_images, h, w)`` int64 grid of segment labels (``0..k-1``) at ``k``
        segments (default: the ``k`` trait); the labels the browser colours and selects by.

        Raises ``ValueError`` naming the ladder's levels when ``k`` is not one of them.
        """
        self.results  # noqa: B018 - raises a clear error before results exist
        k = self.k if k is None else int(k)
        if k not in self._segment_ks:
            raise ValueError(f"k={k} is not on this widget's segment ladder; choose one of {list(self._segment_ks)}")
        assert self._segment_labels is not None
        labels = self._segment_labels[self._segment_ks.index(k)].astype(np.int64)
        return [np.array(grid) for grid in self.results.split(labels)]

    def save_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML page (bundle and state inlined; no network, works from file://)."""
        from .export import save_html

        return save_html(self, path)

    def to_plotly(self, max_points: int = 50_000) -> Any:
        """A static plotly figure: the 3D embedding and the per-image colormaps."""
        from .export import to_plotly

        return to_plotly(self, max_points=max_points)

    def wait(self, timeout: float | None = None) -> NcutWidget:
        """Block until a running :func:`explore` job ends; re-raise its error if it failed.

        On the widget's thread it applies what the job posted (progress while it blocks, then
        the results), so ``w.wait(); w.selected = [5]`` works in the same cell. Raises
        :class:`~ncut_widget.progress.Cancelled` if the job was cancelled.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self._job
        while job is not None and job.is_alive():
            left = _WAIT_POLL_S if deadline is None else min(_WAIT_POLL_S, deadline - time.monotonic())
            if left <= 0:
                self._mailbox.apply()
                raise TimeoutError(f"the computation is still running after {timeout} s")
            job.join(left)
            self._mailbox.apply()
        self._mailbox.apply()
        if self._job_error is not None:
            raise self._job_error
        return self

