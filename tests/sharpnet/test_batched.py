"""A batched forward gives each photo what its own forward gives (within float tolerance)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sharpnet.config import load_model_config
from sharpnet.predictor import Predictor
from sharpnet.utils.photo import load_photo

SIZE = 512


@pytest.fixture(scope="module")
def predictor(tiny_a_dir):
    return Predictor.load(tiny_a_dir / "state_dict.pt", load_model_config(tiny_a_dir / "config.json"))


def test_batch_equals_one_by_one(tiny_a_dir, predictor):
    photo = load_photo(tiny_a_dir / "input.png", f_px=520.0)
    flipped = np.ascontiguousarray(photo.rgb[::-1, ::-1])
    cropped = np.ascontiguousarray(photo.rgb[40:, 100:])  # another shape and another focal length
    photos = [(photo.rgb, 520.0), (flipped, 400.0), (cropped, 610.0)]
    batch = predictor.predict_batch([p for p, _ in photos], [f for _, f in photos], SIZE, keep_ndc=True)
    assert len(batch) == 3
    for (rgb, f_px), ours in zip(photos, batch):
        alone = predictor.predict(rgb, f_px, SIZE, keep_ndc=True)
        for name in ("mean_vectors", "singular_values", "quaternions", "colors", "opacities"):
            a, b = getattr(ours.ndc, name), getattr(alone.ndc, name)
            assert a.shape == b.shape
            # Unnormalised quaternions have near-zero components: relative to each one's norm.
            scale = b.norm(dim=-1, keepdim=True) if name == "quaternions" else b.abs() + 1e-3
            relative = ((a - b).abs() / scale).max().item()
            assert relative < 1e-4, (name, relative)
        np.testing.assert_allclose(ours.gaussians.mean_vectors, alone.gaussians.mean_vectors, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.gaussians.colors, alone.gaussians.colors, rtol=0, atol=1e-5)
    # The three photos really are different scenes (the test would be vacuous otherwise).
    assert not torch.allclose(batch[0].ndc.colors, batch[1].ndc.colors)


def test_batch_needs_one_focal_length_per_photo(predictor):
    with pytest.raises(ValueError, match="focal"):
        predictor.predict_batch([np.zeros((8, 8, 3), np.uint8)], [], SIZE)
