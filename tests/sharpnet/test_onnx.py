"""The ONNX export run by onnxruntime reproduces the tiny golden (the same tolerances as torch),
and its dynamic int8 quantization stays within the int8 fast path's tolerance of float32."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sharpnet.config import load_model_config
from sharpnet.onnx_export import onnx_file
from sharpnet.onnx_runtime import onnxruntime_missing, providers_for
from sharpnet.options import InferenceOptions
from sharpnet.predictor import Predictor
from sharpnet.utils.photo import load_photo

MISSING = onnxruntime_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


@pytest.fixture(scope="module")
def setup(tiny_a_dir, tmp_path_factory):
    cfg = load_model_config(tiny_a_dir / "config.json")
    onnx_dir = tmp_path_factory.mktemp("onnx")
    predictor = Predictor.load(tiny_a_dir / "state_dict.pt", cfg, onnx_dir=onnx_dir,
                               options=InferenceOptions(runtime="onnxruntime"))
    f_px = json.loads((tiny_a_dir / "config.json").read_text())["f_px"]
    photo = load_photo(tiny_a_dir / "input.png", f_px=f_px)
    return predictor, photo, onnx_dir


def test_onnxruntime_matches_the_golden(setup, tiny_a_dir):
    predictor, photo, onnx_dir = setup
    golden = np.load(tiny_a_dir / "expected.npz")
    prediction = predictor.predict(photo.rgb, photo.f_px, keep_ndc=True)  # 1536, like the golden
    assert onnx_file(onnx_dir, predictor.model_id, 1536).is_file()
    idx = golden["sample_index"]
    for name in ("mean_vectors", "singular_values", "colors", "opacities"):
        ours = getattr(prediction.ndc, name)[0].numpy()[idx]
        np.testing.assert_allclose(ours, golden[f"ndc_{name}"], rtol=1e-3, atol=1e-4, err_msg=name)
    g = prediction.gaussians
    np.testing.assert_allclose(g.mean_vectors[idx], golden["metric_mean_vectors"], rtol=1e-3)
    np.testing.assert_allclose(g.colors[idx], golden["metric_colors"], rtol=1e-3, atol=1e-4)


def test_int8_within_tolerance_of_float32(setup):
    predictor, photo, onnx_dir = setup
    predictor.reconfigure(InferenceOptions())
    reference = predictor.predict(photo.rgb, photo.f_px, input_size=512, keep_ndc=True).ndc
    predictor.reconfigure(InferenceOptions(runtime="onnxruntime", quantization="dynamic"))
    out = predictor.predict(photo.rgb, photo.f_px, input_size=512, keep_ndc=True).ndc
    assert onnx_file(onnx_dir, predictor.model_id, 512, int8=True).is_file()
    for name, tol in (("mean_vectors", 1e-3), ("singular_values", 1e-3), ("colors", 1e-4), ("opacities", 1e-4)):
        a, b = getattr(out, name), getattr(reference, name)
        assert ((a - b).abs() / (b.abs() + 1e-3)).max().item() < tol, name


def test_providers_prefer_the_device_and_keep_the_cpu():
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for("cuda:0", available) == available
    assert providers_for("cpu", available) == ["CPUExecutionProvider"]
    assert providers_for("mps", ["CoreMLExecutionProvider", "CPUExecutionProvider"])[0] == "CoreMLExecutionProvider"
    assert providers_for(torch.device("cpu"))[-1] == "CPUExecutionProvider"


def test_runtime_without_a_directory_is_refused(tiny_a_dir):
    cfg = load_model_config(tiny_a_dir / "config.json")
    with pytest.raises(ValueError, match="onnx_dir"):
        Predictor.load(None, cfg, options=InferenceOptions(runtime="onnxruntime"))
