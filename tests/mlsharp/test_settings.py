"""Typed config: precedence, validation messages, input-size snapping, the shipped files, the CLI layer."""

from __future__ import annotations

import json

import pytest

from mlsharp.cli import build_parser, overrides_from_args
from mlsharp.config import (
    REPO_ROOT,
    Config,
    ConfigError,
    adjust_input_size,
    build_config,
    config_to_dict,
    describe_fields,
    load_config,
)


def write_yaml(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file():
    config, warnings = load_config(overrides={}, use_default_file=False)
    assert config == Config()
    assert warnings == []
    assert config.server.port == 8000 and config.server.host == "127.0.0.1"
    assert config.cache.enabled and config.cache.size == 100
    assert config.inference.input_size == (1536, 1536)


def test_precedence_cli_over_file_over_defaults(tmp_path):
    path = write_yaml(tmp_path / "c.yaml", "server:\n  port: 9001\ncache:\n  size: 7\n")
    args = build_parser().parse_args(["-c", str(path), "--port", "9002", "--no-cache"])
    config, _ = load_config(args.config, overrides_from_args(args))
    assert config.server.port == 9002  # CLI beats the file
    assert config.cache.size == 7  # the file beats the default
    assert config.cache.enabled is False  # CLI
    assert config.server.host == "127.0.0.1"  # default


def test_flags_not_given_do_not_override_the_file(tmp_path):
    path = write_yaml(tmp_path / "c.yml", "browser:\n  open: false\ncache:\n  enabled: false\ngpu:\n  amp: false\n")
    args = build_parser().parse_args(["--config", str(path)])
    assert overrides_from_args(args) == {}
    config, _ = load_config(args.config, overrides_from_args(args))
    assert (config.browser.open, config.cache.enabled, config.gpu.amp) == (False, False, False)


def test_every_cli_flag_maps_to_its_key():
    args = build_parser().parse_args([
        "-m", "cpu", "-p", "1234", "--host", "0.0.0.0", "--input-size", "1024", "1024", "--no-browser",
        "--no-amp", "--no-cudnn-benchmark", "--enable-cache", "--cache-size", "5", "--enable-auto-tune",
        "--gradient-checkpointing", "--checkpoint-segments", "7", "--log-level", "debug", "--max-gaussians", "5000",
    ])
    config, warnings = build_config(overrides_from_args(args))
    assert warnings == []
    assert config.mode == "cpu"
    assert (config.server.host, config.server.port) == ("0.0.0.0", 1234)
    assert config.inference.input_size == (1024, 1024) and config.inference.max_gaussians == 5000
    assert config.browser.open is False and config.gpu.amp is False and config.gpu.cudnn_benchmark is False
    assert config.cache.enabled is True and config.cache.size == 5
    assert config.auto_tune.enabled is True
    assert config.optimization.gradient_checkpointing and config.checkpoint_segments == 7
    assert config.logging.level == "DEBUG"


def test_checkpoint_segments_only_apply_with_gradient_checkpointing():
    config, _ = build_config({"optimization": {"checkpoint_segments": 9}})
    assert config.checkpoint_segments == 1
    config, _ = build_config({"optimization": {"checkpoint_segments": 9, "gradient_checkpointing": True}})
    assert config.checkpoint_segments == 9


@pytest.mark.parametrize(
    ("layer", "key", "fragment"),
    [
        ({"cache": {"sise": 3}}, "cache.sise", "unknown key"),
        ({"colour": "red"}, "colour", "unknown key"),
        ({"server": {"port": "eighty"}}, "server.port", "expected an integer"),
        ({"cache": {"enabled": "yes"}}, "cache.enabled", "expected true or false"),
        ({"limits": {"max_upload_mb": "big"}}, "limits.max_upload_mb", "expected a number"),
        ({"model": {"checkpoint": 5}}, "model.checkpoint", "expected a string"),
        ({"server": {"port": 70000}}, "server.port", "must be <= 65535"),
        ({"cache": {"size": 0}}, "cache.size", "must be >= 1"),
        ({"performance": {"max_workers": 0}}, "performance.max_workers", "must be >= 1"),
        ({"mode": "tpu"}, "mode", "expected one of auto, gpu, cpu, nvidia, amd"),
        ({"logging": {"level": "LOUD"}}, "logging.level", "expected one of"),
        ({"monitoring": {"metrics_path": "metrics"}}, "monitoring.metrics_path", "starting with /"),
        ({"inference": {"input_size": [0, 512]}}, "inference.input_size", "must be >= 1"),
        ({"inference": {"input_size": [512]}}, "inference.input_size", "two integers"),
        ({"cache": 5}, "cache", "expected a mapping"),
    ],
)
def test_validation_errors_are_one_line_naming_the_key(tmp_path, layer, key, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(layer), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{key}:")
    assert fragment in message
    assert str(path) in message  # says which file the bad value came from


def test_cli_values_are_validated_and_blamed_on_the_command_line():
    args = build_parser().parse_args(["--cache-size", "0"])
    with pytest.raises(ConfigError, match=r"^cache\.size: must be >= 1, got 0 \(from command line\)$"):
        load_config(None, overrides_from_args(args), use_default_file=False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("server: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "top level must be a mapping")],
)
def test_unreadable_yaml_is_one_line(tmp_path, text, fragment):
    path = write_yaml(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml", {})
    other = tmp_path / "c.toml"
    other.write_text("x = 1")
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.json"):
        load_config(other, {})


def test_underscore_keys_are_comments():
    config, _ = build_config({"_doc": "hello", "cache": {"_size": "explained", "size": 3}})
    assert config.cache.size == 3


@pytest.mark.parametrize(
    ("given", "expected", "changed"),
    [
        ((1536, 1536), 1536, False),
        ((1024, 1024), 1024, False),
        ((1000, 1000), 1024, True),  # nearest multiple of 64
        ((1024, 768), 1024, True),  # made square (the larger side)
        ((100, 100), 512, True),  # raised to the minimum
        ((4000, 3000), 1536, True),  # lowered to the maximum
    ],
)
def test_input_size_is_snapped_with_a_warning_saying_what_changed(given, expected, changed):
    size, note = adjust_input_size(given)
    assert size == (expected, expected)
    assert (note is not None) == changed
    if changed:
        assert f"{given[0]}x{given[1]}" in note and f"{expected}x{expected}" in note
        assert "multiple of 64" in note


def test_snapped_input_size_reaches_the_config_and_the_warnings():
    args = build_parser().parse_args(["--input-size", "1000", "700"])
    config, warnings = build_config(overrides_from_args(args))
    assert config.inference.input_size == (1024, 1024) and config.inference.side == 1024
    assert len(warnings) == 1 and "1000x700 adjusted to 1024x1024" in warnings[0]


@pytest.mark.parametrize("name", ["config.yaml", "config.json"])
def test_shipped_files_hold_exactly_the_defaults_and_document_every_key(name):
    path = REPO_ROOT / name
    config, warnings = load_config(path, {})
    assert config == Config() and warnings == []
    text = path.read_text(encoding="utf-8")
    for key, _, help_text in describe_fields():
        leaf = key.split(".")[-1]
        assert f"{leaf}" in text, key
        assert help_text and help_text in text, f"{key} is not documented in {name}"


def test_shipped_files_cover_every_section():
    data = config_to_dict(Config())
    for name in ("server", "mode", "browser", "gpu", "logging", "model", "inference", "cache",
                 "monitoring", "optimization", "performance", "auto_tune"):
        assert name in data
    assert {"checkpoint", "temp_dir", "auto_download"} <= set(data["model"])
    assert {"max_workers", "max_concurrency", "timeout_keep_alive", "max_requests"} <= set(data["performance"])
    assert {"enabled", "test_size", "warmup_runs", "test_runs"} <= set(data["auto_tune"])


def test_relative_paths_resolve_against_the_app_directory():
    config = Config()
    assert config.path("cache") == REPO_ROOT / "cache"
    assert config.checkpoint_path == REPO_ROOT / "model_assets" / "sharp_2572gikvuh.pt"
