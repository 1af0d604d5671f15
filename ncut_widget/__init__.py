"""ncut_widget: Normalized Cuts on multi-resolution vision features, explored in a linked widget.

The public face is imported lazily so that ``import ncut_widget`` stays cheap and each stage
(engine, color, features, widget) loads only when it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Ncut": "ncut_widget.engine.ncut",
    "NcutConvergenceWarning": "ncut_widget.engine.eigsolve",
    "MemoryBudgetError": "ncut_widget.engine.memory",
    "Cancelled": "ncut_widget.progress",
    "kway_ncut": "ncut_widget.engine.kway",
    "segment_labels": "ncut_widget.engine.kway",
    "tsne_color": "ncut_widget.color",
    "umap_color": "ncut_widget.color",
    "pca_color": "ncut_widget.color",
    "extract_features": "ncut_widget.features",
    "MultiResFeatures": "ncut_widget.features",
    "MirrorAveraged": "ncut_widget.features.backbones",
    "sample_images": "ncut_widget.features",
    "NcutWidget": "ncut_widget.widget",
    "add_images": "ncut_widget.widget.growth",
    "MapModel": "ncut_widget.widget.growth",
    "explore": "ncut_widget.widget",
    "compare": "ncut_widget.widget",
}

__all__ = [
    "Cancelled",
    "MapModel",
    "MemoryBudgetError",
    "MirrorAveraged",
    "MultiResFeatures",
    "Ncut",
    "NcutConvergenceWarning",
    "NcutWidget",
    "add_images",
    "compare",
    "explore",
    "extract_features",
    "kway_ncut",
    "pca_color",
    "sample_images",
    "segment_labels",
    "tsne_color",
    "umap_color",
]

if TYPE_CHECKING:
    from .color import pca_color, tsne_color, umap_color
    from .engine.eigsolve import NcutConvergenceWarning
    from .engine.kway import kway_ncut, segment_labels
    from .engine.memory import MemoryBudgetError
    from .engine.ncut import Ncut
    from .features import MultiResFeatures, extract_features, sample_images
    from .features.backbones import MirrorAveraged
    from .progress import Cancelled
    from .widget import NcutWidget, compare, explore
    from .widget.growth import MapModel, add_images


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ncut_widget' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
