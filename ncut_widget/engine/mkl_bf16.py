"""bfloat16 x bfloat16 -> float32 matrix products on the CPU, from the MKL inside torch.

torch's CPU matmuls return their operands' dtype: a bfloat16 product is rounded to bfloat16
(8 bits), and ``torch.mm(..., out_dtype=torch.float32)`` exists for CUDA only (torch 2.14).
MKL's ``cblas_gemm_bf16bf16f32`` multiplies bfloat16 operands and accumulates *and returns*
float32, on AMX or AVX-512 BF16 at the bfloat16 rate, and emulated (slower, same result) on any
other x86-64 CPU. torch's x86-64 builds link MKL and export that symbol from ``libtorch_cpu``;
arm64 builds have no MKL, and there :func:`available` is ``False`` and callers keep their
float32 path.

Set ``NCUT_WIDGET_MKL_BF16=0`` to turn these products off (callers then fall back as on a
machine without MKL), e.g. to compare the two paths on one machine.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

ENV = "NCUT_WIDGET_MKL_BF16"
# CBLAS enums (mkl_cblas.h).
_ROW_MAJOR, _NO_TRANS = 101, 111
_INT_MAX = 2**31 - 1  # MKL's LP64 interface (the one torch links) takes 32-bit sizes


@cache
def _gemm() -> Callable[..., None] | None:
    """The C function, or ``None`` where torch carries no MKL (or not this symbol)."""
    if not torch.backends.mkl.is_available():
        return None
    lib_dir = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib", "torch_cpu.dll"):
        path = lib_dir / name
        if not path.exists():
            continue
        try:
            fn = ctypes.CDLL(str(path)).cblas_gemm_bf16bf16f32
        except (OSError, AttributeError):
            continue
        fn.restype = None
        fn.argtypes = [ctypes.c_int] * 6 + [ctypes.c_float, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                            ctypes.c_int, ctypes.c_float, ctypes.c_void_p, ctypes.c_int]
        return fn if _self_test(fn) else None
    return None


def _call(fn: Callable[..., None], C: torch.Tensor, A: torch.Tensor, B: torch.Tensor, beta: float) -> None:
    m, k = A.shape
    n = B.shape[1]
    fn(_ROW_MAJOR, _NO_TRANS, _NO_TRANS, m, n, k, 1.0, A.data_ptr(), A.stride(0), B.data_ptr(),
       B.stride(0), beta, C.data_ptr(), C.stride(0))


def _self_test(fn: Callable[..., None]) -> bool:
    """One small product against float64: a library whose interface differs (another integer
    width) returns garbage here rather than in a fit."""
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(3, 5, generator=gen, dtype=torch.float32).bfloat16()
    B = torch.randn(5, 4, generator=gen, dtype=torch.float32).bfloat16()
    C = torch.full((3, 4), 7.0, dtype=torch.float32)  # what _call passes as a float pointer
    _call(fn, C, A, B, 1.0)
    want = A.double() @ B.double() + 7.0
    return bool(torch.allclose(C.double(), want, rtol=1e-6, atol=1e-6))


def available() -> bool:
    """Whether :func:`addmm_` runs here: torch carries MKL's bfloat16 product and
    ``NCUT_WIDGET_MKL_BF16`` is not ``0`` (read now)."""
    if os.environ.get(ENV, "").strip() == "0":
        return False
    return _gemm() is not None


def applies(device: torch.device | str, dtype: torch.dtype) -> bool:
    """Whether products of ``dtype`` operands on ``device`` go through :func:`addmm_`: bfloat16
    on a CPU where it is :func:`available`."""
    return dtype == torch.bfloat16 and torch.device(device).type == "cpu" and available()


def _rows_view(name: str, T: torch.Tensor, dtype: torch.dtype) -> None:
    """Raise unless ``T`` is a 2-D CPU ``dtype`` matrix whose rows are contiguous (any row stride
    at least the row length): what the C call reads and writes, and nothing past it."""
    if T.dtype != dtype or T.device.type != "cpu" or T.ndim != 2:
        raise ValueError(f"addmm_: {name} must be a 2-D CPU {dtype} tensor, got {T.dtype} {tuple(T.shape)} on {T.device}")
    if T.shape[1] > 1 and T.stride(1) != 1 or T.stride(0) < max(T.shape[1], 1):
        raise ValueError(f"addmm_: {name}'s rows must be contiguous (strides {T.stride()} for shape {tuple(T.shape)})")
    if max(T.shape) > _INT_MAX or T.stride(0) > _INT_MAX:
        raise ValueError(f"addmm_: {name} of shape {tuple(T.shape)} exceeds MKL's 32-bit sizes")


def addmm_(C: torch.Tensor, A: torch.Tensor, B: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """``C = beta * C + A @ B`` in place, accumulated in float32; returns ``C``.

    Args:
        C: ``(m, n)`` float32, rows contiguous (a row slice or column range of a larger matrix
            is fine); with ``beta=0`` its old values are not read.
        A: ``(m, k)`` bfloat16, rows contiguous.
        B: ``(k, n)`` bfloat16, rows contiguous.

    Raises:
        RuntimeError: not :func:`available` here.
        ValueError: a dtype, device, shape or stride the C call cannot take.
    """
    fn = _gemm() if available() else None
    if fn is None:
        raise RuntimeError(f"addmm_: MKL's bfloat16 product is not available here (torch without MKL, or {ENV}=0)")
    _rows_view("C", C, torch.float32)
    _rows_view("A", A, torch.bfloat16)
    _rows_view("B", B, torch.bfloat16)
    if A.shape[1] != B.shape[0] or C.shape != (A.shape[0], B.shape[1]):
        raise ValueError(f"addmm_: shapes C {tuple(C.shape)} = A {tuple(A.shape)} @ B {tuple(B.shape)} do not match")
    if C.numel() == 0:
        return C
    if A.shape[1] == 0:  # nothing to add; MKL wants k >= 1
        return C.mul_(beta) if beta != 1.0 else C
    _call(fn, C, A, B, float(beta))
    return C


def split(V: torch.Tensor, parts: int = 2, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """``V`` ``(b, n)`` as ``parts`` ``dtype`` blocks stacked ``(parts * b, n)``, each rounding
    what the ones before left, so that their sum is ``V`` to ``2^-(8 parts)`` relative per entry
    in bfloat16 (8 significant bits; exactly, from the second part on, in float32). A product
    with the stack, summed over the blocks, is the product with ``V`` to that precision (and the
    other operand's). The one hi/lo split of the package: the eigensolver's vectors here, the
    scan's squared lengths in ``nystrom.distance_operand``."""
    out = torch.empty((parts * V.shape[0], V.shape[1]), dtype=dtype, device=V.device)
    rest = V.float()
    b = V.shape[0]
    for p in range(parts):
        hi = out[p * b : (p + 1) * b].copy_(rest)
        if p + 1 < parts:
            rest = rest - hi.float()
    return out
