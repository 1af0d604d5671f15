"""compare(): one NCUT per layer and/or model on the same images, as linked panels side by side."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np

from ..progress import Cancelled
from . import cells, links
from .jobs import Job
from .pipeline import _check, _Plan, fit_results
from .widget import _WAIT_POLL_S, NcutWidget, _Encoded, _ProgressWrites

Report = Callable[[str, int, int], None]


@dataclass
class _Group:
    """The panels of one backbone: their features come from one forward pass per batch."""

    plan: _Plan  # layer: the list of the panels' layers (concatenated by the backbone), or one int
    layers: list[int] | None  # one panel per layer; None: one panel (a backbone with one output)
    panels: list[NcutWidget] = field(default_factory=list)


def _layer_list(layer: Any) -> tuple[list[int], bool]:
    """``(layers, several)``: the layers asked for, and whether a list was given (one panel each)."""
    if isinstance(layer, (list, tuple)):
        items = list(layer)
        if not items:
            raise ValueError("layer is an empty list: give at least one layer, e.g. layer=[3, 6, 9, 11]")
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"each layer must be an int, got {v!r}")
        if len(set(items)) != len(items):
            raise ValueError(f"layer {items} repeats a layer: each panel needs its own")
        return [int(v) for v in items], True
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int or a list of ints, got {layer!r}")
    return [int(layer)], False


def _backbones(backbone: Any) -> list[tuple[str | None, Any]]:
    """``[(name or None, backbone)]``: a dict gives one named entry per model."""
    if isinstance(backbone, Mapping):
        if not backbone:
            raise ValueError("backbone is an empty dict: give name -> backbone entries")
        bad = [k for k in backbone if not isinstance(k, str) or not k]
        if bad:
            raise TypeError(f"backbone dict keys are the panel names and must be non-empty str, got {bad[0]!r}")
        return list(backbone.items())
    return [(None, backbone)]


def _plan_groups(
    images: Any, resolutions: Any, layer: Any, backbone: Any, n_eig: int, color: str,
    device: str | None, seed: int, ncut_kwargs: dict[str, Any],
) -> tuple[list[_Group], list[str]]:
    """Check every argument (as explore() does, per backbone) and name the panels, before any work."""
    layers, several = _layer_list(layer)
    entries = _backbones(backbone)
    groups, names = [], []
    for name, net in entries:
        plan = _check(images, resolutions, layers if several else layers[0], net, n_eig, color, device,
                      seed, ncut_kwargs)
        # A hub name stays a str until the job loads it (a download): its layers are checked there.
        if not isinstance(plan.backbone, str) and plan.backbone.n_layers is None:
            if several:
                raise ValueError(
                    f"backbone {name or plan.backbone!r} has one output (no numbered layers): "
                    f"layer={layers} cannot give one panel per layer"
                )
            groups.append(_Group(plan, None))
            names.append(name or "model")
            continue
        groups.append(_Group(plan, layers))
        for lay in layers:
            names.append(f"{name} · layer {lay}" if name is not None and several
                         else name if name is not None else f"layer {lay}")
    return groups, names


class _PanelCancelled(Cancelled):
    """Raised by the job's progress inside a panel that was cancelled alone (its widget closed)."""


class _Run:
    """The comparison's one job: per backbone one feature pass, then each panel in turn, each shown
    as soon as it is done. Progress goes to the panels being computed; a panel closed on its own
    is skipped (the others go on); the whole job stops when every panel left is skipped."""

    def __init__(self, groups: list[_Group], panels: Sequence[NcutWidget]) -> None:
        self.groups = groups
        self.panels = list(panels)
        self._writes = {id(p): _ProgressWrites(p) for p in panels}
        self._current: list[NcutWidget] = []
        self.finished: set[int] = set()  # panels whose results or failure are posted
        self.skipped: set[int] = set()
        self.job = Job(self.work, self.report, lambda _: None, self.failed)

    def report(self, stage: str, done: int, total: int) -> None:
        if len(self._current) == 1 and id(self._current[0]) in self.skipped:
            raise _PanelCancelled("the panel was closed")
        for panel in self._current:
            self._writes[id(panel)](stage, done, total)

    def skip(self, panel: NcutWidget) -> None:
        """Cancel one panel: skipped when its turn comes, stopped at its next report if running."""
        self.skipped.add(id(panel))
        if all(id(p) in self.skipped | self.finished for p in self.panels):
            self.job.cancel()

    def _wait_turn(self, panel: NcutWidget) -> None:
        """Its features are ready; the bar says so until the panels before it are done."""

        def write() -> None:
            with panel.hold_sync():
                panel.stage = "Waiting"
                panel.progress = 0.0
                panel.status = "Features ready: waiting for the panels before this one"

        panel._mailbox.post(write, key="progress")

    def _finish(self, panel: NcutWidget, write: Callable[[], None]) -> None:
        panel._mailbox.post(write)
        self.finished.add(id(panel))

    def work(self, report: Report) -> None:
        try:
            self._work(report)
        finally:
            # The panels keep this run (their job handles): drop the plans' images and models.
            self.groups = []

    def _work(self, report: Report) -> None:
        from ..features import MultiResFeatures, extract_features

        for group in self.groups:
            plan = group.plan
            self._current = [p for p in group.panels if id(p) not in self.skipped]
            if not self._current:
                continue
            features = extract_features(
                plan.images, resolutions=plan.resolutions, layer=plan.layer, backbone=plan.backbone,
                device=plan.device, progress=report,
            )
            n = len(group.panels)
            width = features.channels // n  # the backbone concatenates the layers' equal widths
            for panel in self._current[1:]:
                self._wait_turn(panel)
            for k, panel in enumerate(group.panels):
                self._current = [panel]
                if id(panel) in self.skipped:
                    self._finish(panel, lambda p=panel: p._post_failure(Cancelled("the panel was closed")))
                    continue
                part = features if n == 1 else MultiResFeatures(
                    [g[..., k * width:(k + 1) * width] for g in features.grids], features.images,
                    resolutions=features.resolutions, image_names=features.image_names,
                )
                try:
                    encoded = _Encoded.of(fit_results(plan, part, report), report)
                    report("Sending to the browser", 0, 1)
                except _PanelCancelled as err:
                    self._finish(panel, lambda p=panel, e=err: p._post_failure(e))
                    continue
                finally:
                    del part
                self._finish(panel, lambda p=panel, e=encoded: p._show(e))
                del encoded
            del features

    def failed(self, err: BaseException) -> None:
        # Panels already shown keep their results; the rest show the error (or "Cancelled").
        for panel in self.panels:
            if id(panel) not in self.finished:
                panel._post_failure(err)


class _PanelJob:
    """What a panel's ``wait``/``cancel``/``close`` see of the shared job: alive until this panel's
    results (or failure) are posted; cancelling it skips this panel only."""

    def __init__(self, run: _Run, panel: NcutWidget) -> None:
        self._run = run
        self._id = id(panel)
        self._panel = weakref.ref(panel)

    def is_alive(self) -> bool:
        return self._run.job.is_alive() and self._id not in self._run.finished

    def join(self, timeout: float | None = None) -> None:
        self._run.job.join(timeout)

    def cancel(self) -> None:
        panel = self._panel()
        if panel is not None:
            self._run.skip(panel)


class Comparison(ipywidgets.GridBox):
    """Linked :class:`NcutWidget` panels side by side, one per layer and/or model (see :func:`compare`).

    A click (or a box, a lasso) on a patch in any panel selects the same image region in every
    panel; each panel highlights its own similar regions. ``panels`` maps each name to its widget.
    The panels share one job: a panel's ``wait()`` returns once that panel is shown, closing a
    panel skips only it, :meth:`cancel` stops them all.
    """

    def __init__(self, panels: Mapping[str, NcutWidget], columns: int, job: Job | None = None) -> None:
        super().__init__(
            children=list(panels.values()),
            layout=ipywidgets.Layout(grid_template_columns=f"repeat({columns}, minmax(0, 1fr))", grid_gap="12px"),
        )
        self._panels = dict(panels)
        self._columns = columns
        self._job = job

    @property
    def panels(self) -> dict[str, NcutWidget]:
        """Panel name (``"layer 3"``, a dict key) -> its widget, in display order."""
        return dict(self._panels)

    def similarity(self) -> dict[str, np.ndarray]:
        """Panel name -> ``(N_panel,)`` float32 similarity of every node to that panel's selection:
        the numbers each browser panel draws (see :meth:`NcutWidget.similarity`)."""
        return {name: w.similarity() for name, w in self._panels.items()}

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until every panel is computed (applying their progress meanwhile); re-raise the
        job's error (``Cancelled`` after :meth:`cancel`), ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self._job
        while job is not None and job.is_alive():
            left = _WAIT_POLL_S if deadline is None else min(_WAIT_POLL_S, deadline - time.monotonic())
            if left <= 0:
                self._apply()
                raise TimeoutError(f"the comparison is still computing after {timeout} s")
            job.join(left)
            self._apply()
        self._apply()
        for w in self._panels.values():
            if not w._closed:  # a panel closed on its own was skipped, the others went on
                w.wait()  # raises the job's error on the panels it did not finish
        return self

    def _apply(self) -> None:
        for w in self._panels.values():
            w._mailbox.apply()

    def cancel(self) -> None:
        """Stop the job at its next progress report; panels already shown keep their results."""
        if self._job is not None:
            self._job.cancel()

    def close(self) -> None:
        """Cancel the job, close every panel (freeing its results) and this container."""
        self.cancel()
        for w in self._panels.values():
            w.close()
        super().close()

    def save_html(self, path: str | Path, title: str = "ncut_widget comparison") -> Path:
        """One self-contained HTML file with every panel, linked as here (no kernel, no network)."""
        from .export import save_page

        return save_page(list(self._panels.values()), path, title=title, columns=self._columns)


def compare(
    images: Sequence[Any],
    resolutions: Sequence[int | tuple[int, int]] = (224, 448),
    layer: int | Sequence[int] = 9,
    backbone: Any = None,
    n_eig: int = 50,
    color: str = "tsne",
    device: str | None = None,
    seed: int = 0,
    columns: int = 2,
    background: bool = True,
    **ncut_kwargs: Any,
) -> Comparison:
    """One NCUT per layer and/or model on the same images, shown as panels linked by pixel region.

    ``layer=[3, 6, 9, 11]`` gives one panel per layer (all from one forward pass per batch);
    ``backbone={"name": backbone_or_callable, ...}`` one panel per model; both give one panel per
    (model, layer). A click on a patch in any panel selects, in every other, the patches that
    cover the same pixels, whatever their patch size (``NcutWidget.link``). Every argument is
    checked first, here; then the panels are computed one after another in one background job,
    each showing its progress and then its results as soon as they are ready.

    Args:
        images, resolutions, n_eig, color, device, seed, **ncut_kwargs: as in :func:`explore`,
            the same for every panel.
        layer: a layer, or a list of layers (one panel each).
        backbone: as in :func:`explore`, or a dict of panel name -> backbone (one panel each).
        columns: panels per row.
        background: compute in a thread (``True``) or before returning (``False``; errors raise).

    Returns:
        A :class:`Comparison` (an ipywidgets ``GridBox`` of the panels): ``.panels`` (name ->
        ``NcutWidget``), ``.similarity()`` (name -> ``(N_panel,)`` float32), ``.wait()``,
        ``.cancel()``, ``.close()``, ``.save_html(path)``.
    """
    cells.close_earlier_run()
    if isinstance(columns, bool) or not isinstance(columns, (int, np.integer)) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    groups, names = _plan_groups(images, resolutions, layer, backbone, n_eig, color, device, seed,
                                 dict(ncut_kwargs))
    if len(set(names)) != len(names):
        raise ValueError(f"two panels would share a name: {names}")
    group_name = links.new_group()
    panels = {name: NcutWidget(title=name, link_group=group_name, stage="Waiting", status="Waiting…")
              for name in names}
    ordered = iter(panels.values())
    for group in groups:
        group.panels = [next(ordered) for _ in (group.layers or [None])]
    for w in panels.values():
        cells.remember(w)

    run = _Run(groups, list(panels.values()))
    for w in panels.values():
        w._job = _PanelJob(run, w)  # type: ignore[assignment]
    comparison = Comparison(panels, int(columns), run.job)
    cells.remember(comparison)  # type: ignore[arg-type]
    if background:
        run.job.start()
    else:
        run.job.run()
        comparison.wait()
    return comparison
