"""Scale-out building blocks on dask's local schedulers: lazy transforms equal the in-memory ones.

The fitted models (Ncut, coloring, k-way rotation) must pickle small and give every row chunk of
a dask array exactly what they give the same rows in memory.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array")

from ncut_widget import Ncut, kway_ncut, pca_color, segment_labels, tsne_color  # noqa: E402
from ncut_widget.engine.synthetic import planted_patch_features  # noqa: E402
from ncut_widget.scale import (  # noqa: E402
    fit_coloring,
    fit_kway,
    lazy_planted_features,
    portable_ncut,
    transform,
    transform_all,
)


def _vecs(out):
    """Ncut.transform returns (eigenvectors, eigenvalues); older code returned the tensor."""
    return out[0] if isinstance(out, tuple) else out


@pytest.fixture(scope="module")
def data():
    X, _ = planted_patch_features(n_images=12, grids=(16, 32), dim=48, seed=3)  # 15,360 nodes
    model = Ncut(n_eig=12, n_sample=400, device="cpu", progress=lambda *a: None).fit(X[:6000])
    return X, model, _vecs(model.transform(X))


@pytest.mark.parametrize("chunks", [(4096, 48), (5000, 16), (777, 48)])
def test_lazy_transform_equals_in_memory(data, chunks):
    X, model, ref = data
    Xd = da.from_array(X.numpy(), chunks=chunks)
    vecs, values = transform(model, Xd)
    assert isinstance(vecs, da.Array)
    assert vecs.chunks[0] == Xd.chunks[0]  # same row chunks; columns were merged
    assert vecs.shape == (X.shape[0], 12) and vecs.dtype == np.float32
    torch.testing.assert_close(values, model.eigenvalues_)
    out = vecs.compute(scheduler="threads")
    assert float(np.abs(out - ref.numpy()).max()) <= 1e-5


def test_exact_path_and_other_dtypes(data):
    X, _, _ = data
    small = X[:600]
    model = Ncut(n_eig=5, n_sample=1000, device="cpu").fit(small)  # n_sample >= N: exact path
    assert model.exact_
    ref = _vecs(model.transform(X[:2000]))
    vecs, _ = transform(model, da.from_array(X[:2000].double().numpy(), chunks=(300, 48)))
    assert np.abs(vecs.compute(scheduler="sync") - ref.numpy()).max() <= 1e-5


def test_ncut_transform_dispatches_dask_arrays(data):
    X, model, ref = data
    try:
        out = model.transform(da.from_array(X.numpy(), chunks=(4096, 48)))
    except TypeError as err:
        if "torch.Tensor or numpy.ndarray" not in str(err):
            raise
        pytest.skip("Ncut.transform does not dispatch dask arrays yet (docs/scale-out.md has the lines)")
    vecs, values = out
    assert isinstance(vecs, da.Array) and vecs.chunks[0][0] == 4096
    assert np.abs(vecs.compute(scheduler="sync") - ref.numpy()).max() <= 1e-5
    torch.testing.assert_close(values, model.eigenvalues_)


def test_fitted_ncut_pickles_small_and_travels(data):
    X, model, ref = data
    small = portable_ncut(model)
    size = len(pickle.dumps(small))
    m, C, k = model.anchor_eigvecs_.shape[0], X.shape[1], model.n_eig
    # anchors' features + their eigenvectors (+ indices, mass), and little else
    assert size < 4 * m * (C + k) + 8 * m + 64_000, size
    assert small.progress is None and small._fit_eigvecs is None
    assert all(t.device.type == "cpu" for t in vars(small).values() if isinstance(t, torch.Tensor))
    back = pickle.loads(pickle.dumps(small))
    # The same rows in the same chunks as the original model: the same bits. (Against the
    # fit's 15,360-row pass, rows 2,048-2,999 sit in a shorter last chunk, whose matmul
    # kernels may round differently, e.g. MKL's AVX2 ones.)
    assert torch.equal(_vecs(back.transform(X[:3000])), _vecs(model.transform(X[:3000])))
    assert float((_vecs(back.transform(X[:3000])) - ref[:3000]).abs().max()) <= 1e-5
    # the user's model is untouched (progress callback, device)
    assert callable(model.progress)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("n_sample", [400, 1000], ids=["nystrom", "exact"])
def test_portable_ncut_computes_on_its_device(data, device, n_sample, distance):
    # portable_ncut keeps every tensor on the CPU and computes on the device it is given: the
    # transform moves what it needs there (anchor features, degrees, centre), for CPU rows too.
    X, _, _ = data
    model = Ncut(n_eig=5, n_sample=n_sample, distance=distance, device=device).fit(X[:800].to(device))
    assert model.exact_ == (n_sample >= 800)
    travelled = pickle.loads(pickle.dumps(portable_ncut(model, device)))
    rows = X[:1500]
    want = _vecs(model.transform(rows.to(device)))
    for given in (rows, rows.numpy()):
        got = _vecs(travelled.transform(given))
        assert got.device.type == "cpu"
        assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max())


def test_lazy_transform_rejects_bad_inputs(data):
    X, model, _ = data
    with pytest.raises(ValueError, match="fitted on 48"):
        transform(model, da.zeros((100, 10), chunks=(50, 10)))
    with pytest.raises(TypeError, match="dask.array"):
        transform(model, X)
    with pytest.raises(ValueError, match="not fitted"):
        transform(Ncut(n_eig=3, n_sample=10), da.zeros((100, 48), chunks=50))
    with pytest.raises(TypeError, match="real numbers"):
        transform(model, da.zeros((100, 48), chunks=50, dtype=bool))
    bad = X[:2000].clone()
    bad[1500, 3] = float("nan")
    vecs, _ = transform(model, da.from_array(bad.numpy(), chunks=(1000, 48)))
    with pytest.raises(ValueError, match=r"rows 1000:2000 of the dask array: .*NaN"):
        vecs.compute(scheduler="sync")


def test_lazy_planted_features_are_reproducible_blocks():
    X = lazy_planted_features(25_000, dim=32, images_per_block=4, seed=1)
    assert X.shape == (25_000, 32) and X.chunks[0][0] == 4 * 1280 and X.chunks[0][-1] == 25_000 % 5120
    a = X[5000:5300].compute(scheduler="sync")
    b = lazy_planted_features(25_000, dim=32, images_per_block=4, seed=1)[5000:5300].compute(scheduler="threads")
    assert np.array_equal(a, b)
    clean, _ = planted_patch_features(4, (16, 32), 32, noise=0.0, seed=1)
    first = X[:5120].compute(scheduler="sync")
    assert abs(float((first - clean.numpy()).std()) - 0.6) < 0.02  # planted parts + the asked noise
    assert not np.array_equal(first, X[5120:10240].compute(scheduler="sync"))  # fresh noise per block


def test_fitted_tsne_coloring_reproduces_tsne_color(data):
    _, _, ref = data
    fit = ref[:3000]
    fitted, X_3d, rgb = fit_coloring(fit, "tsne", num_sample=300, knn=10, device="cpu", seed=0, n_iter=60)
    want_3d, want_rgb = tsne_color(fit, num_sample=300, knn=10, device="cpu", seed=0, n_iter=60)
    assert torch.equal(X_3d, want_3d) and torch.equal(rgb, want_rgb)
    assert fitted.anchors.shape == (300, 12) and fitted.anchor_xyz.shape == (300, 3)
    # every fit node that was not laid out itself is placed exactly where tsne_color put it
    placed, colors = fitted.transform(fit)
    not_anchor = (torch.nn.functional.normalize(fit, dim=1) @ fitted.anchors.T).amax(1) < 1 - 1e-6
    assert int(not_anchor.sum()) == 2700
    assert float((placed - want_3d)[not_anchor].abs().max()) < 1e-4
    assert float((colors - want_rgb)[not_anchor].abs().max()) < 1e-4
    # the RGB scaling is frozen from the fit: it reproduces quantile_rgb on the fit layout
    assert float((fitted.rgb(want_3d) - want_rgb).abs().max()) < 1e-5
    # lazy on a dask array: same values, same row chunks, one task per chunk for both outputs
    lazy_3d, lazy_rgb = fitted.transform(da.from_array(ref.numpy(), chunks=(2048, 12)))
    assert lazy_3d.chunks[0] == lazy_rgb.chunks[0] == da.from_array(ref.numpy(), chunks=(2048, 12)).chunks[0]
    eager_3d, eager_rgb = fitted.transform(ref)
    assert np.abs(lazy_3d.compute(scheduler="threads") - eager_3d.numpy()).max() <= 1e-5
    assert np.abs(lazy_rgb.compute(scheduler="threads") - eager_rgb.numpy()).max() <= 1e-5
    assert 0.0 <= float(eager_rgb.min()) and float(eager_rgb.max()) <= 1.0
    assert len(pickle.dumps(fitted)) < 4 * 300 * (12 + 3) + 16_000


def test_fit_coloring_checks_itself_on_its_device(data, device):
    # fit_coloring checks its fitted form against the coloring on the coloring's device (another
    # device's rounding may pick another near-tied anchor); the fitted form moved there agrees.
    _, _, ref = data
    fit = ref[:2000]
    fitted, X_3d, _ = fit_coloring(fit, "tsne", num_sample=200, knn=10, device=device, seed=0, n_iter=40)
    want_3d, _ = tsne_color(fit, num_sample=200, knn=10, device=device, seed=0, n_iter=40)
    assert torch.equal(X_3d, want_3d)
    placed, _ = fitted.to(device).transform(fit)
    not_anchor = (torch.nn.functional.normalize(fit, dim=1) @ fitted.anchors.T).amax(1) < 1 - 1e-6
    assert float((placed - want_3d)[not_anchor].abs().max()) < 1e-4


def test_fitted_pca_coloring_is_the_affine_map(data):
    _, _, ref = data
    fitted, X_3d, rgb = fit_coloring(ref[:4000], "pca", num_sample=1000, device="cpu")
    want_3d, want_rgb = pca_color(ref[:4000], num_sample=1000, device="cpu")
    assert torch.equal(X_3d, want_3d)
    placed, colors = fitted.transform(ref[:4000])
    assert float((placed - want_3d).abs().max()) < 1e-4 and float((colors - want_rgb).abs().max()) < 1e-4
    assert fitted.anchors is None and fitted.affine.shape == (13, 3)


def test_fitted_coloring_rejects_bad_inputs(data):
    _, _, ref = data
    fitted, _, _ = fit_coloring(ref[:1000], "pca", num_sample=500, device="cpu")
    with pytest.raises(ValueError, match="fitted on 12"):
        fitted.transform(ref[:10, :5])
    with pytest.raises(ValueError, match="all-zero rows"):
        fitted.transform(torch.zeros(3, 12))
    with pytest.raises(ValueError, match="unknown coloring"):
        fit_coloring(ref[:1000], "mds")


def test_fitted_kway_equals_kway_ncut_and_labels_lazily(data):
    _, _, ref = data
    fitted = fit_kway(ref, 5, n_sample=2000, seed=0)
    torch.testing.assert_close(fitted.transform(ref), kway_ncut(ref, 5, n_sample=2000, seed=0), atol=1e-6, rtol=0)
    want = segment_labels(ref, 5, n_sample=2000, seed=0)
    lazy = fitted.labels(da.from_array(ref.numpy(), chunks=(3000, 12)))
    assert lazy.chunks == (da.from_array(ref.numpy(), chunks=(3000, 12)).chunks[0],) and lazy.dtype == np.int64
    got = lazy.compute(scheduler="threads")
    assert (got == want.numpy()).mean() > 0.999  # float ties aside, the same segments
    assert len(np.unique(got)) >= 3
    with pytest.raises(ValueError, match="at least 5"):
        fitted.transform(ref[:, :4])


def test_importing_ncut_widget_does_not_import_dask():
    code = (
        "import sys, ncut_widget; from ncut_widget import Ncut, tsne_color, cli; "
        "print(any(m == 'dask' or m.startswith(('dask.', 'distributed', 'zarr')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_transform_all_is_the_chain_in_one_task_per_chunk(data):
    X, model, ref = data
    Xd = da.from_array(X.numpy(), chunks=(4096, 48))
    fit_vecs = ref[:6000]
    coloring, _, _ = fit_coloring(fit_vecs, "pca", device="cpu")
    kway = fit_kway(fit_vecs, 4)
    out = transform_all(model, Xd, coloring=coloring, kway=kway)
    assert sorted(out) == ["X_3d", "eigvecs", "labels", "rgb"]
    assert all(a.chunks[0] == Xd.chunks[0] for a in out.values())
    assert out["labels"].dtype == np.int64
    # one model task per chunk: the graph has no separate coloring or k-way layers
    assert not any(str(k).startswith(("ncut-color", "ncut-labels")) for k in dict(out["rgb"].__dask_graph__()))
    got = {k: v.compute(scheduler="threads") for k, v in out.items()}
    assert np.abs(got["eigvecs"] - ref.numpy()).max() <= 1e-5
    want_3d, want_rgb = coloring.transform(ref)
    assert np.abs(got["X_3d"] - want_3d.numpy()).max() <= 1e-5
    assert np.abs(got["rgb"] - want_rgb.numpy()).max() <= 1e-5
    assert np.array_equal(got["labels"], kway.labels(ref).numpy())
    only = transform_all(model, Xd)
    assert list(only) == ["eigvecs"]
    with pytest.raises(ValueError, match="fitted on 5 eigenvectors, but this Ncut gives 12"):
        transform_all(model, Xd, coloring=fit_coloring(fit_vecs[:, :5], "pca", device="cpu")[0])
