"""The engine's float32 products run at full precision whatever precision the session set for
float32 matmuls (TF32 on a GPU, bfloat16 through oneDNN on AMX CPUs), and the session's setting
comes back exactly as it was, readable through every torch API it was readable through before.

Each way of lowering the precision runs in its own interpreter: torch remembers which API set
the flags, and a mix of them makes the legacy getters raise for the rest of the process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ncut_widget.color import pca_color, tsne_color, umap_color
from ncut_widget.engine import kway, precision
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.precision import Control, ieee_float32
from ncut_widget.engine.synthetic import planted_patch_features
from ncut_widget.scale.models import FittedColoring, fit_coloring

# How a notebook lowers float32 matmul precision, each applied in a fresh interpreter.
LOWERINGS = {
    "none": "",
    "legacy allow_tf32": "torch.backends.cuda.matmul.allow_tf32 = True",
    "cuda fp32_precision": "torch.backends.cuda.matmul.fp32_precision = 'tf32'",
    "precision high": "torch.set_float32_matmul_precision('high')",
    "precision medium": "torch.set_float32_matmul_precision('medium')",
    "global fp32_precision": "torch.backends.fp32_precision = 'tf32'",
    "mkldnn bf16": "torch.backends.mkldnn.matmul.fp32_precision = 'bf16'",
    "bf16 reduction off": "torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False",
}

_SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from ncut_widget.engine import ncut as ncut_module
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.synthetic import planted_patch_features

def state():
    reads = {
        "cuda": lambda: torch.backends.cuda.matmul.fp32_precision,
        "mkldnn": lambda: torch.backends.mkldnn.matmul.fp32_precision,
        "global": lambda: torch.backends.fp32_precision,
        "allow_tf32": lambda: torch.backends.cuda.matmul.allow_tf32,
        "matmul_precision": torch.get_float32_matmul_precision,
        "bf16_reduction": lambda: torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
    }
    out = {}
    for name, read in reads.items():
        try:
            out[name] = read()
        except RuntimeError:
            out[name] = "raises"
    return out

device = sys.argv[1]
X, _ = planted_patch_features(n_images=4, grids=(16,), dim=96, seed=1)
def fit(n_sample):
    vecs, vals = Ncut(n_eig=8, n_sample=n_sample, device=device).fit_transform(X)
    return vecs, vals
base = [fit(300), fit(len(X))]
exec(sys.argv[2])
before = state()
seen = []
solve = ncut_module.top_eigh
def spy(*args, **kwargs):
    seen.append(state())
    return solve(*args, **kwargs)
ncut_module.top_eigh = spy
lowered = [fit(300), fit(len(X))]
after = state()
diff = max(float((a[i] - b[i]).abs().max()) for a, b in zip(base, lowered) for i in range(2))
print(json.dumps({"before": before, "inside": seen, "after": after, "diff": diff}))
"""


def _full(value: str, global_value: str) -> bool:
    return value == "ieee" or (value == "none" and global_value in ("none", "ieee"))


@pytest.mark.skipif(not hasattr(torch.backends, "fp32_precision"), reason="torch < 2.9 has no per-backend fp32_precision")
@pytest.mark.parametrize("lowering", list(LOWERINGS))
def test_fits_run_full_float32_and_give_the_session_its_setting_back(lowering, device):
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(device), LOWERINGS[lowering]],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(got["inside"]) == 2  # the Nystrom and the exact fit each solved once
    for inside in got["inside"]:
        assert _full(inside["cuda"], inside["global"]), inside
        assert _full(inside["mkldnn"], inside["global"]), inside
        assert inside["bf16_reduction"] is False, inside  # bfloat16 products summed in float32
    # Exactly the session's state, through every API (one that raised before still raises).
    assert got["after"] == got["before"]
    # The same products as in a session that never lowered anything (the same rounding, on the
    # same machine and device; 1e-6 leaves room for a GPU library's choice of kernel).
    assert got["diff"] <= 1e-6


def test_engine_calls_under_autocast_compute_in_float32_and_leave_it_on(device):
    # Under torch.autocast a float32 product comes back in bfloat16: a fit inside one stopped with
    # "Got unsupported ScalarType BFloat16" on the CPU, and would have lost precision on a GPU.
    X, _ = planted_patch_features(n_images=4, grids=(16,), dim=96, seed=1)
    X = X.to(device)

    def run():
        nys = Ncut(n_eig=8, n_sample=300, device=device).fit_transform(X)
        exact = Ncut(n_eig=8, n_sample=len(X), device=device).fit_transform(X)
        seg = kway.kway_ncut(nys[0], 4)
        rgb = pca_color(nys[0], device=device)[1]
        return [*nys, *exact, seg.cpu(), rgb]

    plain = run()
    with torch.autocast(device.type, dtype=torch.bfloat16):
        cast = run()
        assert torch.is_autocast_enabled(device.type)  # the caller's context is still on
    for a, b in zip(plain, cast, strict=True):
        assert b.dtype == torch.float32
        # The same products (1e-6 leaves room for a GPU library's choice of kernel).
        assert float((a - b).abs().max()) <= 1e-6


def test_a_float64_default_dtype_changes_no_result(device):
    # Under torch.set_default_dtype(torch.float64) the farthest point sampling and the eigensolver
    # drew other random numbers: other anchors, other eigenvectors for the same input and seed
    # (up to 0.23 away). The engine names its dtypes; the session's default stays as it is.
    def run():
        X, _ = planted_patch_features(n_images=4, grids=(16,), dim=96, seed=1)
        X = X.to(device)
        nys = Ncut(n_eig=8, n_sample=300, device=device).fit_transform(X)
        exact = Ncut(n_eig=8, n_sample=len(X), device=device).fit_transform(X)
        return [X.cpu(), *nys, *exact, kway.kway_ncut(nys[0], 4).cpu(), *tsne_color(nys[0], device=device)]

    plain = run()
    torch.set_default_dtype(torch.float64)
    try:
        other = run()
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    for a, b in zip(plain, other, strict=True):
        assert b.dtype == torch.float32 and float((a - b).abs().max()) <= 1e-6


class _Setting:
    """A fake precision setting that records its writes."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.writes: list[str] = []

    def control(self) -> Control:
        def put(v: str) -> None:
            self.writes.append(v)
            self.value = v

        return Control("fake", lambda: self.value, put, "ieee", ("ieee", "none"))


def test_a_setting_at_full_precision_is_not_written():
    full, lowered = _Setting("none"), _Setting("tf32")
    with ieee_float32([full.control(), lowered.control()]):
        assert (full.value, lowered.value) == ("none", "ieee")
    assert full.writes == []
    assert lowered.writes == ["ieee", "tf32"]


def test_the_setting_comes_back_when_the_call_raises():
    lowered = _Setting("bf16")
    with pytest.raises(ValueError, match="bad input"), ieee_float32([lowered.control()]):
        assert lowered.value == "ieee"
        raise ValueError("bad input")
    assert lowered.value == "bf16"


def _raises(*args):
    raise RuntimeError("torch was not compiled with this backend")


def test_a_setting_this_torch_cannot_read_or_write_is_left_alone():
    held, unwritable, unreadable = _Setting("tf32"), _Setting("tf32"), _Setting("tf32")
    settings = [unwritable.control()._replace(set=_raises), unreadable.control()._replace(get=_raises), held.control()]
    with ieee_float32(settings):
        assert (held.value, unwritable.value, unreadable.value) == ("ieee", "tf32", "tf32")
    assert held.value == "tf32" and held.writes == ["ieee", "tf32"]


@pytest.mark.parametrize(
    "entry",
    [Ncut.fit, Ncut.transform, tsne_color, umap_color, pca_color, kway.kway_ncut, kway.axis_align, kway.rotate,
     fit_coloring, FittedColoring.place],
    ids=lambda f: f.__qualname__,
)
def test_every_public_computation_holds_full_precision(entry, monkeypatch):
    # Each entry point runs its body inside ieee_float32 (the fits above check its effect).
    entered = []

    def spy(settings=None):
        entered.append(True)
        return ieee_float32_real(settings)

    ieee_float32_real = precision.ieee_float32
    monkeypatch.setattr(precision, "ieee_float32", spy)
    try:
        entry(None, None) if "." in entry.__qualname__ else entry(None)
    except Exception:  # noqa: BLE001 -- the arguments are bad on purpose; only the entry matters
        pass
    assert entered
