"""Config from the environment: MLSHARP_SECTION__KEY between the file and the command line."""

from __future__ import annotations

import pytest

from mlsharp.cli import build_parser, overrides_from_args
from mlsharp.config import ConfigError, environment_layers, load_config


def load(environ, argv=(), path=None):
    args = build_parser().parse_args(list(argv))
    return load_config(path, overrides_from_args(args), use_default_file=False, environ=environ)[0]


def test_typed_values_from_the_environment():
    config = load({
        "MLSHARP_SERVER__PORT": "9123",
        "MLSHARP_SERVER__HOST": "0.0.0.0",
        "MLSHARP_CACHE__ENABLED": "false",
        "MLSHARP_LIMITS__MAX_UPLOAD_MB": "2.5",
        "MLSHARP_INFERENCE__INPUT_SIZE": "[1024, 1024]",
        "MLSHARP_SECURITY__CORS_ORIGINS": "https://a.example, https://b.example",
        "MLSHARP_MODEL__MODEL_CONFIG": "tiny.json",
        "MLSHARP_MODE": "cpu",
    })
    assert (config.server.port, config.server.host) == (9123, "0.0.0.0")
    assert config.cache.enabled is False and config.limits.max_upload_mb == 2.5
    assert config.inference.input_size == (1024, 1024)
    assert config.security.cors_origins == ("https://a.example", "https://b.example")
    assert config.model.network_config == "tiny.json" and config.mode == "cpu"


def test_null_clears_an_optional_path_and_strings_stay_strings():
    config = load({"MLSHARP_MODEL__CHECKPOINT": "null", "MLSHARP_LOGGING__DIR": "123"})
    assert config.model.checkpoint is None and config.logging.dir == "123"


def test_precedence_file_then_environment_then_command_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("server:\n  port: 9001\ncache:\n  size: 7\n  enabled: false\n", encoding="utf-8")
    environ = {"MLSHARP_SERVER__PORT": "9002", "MLSHARP_CACHE__SIZE": "8"}
    config = load(environ, ["--port", "9003"], path=path)
    assert config.server.port == 9003  # CLI beats the environment
    assert config.cache.size == 8  # the environment beats the file
    assert config.cache.enabled is False  # the file beats the default


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MLSHARP_SERVER__PORT", "eighty", "server.port: expected an integer, got 'eighty'"),
        ("MLSHARP_SERVER__PORT", "70000", "server.port: must be <= 65535, got 70000"),
        ("MLSHARP_CACHE__ENABLED", "yes please", "cache.enabled: expected true or false"),
        ("MLSHARP_CACHE__SIZ", "3", "cache.siz: unknown key (valid keys here: enabled, size, dir"),
        ("MLSHARP_SERVR__PORT", "3", "servr: unknown key"),
        ("MLSHARP_MODE", "tpu", "mode: expected one of auto, gpu, cpu"),
    ],
)
def test_bad_environment_values_are_one_line_naming_key_and_variable(name, value, message):
    with pytest.raises(ConfigError) as info:
        load({name: value})
    text = str(info.value)
    assert "\n" not in text and text.startswith(message), text
    assert text.endswith(f"(from environment variable {name})")


def test_secrets_from_the_environment_are_not_echoed():
    with pytest.raises(ConfigError) as info:
        load({"MLSHARP_SECURITY__API_KEYS": "short-secret"})
    assert "short-secret" not in str(info.value) and "security.api_keys" in str(info.value)


def test_other_mlsharp_variables_are_left_to_their_owners():
    environ = {"MLSHARP_API_KEYS": "k" * 20, "MLSHARP_SHARED_SHARP": "/x", "MLSHARP_SERVER": "x", "OTHER": "1"}
    assert environment_layers(environ) == []
    assert load(environ).security.api_keys == ()  # MLSHARP_API_KEYS is read by mlsharp.security
