"""The service's one typed configuration: defaults <- config file <- environment <- command line.

Every section is a frozen pydantic model; each field carries its help text and limits, so
validation, ``config.yaml``/``config.json``, ``--help`` and the environment variables cannot drift
apart silently (a test checks that both shipped files hold exactly the defaults and document every
key). Unknown keys, wrong types and out-of-range values raise :class:`ConfigError`, one line naming
the dotted key and where the value came from (:mod:`mlsharp.config_errors` words pydantic's
errors), so the CLI prints it and exits 2 instead of showing a traceback.

Adding a key is one declaration in its section (:mod:`mlsharp.config_sections`), e.g.::

    class CacheConfig(Section):
        ttl_s: float = opt(0.0, "seconds a result is kept (0: forever)", ge=0)

Types are strict (``"yes"`` is not a bool); limits are pydantic's ``ge``/``le``/``pattern``, choices a
``Literal``. The key is then readable from a file (``cache: {ttl_s: 60}``), from the environment as
``MLSHARP_CACHE__TTL_S=60`` (a top-level key like ``mode`` as ``MLSHARP_MODE``), and as
``config.cache.ttl_s``. Add it, with its help text as a comment, to ``config.yaml`` and
``config.json`` (the test above fails until you do); a command-line flag is optional
(:mod:`mlsharp.cli`). A new section is a new ``Section`` subclass there and one field of
:class:`Config` here.

Keys starting with ``_`` are treated as comments (JSON has no other way to document a key).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from mlsharp.config_errors import ConfigError, describe_value, fields_by_key, one_line
from mlsharp.config_sections import (
    API_KEY_PATTERN,
    CHECKPOINT_URL,
    LOG_LEVELS,
    MAX_SANE_INPUT_SIZE,
    AutoTuneConfig,
    BatchConfig,
    BrowserConfig,
    CacheConfig,
    GpuConfig,
    InferenceConfig,
    JobsConfig,
    LimitsConfig,
    LoggingConfig,
    ModelConfig,
    MonitoringConfig,
    OptimizationConfig,
    PerformanceConfig,
    SecurityConfig,
    Section,
    ServerConfig,
    StorageConfig,
    WebhooksConfig,
    opt,
)
from mlsharp.config_sources import environment_layers as _environment_layers
from mlsharp.config_sources import read_config_file
from mlsharp.device_policy import MODES  # the device modes GPUManager understands: one list for all
from sharpnet.config import CHECKPOINT_NAME, INPUT_SIZE_STEP, MAX_INPUT_SIZE, MIN_INPUT_SIZE, snap_input_size

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = REPO_ROOT / "config.yaml"
ENV_PREFIX = "MLSHARP_"


class Config(Section):
    server: ServerConfig = ServerConfig()
    mode: Literal[MODES] = opt("auto", "compute device: auto, gpu (any), cpu, nvidia, amd, intel, mps/apple")
    browser: BrowserConfig = BrowserConfig()
    gpu: GpuConfig = GpuConfig()
    logging: LoggingConfig = LoggingConfig()
    model: ModelConfig = ModelConfig()
    inference: InferenceConfig = InferenceConfig()
    cache: CacheConfig = CacheConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    optimization: OptimizationConfig = OptimizationConfig()
    performance: PerformanceConfig = PerformanceConfig()
    auto_tune: AutoTuneConfig = AutoTuneConfig()
    limits: LimitsConfig = LimitsConfig()
    security: SecurityConfig = SecurityConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    batch: BatchConfig = BatchConfig()
    jobs: JobsConfig = JobsConfig()
    storage: StorageConfig = StorageConfig()

    def path(self, value: str | Path) -> Path:
        """A configured path; relative ones are taken from the app directory, not the caller's cwd."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def checkpoint_path(self) -> Path:
        return self.path(self.model.checkpoint or Path("model_assets") / CHECKPOINT_NAME)

    @property
    def checkpoint_segments(self) -> int:
        """Segments actually used: 1 unless gradient checkpointing is switched on."""
        opt = self.optimization
        return opt.checkpoint_segments if opt.gradient_checkpointing else 1



# --------------------------------------------------------------------------- building


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(data: Any) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"config: expected a mapping of keys, got {describe_value(data)}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(one_line(exc, Config)) from None


def adjust_input_size(size: tuple[int, int]) -> tuple[tuple[int, int], str | None]:
    """Square, a multiple of 64 in 512..1536; returns the new pair and a warning if it changed."""
    side = snap_input_size(max(size))
    if (side, side) == tuple(size):
        return (side, side), None
    return (side, side), (
        f"inference.input_size {size[0]}x{size[1]} adjusted to {side}x{side} (the network input is "
        f"square, a multiple of {INPUT_SIZE_STEP} between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE})"
    )


def build_config(*layers: dict | tuple[dict, str]) -> tuple[Config, list[str]]:
    """Overlay ``layers`` (later wins) on the defaults and validate; returns warnings to log.

    A layer may be ``(data, source)``: its errors then say where the bad value came from. Each
    layer is validated on its own first, so a mistake is blamed on the file or flag that made it.
    """
    merged: dict = {}
    for layer in layers:
        data, source = layer if isinstance(layer, tuple) else (layer, None)
        try:
            _validate(data)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from {source})" if source else str(exc)) from None
        merged = _deep_merge(merged, data)
    config = _validate(merged)
    warnings = []
    size, note = adjust_input_size(config.inference.input_size)
    if note:
        warnings.append(note)
        config = config.model_copy(update={"inference": config.inference.model_copy(update={"input_size": size})})
    return config, warnings


# --------------------------------------------------------------------------- sources


def environment_layers(environ: Mapping[str, str] | None = None) -> list[tuple[dict, str]]:
    """One layer per ``MLSHARP_SECTION__KEY`` variable (see :mod:`mlsharp.config_sources`)."""
    return _environment_layers(Config, ENV_PREFIX, os.environ if environ is None else environ)


def load_config(
    path: str | Path | None = None, overrides: dict | None = None, use_default_file: bool = True,
    environ: Mapping[str, str] | None = None,
) -> tuple[Config, list[str]]:
    """defaults <- ``path`` (or config.yaml beside app.py) <- environment <- ``overrides`` (the CLI)."""
    layers: list[tuple[dict, str]] = []
    if path is None and use_default_file and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        layers.append((read_config_file(path), str(path)))
    layers.extend(environment_layers(environ))
    layers.append((overrides or {}, "command line"))
    return build_config(*layers)


def config_to_dict(config: BaseModel) -> Any:
    """The plain nested dict of a config (tuples as lists), as written to the shipped files."""
    return config.model_dump(mode="json", by_alias=True)


def describe_fields(cls: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, help) for every leaf, in declaration order: the docs' single source."""
    out = []
    for name, info in fields_by_key(cls).items():
        if isinstance(info.default, BaseModel):
            out.extend(describe_fields(type(info.default), f"{prefix}{name}."))
        else:
            default = info.default
            out.append((f"{prefix}{name}", list(default) if isinstance(default, tuple) else default,
                        info.description or ""))
    return out


__all__ = [
    "API_KEY_PATTERN",
    "CHECKPOINT_NAME",
    "CHECKPOINT_URL",
    "Config",
    "ConfigError",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "LOG_LEVELS",
    "MAX_SANE_INPUT_SIZE",
    "MODES",
    "REPO_ROOT",
    "Section",
    "adjust_input_size",
    "build_config",
    "config_to_dict",
    "describe_fields",
    "environment_layers",
    "load_config",
    "opt",
    "read_config_file",
]
