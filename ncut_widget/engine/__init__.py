"""NCUT on a node list ``(N, C)``: no images, no widgets here."""
