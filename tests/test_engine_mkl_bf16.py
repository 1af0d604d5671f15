"""MKL's bfloat16 x bfloat16 -> float32 products (engine/mkl_bf16.py): the products against
float64, the checks that keep bad operands away from the C call, the vector split, and the
switch that turns the path off. They run on every x86-64 machine (MKL emulates the bfloat16
instructions where AMX and AVX-512 BF16 are missing); torch without MKL (arm64) skips them."""

from __future__ import annotations

import pytest
import torch

from ncut_widget.engine import mkl_bf16

needs_mkl = pytest.mark.skipif(
    not mkl_bf16.available(), reason="torch here carries no MKL bfloat16 product (arm64 builds have no MKL)"
)


def bf16(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).bfloat16()


@needs_mkl
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 5, 4), (48, 512, 1000), (512, 769, 33)])
def test_products_are_float32_sums_of_the_bfloat16_operands(m, k, n):
    A, B = bf16(m, k, seed=1), bf16(k, n, seed=2)
    C = torch.full((m, n), 0.5)
    mkl_bf16.addmm_(C, A, B)
    exact = A.double() @ B.double() + 0.5
    # float32 accumulation of exactly representable products: each entry within k float32
    # roundings of the sum of |terms| (no bfloat16 rounding of the result, 2^-9, anywhere).
    scale = A.double().abs() @ B.double().abs() + 0.5
    assert bool(((C.double() - exact).abs() <= k * 2.0**-23 * scale).all())
    # beta = 0 ignores what C held, NaN included.
    C.fill_(float("nan"))
    assert torch.allclose(mkl_bf16.addmm_(C, A, B, beta=0.0).double(), exact - 0.5, rtol=0, atol=k * 1e-6 * float(scale.max()))


@needs_mkl
def test_views_of_larger_matrices_are_read_and_written_in_place():
    # Row slices and column ranges (row stride > row length): only the view changes.
    big_A, big_B = bf16(10, 40, seed=3), bf16(40, 50, seed=4)
    C_big = torch.zeros(12, 60)
    A, B, C = big_A[2:7, 5:25], big_B[5:25, 10:40], C_big[3:8, 20:50]
    mkl_bf16.addmm_(C, A, B)
    want = torch.zeros(12, 60, dtype=torch.float64)
    want[3:8, 20:50] = A.double() @ B.double()
    assert torch.allclose(C_big.double(), want, atol=1e-4)
    assert float(C_big[:3].abs().sum() + C_big[8:].abs().sum() + C_big[:, :20].abs().sum()) == 0.0


@needs_mkl
def test_empty_operands():
    C = torch.ones(3, 4)
    assert torch.equal(mkl_bf16.addmm_(C, bf16(3, 0, seed=0), bf16(0, 4, seed=0), beta=2.0), torch.full((3, 4), 2.0))
    assert mkl_bf16.addmm_(torch.ones(0, 4), bf16(0, 5, seed=0), bf16(5, 4, seed=0)).shape == (0, 4)


@needs_mkl
def test_bad_operands_are_refused_before_the_c_call():
    A, B, C = bf16(4, 6, seed=5), bf16(6, 3, seed=6), torch.zeros(4, 3)
    with pytest.raises(ValueError, match="A must be a 2-D CPU torch.bfloat16"):
        mkl_bf16.addmm_(C, A.float(), B)
    with pytest.raises(ValueError, match="C must be a 2-D CPU torch.float32"):
        mkl_bf16.addmm_(C.double(), A, B)
    with pytest.raises(ValueError, match="B's rows must be contiguous"):
        mkl_bf16.addmm_(C, A, bf16(3, 6, seed=7).T)
    with pytest.raises(ValueError, match="do not match"):
        mkl_bf16.addmm_(torch.zeros(4, 4), A, B)
    with pytest.raises(ValueError, match="2-D"):
        mkl_bf16.addmm_(C, A[None], B)


def test_the_switch_turns_the_path_off(monkeypatch):
    on = mkl_bf16.available()
    assert mkl_bf16.applies("cpu", torch.bfloat16) == on
    assert not mkl_bf16.applies("cpu", torch.float32) and not mkl_bf16.applies("cuda", torch.bfloat16)
    monkeypatch.setenv(mkl_bf16.ENV, "0")
    assert not mkl_bf16.available() and not mkl_bf16.applies("cpu", torch.bfloat16)
    with pytest.raises(RuntimeError, match="not available here"):
        mkl_bf16.addmm_(torch.zeros(2, 2), bf16(2, 2, seed=0), bf16(2, 2, seed=0))


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_split_parts_sum_back_to_the_vectors(parts):
    V = torch.randn(7, 1000, generator=torch.Generator().manual_seed(8)) * torch.logspace(-20, 20, 1000)
    S = mkl_bf16.split(V, parts)
    assert S.dtype == torch.bfloat16 and S.shape == (7 * parts, 1000)
    total = S.double().view(parts, 7, 1000).sum(dim=0)
    # Each part rounds what the ones before left to nearest, within 2^-8 of it (bfloat16 keeps
    # 8 significant bits): 2^-8 per part; three hold float32's 24 bits whole.
    assert bool(((total - V.double()).abs() <= 2.0 ** (-8 * parts) * V.double().abs()).all())
    if parts == 3:
        assert torch.equal(total, V.double())
    assert torch.equal(S[:7], V.bfloat16())  # the first part is V rounded once
