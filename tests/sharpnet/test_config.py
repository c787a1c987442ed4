"""Model-config JSON loading and input-size rules."""

import json

import pytest

from sharpnet.config import ModelConfigError, SharpConfig, load_model_config, snap_input_size


def test_tiny_config_is_read(tiny_a_dir):
    cfg = load_model_config(tiny_a_dir / "config.json")
    assert cfg.monodepth.patch_encoder.embed_dim == 64 and cfg.monodepth.image_encoder.depth == 4
    assert cfg.monodepth.dims_encoder == (32, 16, 32, 64, 64)
    assert cfg.gaussian_decoder.dims_decoder == (16,) * 5


def test_missing_keys_keep_the_released_values(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"vit_depth": 6, "monodepth_hook_ids": [1, 2, 3, 5], "extra": "ignored"}))
    cfg = load_model_config(path)
    assert cfg.monodepth.patch_encoder.depth == 6
    assert cfg.monodepth.patch_encoder.embed_dim == SharpConfig().monodepth.patch_encoder.embed_dim


@pytest.mark.parametrize("content,message", [
    ("[1, 2]", "JSON object"),
    ("{not json", "not readable JSON"),
    ('{"vit_embed_dim": -4}', "vit_embed_dim"),
    ('{"vit_embed_dim": 66, "vit_num_heads": 4}', "divisible"),
    ('{"monodepth_hook_ids": [0, 1, 2]}', "monodepth_hook_ids"),
    ('{"vit_depth": 2, "monodepth_hook_ids": [0, 1, 2, 3]}', "below vit_depth"),
])
def test_bad_configs_say_which_key(tmp_path, content, message):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(ModelConfigError, match=message):
        load_model_config(path)


@pytest.mark.parametrize("size,expected", [
    (1536, 1536), (1024, 1024), (512, 512), (1000, 1024), (100, 512), (4000, 1536), (543, 512), (545, 576)])
def test_input_size_snaps_to_a_multiple_of_64_in_range(size, expected):
    assert snap_input_size(size) == expected
