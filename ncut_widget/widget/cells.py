"""Re-running a notebook cell replaces the widgets its earlier run made instead of piling them up.

ipywidgets keeps every widget until it is closed (and a notebook saved with widget state keeps
every open one), so each re-run of an ``explore`` cell used to leave the earlier widget, its job
and its results alive. A cell is identified by the id the front end sends in the execute
request's metadata (JupyterLab and Notebook 7 send ``cellId``); one run of it by the request's
``msg_id``. Outside a kernel, or when the front end sends no cell id, nothing is replaced.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .widget import NcutWidget

# cell id -> (request id of its latest run, the widgets that run made)
_by_cell: dict[str, tuple[str, list[weakref.ref[Any]]]] = {}
_lock = threading.Lock()


def current_run() -> tuple[str, str] | None:
    """``(cell id, request id)`` of the notebook cell executing now, or ``None`` when unknown.

    Uses ipykernel's ``kernel.get_parent()`` (the execute request being handled; ipykernel >= 6):
    its ``metadata["cellId"]`` and ``header["msg_id"]``.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    kernel = getattr(get_ipython(), "kernel", None)
    get_parent = getattr(kernel, "get_parent", None)
    if get_parent is None:
        return None
    parent = get_parent() or {}
    cell_id = (parent.get("metadata") or {}).get("cellId")
    request_id = (parent.get("header") or {}).get("msg_id")
    if not cell_id or not request_id:
        return None
    return str(cell_id), str(request_id)


def close_earlier_run() -> None:
    """Close (which cancels their jobs and frees their results) the widgets that an earlier run
    of the executing cell made. Widgets made earlier in this same run stay."""
    run = current_run()
    if run is None:
        return
    cell, request = run
    with _lock:
        previous = _by_cell.get(cell)
        if previous is None or previous[0] == request:
            return
        del _by_cell[cell]
    for ref in previous[1]:
        widget = ref()
        if widget is not None:
            widget.close()


def remember(widget: NcutWidget) -> None:
    """Record ``widget`` as made by the executing cell's current run (weakly: this never keeps
    a widget alive)."""
    run = current_run()
    if run is None:
        return
    cell, request = run
    with _lock:
        previous = _by_cell.get(cell)
        refs = previous[1] if previous is not None and previous[0] == request else []
        refs = [ref for ref in refs if ref() is not None]
        refs.append(weakref.ref(widget))
        _by_cell[cell] = (request, refs)
