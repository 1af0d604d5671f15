"""images -> MultiResFeatures: multi-resolution patch features and the node index."""

from __future__ import annotations

from .extract import extract_features
from .multires import MultiResFeatures
from .samples import sample_images

__all__ = ["MultiResFeatures", "extract_features", "sample_images"]
