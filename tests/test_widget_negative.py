"""Negative clicks: the score of docs/wire-format.md "Similarity", shared with js/similarity.js."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget
from ncut_widget.widget import state as wire

# The same cases js/tests/similarity.test.js checks the browser's numbers against.
FIXTURE = Path(__file__).resolve().parent.parent / "js" / "tests" / "fixtures" / "similarity_negative.json"


def _fixture():
    data = json.loads(FIXTURE.read_text())
    codes = np.array(data["codes"], dtype=np.int8).reshape(data["n"], data["k"])
    return data, codes, np.array(data["scales"], dtype=np.float32)


def test_python_scores_are_the_shared_fixture_bit_for_bit():
    # The browser's scores equal the same fixture exactly (js/tests/similarity.test.js): Python's
    # and the browser's numbers are identical, not merely close.
    data, codes, scales = _fixture()
    for case in data["cases"]:
        got = wire.similarity(codes, scales, case["selected"], case["n_eig_view"], case["negative"])
        np.testing.assert_array_equal(got, np.array(case["expected"], dtype=np.float32))


def test_the_score_is_the_positive_cosine_where_it_beats_the_negative_by_the_margin():
    data, codes, scales = _fixture()
    eig = wire.dequantize_eigvecs(codes, scales).astype(np.float64)
    sel, neg, nv = [0, 3], [1], 5
    unit = eig[:, :nv] / np.linalg.norm(eig[:, :nv], axis=1, keepdims=True)

    def cos(ids):
        c = unit[ids].mean(0)
        return unit @ (c / np.linalg.norm(c))

    pos, negative = cos(sel), cos(neg)
    got = wire.similarity(codes, scales, sel, nv, neg)
    others = np.ones(len(pos), dtype=bool)
    others[sel] = False
    kept = pos - negative >= wire.NEGATIVE_MARGIN
    assert 0 < (kept & others).sum() < others.sum()
    np.testing.assert_allclose(got[kept & others], pos[kept & others], atol=1e-4)
    assert (got[~kept & others] == wire.SUPPRESSED).all()
    assert (got[sel] == 1.0).all()  # the selection itself is never dimmed
    # Without negatives the score is the plain cosine (and 1 on the selection).
    np.testing.assert_allclose(wire.similarity(codes, scales, sel, nv)[others], pos[others], atol=1e-4)


def _widget() -> NcutWidget:
    gen = torch.Generator().manual_seed(3)
    feats = [torch.randn(2, 4, 4, 8, generator=gen), torch.randn(2, 8, 8, 8, generator=gen)]
    images = [Image.new("RGB", (64, 48), (40 * i, 100, 200)) for i in range(2)]
    features = MultiResFeatures.from_grids(feats, images=images)
    n = features.n_nodes
    return NcutWidget.from_results(
        features, torch.randn(n, 12, generator=gen), torch.randn(n, 3, generator=gen), torch.rand(n, 3, generator=gen)
    )


def test_negatives_shrink_the_highlight_and_leave_selected_alone():
    w = _widget()
    w.selected = [3]
    w.threshold = 0.0
    before = int((w.similarity() >= w.threshold).sum())
    w.negative = [40, 41]
    assert w.selected == [3]
    after = w.similarity()
    assert int((after >= w.threshold).sum()) < before
    np.testing.assert_array_equal(after, wire.similarity(*w._eig_codes, [3], w.n_eig_view, [40, 41]))
    assert sum(m.sum() for m in w.selected_masks()) == int((after >= w.threshold).sum())


def test_negative_ids_are_validated_like_selected():
    w = _widget()
    with pytest.raises(traitlets.TraitError, match="negative node ids"):
        w.negative = [10**6]


def test_new_results_and_the_exported_page_carry_negative():
    from ncut_widget.widget.export import page_state

    w = _widget()
    w.selected, w.negative = [1], [2]
    assert page_state(w)["traits"]["negative"] == [2]
