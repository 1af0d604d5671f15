"""Eigenvectors -> a 3D layout and an RGB colour for every node (t-SNE, UMAP or PCA)."""

from .pca import pca_color
from .quality import neighbor_preservation
from .rgb import quantile_rgb
from .tsne import tsne_color
from .umap import umap_color

__all__ = ["neighbor_preservation", "pca_color", "quantile_rgb", "tsne_color", "umap_color"]
