"""``NcutWidget.add_images``: grow the shown map and send the browser only the new nodes.

The new chunk goes out once, as a custom message with one binary buffer; every open view's model
appends it to its own ``appended`` trait (js/store.js) without sending it back. Here the
``appended`` trait is updated under ipywidgets' property lock, which suppresses the echo, so new
views, a reloaded page, saved widget state and the exported page still have every chunk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .appended import decode_addition, encode_addition
from .growth import add_images

if TYPE_CHECKING:
    from .widget import NcutWidget

NO_MODEL = (
    "this widget has no fitted model to place new images with: only widgets made by "
    "ncut_widget.explore(...) keep one (from_results/from_zarr widgets show results computed "
    "elsewhere). Make the map with explore(images, ...) and call w.add_images(new_images), or in a "
    "script: results, model = ncut_widget.widget.pipeline.compute(images, return_model=True); "
    "ncut_widget.add_images(results, model, new_images)"
)


def append_images(widget: NcutWidget, images: Any) -> None:
    """Place ``images`` into ``widget``'s map and show them (see :meth:`NcutWidget.add_images`)."""
    from .widget import _ProgressWrites

    results = widget.results  # raises a clear error before results exist
    model = widget.map_model
    if model is None:
        raise RuntimeError(NO_MODEL)
    if widget._job is not None and widget._job.is_alive():
        raise RuntimeError("the widget is still computing: call w.wait() before w.add_images(...)")
    posted = _ProgressWrites(widget)

    def report(stage: str, done: int, total: int) -> None:
        # On the widget's thread (this call blocks the cell): apply the writes now, so the bar moves.
        posted(stage, done, total)
        widget._mailbox.apply()

    grown = add_images(results, model, images, progress=report)
    n_old = results.layout.n_nodes
    block = grown.layout.added[-1]
    names = list(grown.layout.image_names[block.first :])
    sizes = list(grown.layout.image_sizes[block.first :])
    eig = grown.eigvecs[n_old:]
    labels = model.segment_labels(eig) if widget._segment_ks else None
    chunk = encode_addition(
        widget.meta, block, names, sizes, eig, grown.X_3d[n_old:], grown.rgb[n_old:],
        grown.images[block.first :], labels,
    )
    codes, seg_wire = decode_addition(chunk)
    widget._results = grown
    old_codes, scales = widget._eig_codes
    widget._eig_codes = (np.concatenate([old_codes, codes]), scales)
    if widget._segment_labels is not None:
        widget._segment_labels = np.concatenate([widget._segment_labels, seg_wire], axis=1)
    value = [*widget.appended, {"meta": chunk.meta, "payload": chunk.payload}]
    # The lock makes ipywidgets skip sending this value: the browser gets only the new chunk.
    with widget._lock_property(appended=value):
        widget.appended = value
    widget.send({"type": "append", "meta": chunk.meta}, buffers=[chunk.payload])
    added = len(grown.layout.image_names) - grown.layout.n_fitted_images
    with widget.hold_sync():
        widget.stage = "Done"
        widget.progress = 1.0
        widget.status = f"{grown.summary()} ({added:,} added)"


def send_missing(widget: NcutWidget, content: Any, buffers: Any = None) -> None:
    """Answer a view's ``{"type": "appended_have", "count": n}``: send it the chunks after its first ``n``.

    An append message that reached the browser before the widget's code loaded had no listener;
    the view asks once it has loaded (js/grow.js ``requestMissingChunks``).
    """
    if not isinstance(content, dict) or content.get("type") != "appended_have":
        return
    have = content.get("count")
    if not isinstance(have, int) or have < 0:
        return
    for chunk in widget.appended[have:]:
        widget.send({"type": "append", "meta": chunk["meta"]}, buffers=[chunk["payload"]])
