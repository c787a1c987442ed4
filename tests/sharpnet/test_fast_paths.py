"""Every fast path stays within its stated tolerance of the float32 path on tiny_a's weights.

Compared at a 512 input (9x cheaper than 1536; the float32 path itself is held to the reference
goldens at 1536 in test_golden.py).

Tolerances (relative, on NDC outputs of the randomly initialised tiny model, whose depth comes from
near-zero disparities and so amplifies any rounding):
- segments: the same function (shown in float64 in test_pyramid_encoder.py); in float32 only the
  summation order of differently sized convolutions differs (1e-4)
- channels_last, int8 ViT linears: 1e-3 on means/scales, 1e-4 on colours/opacities
- bf16 autocast: 0.1 at worst and 1e-2 for 99.9% of Gaussians on means/scales (the median is
  ~4e-5), 5e-3 on colours/opacities
"""

from __future__ import annotations

import pytest
import torch

from sharpnet.config import load_model_config
from sharpnet.fast_paths import InferenceOptions, int8_engine, is_quantized
from sharpnet.predictor import Predictor
from sharpnet.utils.photo import load_photo

SIZE = 512


@pytest.fixture(scope="module")
def tiny(tiny_a_dir):
    cfg = load_model_config(tiny_a_dir / "config.json")
    photo = load_photo(tiny_a_dir / "input.png", f_px=520.0)

    def run(options: InferenceOptions):
        predictor = Predictor.load(tiny_a_dir / "state_dict.pt", cfg, options=options)
        return predictor.predict(photo.rgb, photo.f_px, input_size=SIZE, keep_ndc=True).ndc

    return run


@pytest.fixture(scope="module")
def baseline(tiny):
    return tiny(InferenceOptions())


def relative_error(a: torch.Tensor, b: torch.Tensor, quantile: float = 1.0) -> float:
    error = ((a - b).abs() / (b.abs() + 1e-3)).flatten()
    if quantile >= 1.0:
        return float(error.max())
    return float(error.sort().values[int(quantile * (error.numel() - 1))])


@pytest.mark.parametrize("options,geometry_tol,geometry_q999_tol,appearance_tol", [
    (InferenceOptions(segments=7), 1e-4, 1e-4, 1e-5),
    (InferenceOptions(channels_last=True), 1e-3, 1e-3, 1e-4),
    (InferenceOptions(quantization="dynamic"), 1e-3, 1e-3, 1e-4),
    (InferenceOptions(quantization="dynamic", channels_last=True), 1e-3, 1e-3, 1e-4),
    (InferenceOptions(precision="bf16"), 1e-1, 1e-2, 5e-3),
], ids=lambda v: v.label if isinstance(v, InferenceOptions) else None)
def test_fast_path_within_tolerance_of_fp32(
    tiny, baseline, options, geometry_tol, geometry_q999_tol, appearance_tol
):
    out = tiny(options)
    for name in ("mean_vectors", "singular_values"):
        ours, ref = getattr(out, name), getattr(baseline, name)
        assert relative_error(ours, ref) < geometry_tol, name
        assert relative_error(ours, ref, quantile=0.999) < geometry_q999_tol, name
    for name in ("colors", "opacities"):
        assert relative_error(getattr(out, name), getattr(baseline, name)) < appearance_tol, name
    assert torch.isfinite(out.quaternions).all()


def test_options_are_validated():
    with pytest.raises(ValueError):
        InferenceOptions(precision="fp8")
    with pytest.raises(ValueError):
        InferenceOptions(segments=0)
    assert InferenceOptions(precision="bf16", channels_last=True, segments=5).label == "bf16+channels_last+segments=5"


def test_int8_and_fp16_are_refused_where_they_have_no_kernels(tiny_a_dir):
    cfg = load_model_config(tiny_a_dir / "config.json")
    with pytest.raises(ValueError, match="fp16"):
        Predictor.load(None, cfg, options=InferenceOptions(precision="fp16"))


def test_int8_packing_leaves_the_process_engine_alone(tiny_a_dir):
    """The ViT linears are packed for :func:`int8_engine`; the process-wide engine is restored."""
    cfg = load_model_config(tiny_a_dir / "config.json")
    before = torch.backends.quantized.engine
    predictor = Predictor.load(None, cfg, options=InferenceOptions(quantization="dynamic"))
    assert torch.backends.quantized.engine == before
    assert is_quantized(predictor.model)
    assert int8_engine() in torch.backends.quantized.supported_engines


def test_reconfigure_switches_in_place_and_undoes_int8(tiny_a_dir, baseline):
    """Workers follow an auto-tune through ``reconfigure``; undoing int8 reloads the float weights."""
    cfg = load_model_config(tiny_a_dir / "config.json")
    photo = load_photo(tiny_a_dir / "input.png", f_px=520.0)
    predictor = Predictor.load(tiny_a_dir / "state_dict.pt", cfg, options=InferenceOptions(quantization="dynamic"))
    model = predictor.model
    predictor.reconfigure(InferenceOptions(precision="bf16", quantization="dynamic"))
    assert predictor.model is model and model.amp_dtype == torch.bfloat16
    predictor.reconfigure(InferenceOptions())
    assert predictor.options == InferenceOptions() and predictor.model.amp_dtype is None
    out = predictor.predict(photo.rgb, photo.f_px, input_size=SIZE, keep_ndc=True).ndc
    for name in ("mean_vectors", "colors", "opacities"):
        torch.testing.assert_close(getattr(out, name), getattr(baseline, name), rtol=0, atol=0)


def test_labels_round_trip():
    for label in ("fp32", "bf16+channels_last", "fp32+int8", "ort", "ort+int8", "bf16+compile"):
        assert InferenceOptions.from_label(label).label == label
    with pytest.raises(ValueError, match="unknown"):
        InferenceOptions.from_label("fp32+turbo")
    with pytest.raises(ValueError, match="onnxruntime"):
        InferenceOptions(runtime="onnxruntime", precision="bf16")
