"""compare(): panels per layer / model from the real offline backbone on tiny inputs, linked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncut_widget import NcutWidget, compare, extract_features, sample_images
from ncut_widget.progress import Cancelled
from ncut_widget.widget.links import map_nodes

torch.set_num_threads(1)

TINY = {"resolutions": (28, 56), "n_eig": 4, "color": "pca"}  # 2x2 and 4x4 patch grids


@pytest.fixture(scope="module")
def photos():
    return sample_images(2)


@pytest.fixture(scope="module")
def by_layer(photos):
    cmp = compare(photos, layer=[3, 9], background=True, **TINY)
    cmp.wait(timeout=300)
    return cmp


def test_one_linked_panel_per_layer_each_the_ncut_of_its_own_layer(photos, by_layer) -> None:
    assert list(by_layer.panels) == ["layer 3", "layer 9"]
    a, b = by_layer.panels.values()
    assert [a.title, b.title] == ["layer 3", "layer 9"]
    assert a.link_group == b.link_group != ""
    assert by_layer.children == (a, b)
    assert a.meta["n_nodes"] == b.meta["n_nodes"] == 2 * (4 + 16)
    # The one forward pass for both layers gives each panel exactly its layer's features: the
    # same results as explore() of that layer alone (same seed).
    for layer, panel in ((3, a), (9, b)):
        alone = compare(photos, layer=layer, background=False, **TINY).panels[f"layer {layer}"]
        np.testing.assert_array_equal(panel.results.eigvecs, alone.results.eigvecs)
    assert not np.allclose(a.results.eigvecs, b.results.eigvecs)


def test_the_split_features_are_the_layers_features(photos) -> None:
    both = extract_features(photos, resolutions=(28,), layer=[3, 9], progress=False)
    three = extract_features(photos, resolutions=(28,), layer=3, progress=False)
    torch.testing.assert_close(both.nodes[:, : three.channels], three.nodes, rtol=0, atol=0)


def test_a_selection_in_one_panel_selects_the_region_in_the_others(by_layer) -> None:
    a, b = by_layer.panels.values()
    a.selected = [1]  # image 0, 28 px grid, row 0 col 1
    assert b.selected == map_nodes([1], a.results.layout, b.results.layout)
    assert len(b.selected) == 1 + 4  # the same patch, and its 2x2 patches at 56 px
    sims = by_layer.similarity()
    assert list(sims) == ["layer 3", "layer 9"]
    for panel, sim in zip(by_layer.panels.values(), sims.values(), strict=True):
        assert sim.dtype == np.float32 and sim.shape == (panel.meta["n_nodes"],)
        np.testing.assert_array_equal(sim, panel.similarity())
    a.selected = []
    assert b.selected == []


def test_named_models_give_one_panel_per_model_and_layer(photos) -> None:
    def mean_pool(batch: torch.Tensor) -> torch.Tensor:  # a second "model": 14 px average pooling
        return torch.nn.functional.avg_pool2d(batch, 14).permute(0, 2, 3, 1)

    cmp = compare(photos, backbone={"dino": None, "pool": mean_pool}, background=False, **TINY)
    assert list(cmp.panels) == ["dino", "pool"]
    with pytest.raises(ValueError, match="has one output"):
        compare(photos, layer=[3, 9], backbone={"dino": None, "pool": mean_pool}, **TINY)
    cmp = compare(photos, layer=[3, 9], backbone={"a": None, "b": None}, background=False, columns=4, **TINY)
    assert list(cmp.panels) == ["a · layer 3", "a · layer 9", "b · layer 3", "b · layer 9"]
    assert cmp.layout.grid_template_columns == "repeat(4, minmax(0, 1fr))"
    np.testing.assert_array_equal(cmp.panels["a · layer 9"].results.eigvecs,
                                  cmp.panels["b · layer 9"].results.eigvecs)
    cmp.close()
    assert all(w._closed for w in cmp.panels.values())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"layer": []}, ValueError, "layer is an empty list"),
        ({"layer": [3, 3]}, ValueError, "repeats a layer"),
        ({"layer": [3, "9"]}, TypeError, "each layer must be an int"),
        ({"layer": [3, 12]}, ValueError, "layer 12 is out of range"),
        ({"backbone": {}}, ValueError, "empty dict"),
        ({"backbone": {1: None}}, TypeError, "must be non-empty str"),
        ({"columns": 0}, ValueError, "columns must be a positive int"),
        ({"color": "rainbow"}, ValueError, "unknown color"),
        ({"resolutions": (7,)}, ValueError, "smaller than one 14x14 patch"),
    ],
)
def test_bad_arguments_fail_before_any_panel_exists(photos, kwargs, error, message) -> None:
    args = {**TINY, **kwargs}
    with pytest.raises(error, match=message):
        compare(photos, **args)


def test_cancel_stops_the_job_and_marks_the_panels_not_computed(photos) -> None:
    cmp = compare(photos, layer=[3, 6, 9], background=True, **TINY)
    cmp.cancel()
    with pytest.raises(Cancelled):
        cmp.wait(timeout=300)
    stages = [w.stage for w in cmp.panels.values()]
    assert "Cancelled" in stages and all(s in ("Cancelled", "Done") for s in stages)


def test_each_panel_shows_its_own_progress_in_turn(photos, monkeypatch) -> None:
    import importlib

    import traitlets

    compare_module = importlib.import_module("ncut_widget.widget.compare")
    stages: dict[str, list[str]] = {}
    order: list[tuple[str, str]] = []

    class Recording(NcutWidget):
        """Records every stage as it is written (in the foreground, the job's writes apply at once)."""

        @traitlets.observe("stage")
        def _record(self, change: dict) -> None:
            stages.setdefault(self.title, []).append(change["new"].split(":")[0])
            order.append((self.title, change["new"].split(":")[0]))

    monkeypatch.setattr(compare_module, "NcutWidget", Recording)
    compare(photos, layer=[3, 9], background=False, **TINY)
    first, second = (list(dict.fromkeys(s[1:])) for s in stages.values())  # after "Waiting"; distinct
    # Both show the shared features pass; the second then waits while the first is computed.
    assert first[0] == second[0] == "features" and first[-1] == second[-1] == "Done"
    assert "Waiting" not in first and second[1] == "Waiting"
    assert "Normalized cut" in first and "Normalized cut" in second
    # One after another: the first panel is shown before the second starts its cut.
    assert order.index(("layer 3", "Done")) < order.index(("layer 9", "Normalized cut"))
    assert list(stages) == ["layer 3", "layer 9"]


def test_closing_one_panel_skips_it_and_the_others_go_on(photos) -> None:
    cmp = compare(photos, layer=[3, 9], background=True, **TINY)
    first, second = cmp.panels.values()
    first.close()
    second.wait(timeout=300)  # returns once its own panel is shown
    assert second.stage == "Done" and second.meta["n_nodes"] == 2 * (4 + 16)
    cmp.wait(timeout=300)  # the closed panel is not waited for
    with pytest.raises(RuntimeError, match="closed"):
        first.results  # noqa: B018


def test_closing_a_panel_during_its_own_cut_stops_it_there_and_the_next_one_runs(photos, monkeypatch) -> None:
    """Closed while its Normalized cut runs (not before its turn): the job stops that panel at its
    next progress report and goes on with the next panel, which is computed in full."""
    import importlib

    import traitlets

    compare_module = importlib.import_module("ncut_widget.widget.compare")
    seen: dict[str, list[str]] = {}

    class ClosesMidCut(NcutWidget):
        @traitlets.observe("stage")
        def _close_in_cut(self, change: dict) -> None:
            stage = change["new"].split(":")[0]
            seen.setdefault(self.title, []).append(stage)
            if self.title == "layer 3" and stage == "Normalized cut":
                self.close()

    monkeypatch.setattr(compare_module, "NcutWidget", ClosesMidCut)
    cmp = compare(photos, layer=[3, 9], background=False, **TINY)
    first, second = cmp.panels.values()
    assert first._closed and seen["layer 3"][-1] == "Normalized cut"  # nothing after the close
    assert "Done" not in seen["layer 3"]
    assert second.stage == "Done" and second.meta["n_nodes"] == 2 * (4 + 16)
    assert second.results.eigvecs.shape == (40, 4)
    with pytest.raises(RuntimeError, match="closed"):
        first.results  # noqa: B018


def test_the_exported_page_holds_every_panel(by_layer, tmp_path) -> None:
    import json
    import re

    page = by_layer.save_html(tmp_path / "cmp.html").read_text(encoding="utf-8")
    state = json.loads(re.search(r'id="ncut-state">(.*?)</script>', page, re.S).group(1))
    assert state["columns"] == 2
    assert [p["traits"]["title"] for p in state["panels"]] == ["layer 3", "layer 9"]
    groups = {p["traits"]["link_group"] for p in state["panels"]}
    assert len(groups) == 1 and "" not in groups
    assert isinstance(by_layer.panels["layer 3"], NcutWidget)
