"""extract_features' preprocessing is the seed's torchvision transform, bit for bit, without
importing torchvision."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from ncut_widget.features import sample_images
from ncut_widget.features.extract import IMAGENET_MEAN, IMAGENET_STD, preprocess


@pytest.mark.parametrize("size", [(224, 224), (448, 448), (224, 448), (98, 70)])
def test_preprocess_equals_the_seed_transform(size):
    transforms = pytest.importorskip("torchvision.transforms")
    seed = transforms.Compose(  # as the seed tutorial writes it
        [transforms.Resize(size), transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    )
    for image in sample_images(3):  # includes the grayscale-origin "camera", as RGB
        ours = preprocess(image, size)
        assert ours.shape == (3, *size) and ours.dtype == torch.float32
        assert torch.equal(ours, seed(image)), image.info["name"]


def test_extract_features_does_not_import_torchvision():
    code = (
        "import sys; from ncut_widget.features import extract_features, sample_images; "
        "extract_features(sample_images(1), resolutions=28, progress=False, device='cpu'); "
        "print('torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
