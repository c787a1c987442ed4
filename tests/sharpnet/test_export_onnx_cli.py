"""``app.py export-onnx``: the files the onnxruntime runtime looks for, or a one-line error."""

from __future__ import annotations

import onnx
import pytest

from app import main as app_main
from sharpnet.onnx_runtime import onnxruntime_missing

MISSING = onnxruntime_missing()


@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_export_writes_a_valid_graph_and_its_int8_twin(tiny_a_dir, tmp_path, capsys):
    code = app_main(["export-onnx", "-o", str(tmp_path), "--input-size", "512", "--int8",
                     "--checkpoint", str(tiny_a_dir / "state_dict.pt"),
                     "--model-config", str(tiny_a_dir / "config.json")])
    assert code == 0
    graphs = sorted(tmp_path.glob("sharp-*-512*.onnx"))
    assert [g.name.endswith(".int8.onnx") for g in graphs] == [True, False]
    for graph in graphs:
        model = onnx.load(str(graph))
        onnx.checker.check_model(model)
        assert [i.name for i in model.graph.input] == ["image", "disparity_factor"]
        dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        assert dims == [1, 3, 512, 512]
    assert not list(tmp_path.glob(".export-*")) and "exported at 512x512" in capsys.readouterr().out


def test_a_missing_checkpoint_is_one_line_and_writes_nothing(tmp_path, capsys):
    code = app_main(["export-onnx", "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "none.pt")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
