"""The service's one typed configuration: defaults <- config file (.yaml/.yml/.json) <- command line.

Every section is a frozen dataclass; each field's ``metadata`` carries its help text and limits, so
validation, ``config.yaml``/``config.json`` and ``--help`` cannot drift apart silently (a test checks
that both shipped files hold exactly the defaults). Any unknown key, wrong type or out-of-range
value raises :class:`ConfigError` whose message is one line naming the dotted key, so the CLI can
print it and exit 2 instead of showing a traceback.

Keys starting with ``_`` are treated as comments (JSON has no other way to document a key).
"""

from __future__ import annotations

import json
import math
import re
import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from gpu_utils import MODES  # the device modes GPUManager understands; one list for config, CLI and manager

try:  # the network package owns the rule; the copy below only keeps the service importable alone
    from sharpnet.config import INPUT_SIZE_STEP, MAX_INPUT_SIZE, MIN_INPUT_SIZE, snap_input_size
except ImportError:  # pragma: no cover - only while sharpnet is absent
    MIN_INPUT_SIZE, MAX_INPUT_SIZE, INPUT_SIZE_STEP = 512, 1536, 64

    def snap_input_size(size: int) -> int:
        snapped = int(round(size / INPUT_SIZE_STEP)) * INPUT_SIZE_STEP
        return max(MIN_INPUT_SIZE, min(MAX_INPUT_SIZE, snapped))


REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = REPO_ROOT / "config.yaml"
CHECKPOINT_NAME = "sharp_2572gikvuh.pt"
CHECKPOINT_URL = "https://ml-site.cdn-apple.com/models/sharp/sharp_2572gikvuh.pt"
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
MAX_SANE_INPUT_SIZE = 16384


class ConfigError(ValueError):
    """A configuration problem, described in one line that names the key."""


def _opt(default: Any, help: str, **limits: Any) -> Any:
    """A dataclass field with its documentation and limits (min, max, choices) attached."""
    meta = {"help": help, **limits}
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ServerConfig:
    host: str = _opt("127.0.0.1", "interface to bind; 0.0.0.0 exposes the service to the network",
                     pattern=r"[A-Za-z0-9.:\[\]_-]+", pattern_help="a host name or IP address")
    port: int = _opt(8000, "TCP port", min=1, max=65535)


@dataclass(frozen=True)
class BrowserConfig:
    open: bool = _opt(True, "open the web page in the default browser once the server is up")


@dataclass(frozen=True)
class GpuConfig:
    amp: bool = _opt(True, "automatic mixed precision on GPUs that support it")
    cudnn_benchmark: bool = _opt(True, "let cuDNN pick the fastest kernels for the fixed input size")


@dataclass(frozen=True)
class LoggingConfig:
    level: str = _opt("INFO", "console and file log level", choices=LOG_LEVELS)
    file: bool = _opt(True, "also log to <dir>/mlsharp_YYYYMMDD.log (10 MB rotation, 7 days, zipped)")
    dir: str = _opt("logs", "directory of the log files (relative paths: from the app directory)")


@dataclass(frozen=True)
class ModelConfig:
    backend: str = _opt(
        "auto", "auto: SHARP when a checkpoint is present, else the preview; or force sharp/preview",
        choices=("auto", "sharp", "preview"),
    )
    checkpoint: str | None = _opt(
        None, f"SHARP weights; null means model_assets/{CHECKPOINT_NAME}"
    )
    model_config: str | None = _opt(
        None, "model-config JSON for a smaller network of the same architecture (tests, experiments)"
    )
    temp_dir: str = _opt("tmp", "uploads in flight and uncached outputs; emptied at shutdown")
    auto_download: bool = _opt(False, "download the checkpoint at start when it is missing")
    download_url: str = _opt(CHECKPOINT_URL, "where --download-model fetches the checkpoint from")


@dataclass(frozen=True)
class InferenceConfig:
    input_size: tuple[int, int] = _opt(
        (1536, 1536),
        "network input W H; made square, a multiple of 64 in 512..1536 (a warning says what changed)",
        min=1, max=MAX_SANE_INPUT_SIZE,
    )

    @property
    def side(self) -> int:
        return self.input_size[0]


@dataclass(frozen=True)
class CacheConfig:
    enabled: bool = _opt(True, "reuse the .ply of an identical photo + settings + model")
    size: int = _opt(100, "entries kept (least recently used are evicted and their files deleted)",
                     min=1, max=100_000)
    dir: str = _opt("cache", "where cached outputs and their index live (survives restarts)")


@dataclass(frozen=True)
class MonitoringConfig:
    enabled: bool = _opt(True, "expose Prometheus metrics")
    enable_gpu: bool = _opt(True, "read GPU memory/utilisation on each scrape")
    metrics_path: str = _opt("/metrics", "path of the Prometheus endpoint",
                             pattern=r"/[A-Za-z0-9._~/-]*", pattern_help="a URL path starting with /")


@dataclass(frozen=True)
class OptimizationConfig:
    gradient_checkpointing: bool = _opt(
        False, "run the encoder's ViT tiles in batches to lower peak memory (slower)"
    )
    checkpoint_segments: int = _opt(5, "number of batches when gradient_checkpointing is on",
                                    min=1, max=35)


@dataclass(frozen=True)
class PerformanceConfig:
    max_workers: int = _opt(1, "inference worker processes (each holds its own model copy)",
                            min=1, max=64)
    max_concurrency: int = _opt(4, "predictions admitted at once (running + waiting); beyond: 503",
                                min=1, max=10_000)
    timeout_keep_alive: int = _opt(5, "seconds an idle HTTP keep-alive connection is kept",
                                   min=1, max=3600)
    max_requests: int = _opt(0, "predictions a worker process serves before it is recycled (0: never)",
                             min=0, max=10_000_000)
    predict_timeout: float = _opt(600.0, "seconds one prediction may run before it is killed (504)",
                                  min=1.0, max=86_400.0)


@dataclass(frozen=True)
class AutoTuneConfig:
    enabled: bool = _opt(
        False,
        "benchmark precision/TF32/cuDNN combinations at start and keep the fastest within tolerance of fp32 "
        "(remembered per device)",
    )
    test_size: int = _opt(512, "side of the synthetic test photo", min=16, max=8192)
    warmup_runs: int = _opt(1, "untimed runs first", min=0, max=100)
    test_runs: int = _opt(3, "timed runs", min=1, max=100)


@dataclass(frozen=True)
class LimitsConfig:
    max_upload_mb: float = _opt(50.0, "largest request body accepted, checked while it streams (413)",
                                min=0.001, max=10_000.0)
    max_pixels: int = _opt(100_000_000, "largest decoded photo in pixels (decompression bombs: 413)",
                           min=4, max=2_000_000_000)
    rate_limit_per_minute: int = _opt(0, "prediction requests per client per minute (0: unlimited; 429)",
                                      min=0, max=1_000_000)


@dataclass(frozen=True)
class SecurityConfig:
    api_keys: tuple[str, ...] = _opt(
        (), "keys accepted in an X-API-Key header or 'Authorization: Bearer'; empty: no key needed "
        "(MLSHARP_API_KEYS, comma-separated, adds more)",
        pattern=r"[!-~]{16,}", pattern_help="at least 16 printable characters without spaces",
        secret=True,
    )
    protect_metrics: bool = _opt(True, "with API keys set, /metrics needs a key too")
    cors_origins: tuple[str, ...] = _opt(
        (), "origins allowed to call the API from other web pages (CORS); empty: none",
        pattern=r"\*|https?://[^\s/]+", pattern_help="* or an origin like https://example.org",
    )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    mode: str = _opt("auto", "compute device: auto, gpu (any), cpu, nvidia, amd, intel, mps/apple", choices=MODES)
    browser: BrowserConfig = field(default_factory=BrowserConfig)
    gpu: GpuConfig = field(default_factory=GpuConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    optimization: OptimizationConfig = field(default_factory=OptimizationConfig)
    performance: PerformanceConfig = field(default_factory=PerformanceConfig)
    auto_tune: AutoTuneConfig = field(default_factory=AutoTuneConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)

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


# --------------------------------------------------------------------------- validation


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_scalar(key: str, hint: Any, value: Any, meta: dict) -> Any:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if optional:
        if value is None:
            return None
        hint = next(a for a in get_args(hint) if a is not type(None))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_describe(value)}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{key}: expected an integer, got {_describe(value)}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_describe(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {_describe(value)}")
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_describe(value)}")
    else:  # pragma: no cover - a programming error in the schema
        raise TypeError(f"unsupported config type for {key}: {hint}")
    _check_limits(key, value, meta)
    return value


def _check_limits(key: str, value: Any, meta: dict) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {_describe(value)}")
    pattern = meta.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        shown = f"a value of {len(value)} characters" if meta.get("secret") else _describe(value)
        raise ConfigError(f"{key}: must be {meta['pattern_help']}, got {shown}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and value < low:
        raise ConfigError(f"{key}: must be >= {low}, got {_describe(value)}")
    if high is not None and value > high:
        raise ConfigError(f"{key}: must be <= {high}, got {_describe(value)}")


def _check_size_pair(key: str, value: Any, meta: dict) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ConfigError(f"{key}: expected two integers [W, H] or one integer, got {_describe(value)}")
    for v in value:
        _check_limits(key, v, meta)
    return int(value[0]), int(value[1])


def _check_string_list(key: str, value: Any, meta: dict) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        shown = type(value).__name__ if meta.get("secret") else _describe(value)
        raise ConfigError(f"{key}: expected a list of strings, got {shown}")
    for item in value:
        _check_limits(key, item, meta)
    return tuple(value)


def _build(cls: type, data: dict, prefix: str) -> Any:
    if not isinstance(data, dict):
        where = prefix.rstrip(".") or "config"
        raise ConfigError(f"{where}: expected a mapping of keys, got {_describe(data)}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(f"{prefix}{key!r}: keys must be strings")
        if key not in known and not key.startswith("_"):
            valid = ", ".join(known)
            raise ConfigError(f"{prefix}{key}: unknown key (valid keys here: {valid})")
    values = {}
    for name, f in known.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        if name not in data:
            continue
        value = data[name]
        if is_dataclass(hint):
            values[name] = _build(hint, value, key + ".")
        elif get_origin(hint) is tuple and get_args(hint)[-1] is Ellipsis:
            values[name] = _check_string_list(key, value, dict(f.metadata))
        elif get_origin(hint) is tuple:
            values[name] = _check_size_pair(key, value, dict(f.metadata))
        else:
            values[name] = _check_scalar(key, hint, value, dict(f.metadata))
    return cls(**values)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def adjust_input_size(size: tuple[int, int]) -> tuple[tuple[int, int], str | None]:
    """Square, a multiple of 64 in 512..1536; returns the new pair and a warning if it changed."""
    side = snap_input_size(max(size))
    if (side, side) == tuple(size):
        return (side, side), None
    return (side, side), (
        f"inference.input_size {size[0]}x{size[1]} adjusted to {side}x{side} (the network input is "
        f"square, a multiple of {INPUT_SIZE_STEP} between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE})"
    )


def read_config_file(path: str | Path) -> dict:
    """Parse a .yaml/.yml/.json file into a dict, with one-line errors."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{path}: config files must end in .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.__class__.__name__})") from None
    try:
        if suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends; keep it to one line
        first = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def build_config(*layers: dict | tuple[dict, str]) -> tuple[Config, list[str]]:
    """Overlay ``layers`` (later wins) on the defaults and validate; returns warnings to log.

    A layer may be ``(data, source)``: its errors then say where the bad value came from. Each
    layer is validated on its own first, so a mistake is blamed on the file or flag that made it.
    """
    merged: dict = {}
    for layer in layers:
        data, source = layer if isinstance(layer, tuple) else (layer, None)
        try:
            _build(Config, data, "")
        except ConfigError as exc:
            raise ConfigError(f"{exc} (from {source})" if source else str(exc)) from None
        merged = _deep_merge(merged, data)
    config = _build(Config, merged, "")
    warnings = []
    size, note = adjust_input_size(config.inference.input_size)
    if note:
        warnings.append(note)
        config = replace(config, inference=replace(config.inference, input_size=size))
    return config, warnings


def load_config(
    path: str | Path | None = None, overrides: dict | None = None, use_default_file: bool = True
) -> tuple[Config, list[str]]:
    """defaults <- ``path`` (or config.yaml beside app.py when present) <- ``overrides`` (the CLI)."""
    layers: list[tuple[dict, str]] = []
    if path is None and use_default_file and DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
    if path is not None:
        layers.append((read_config_file(path), str(path)))
    layers.append((overrides or {}, "command line"))
    return build_config(*layers)


def config_to_dict(config: Any) -> Any:
    """The plain nested dict of a config (tuples as lists), as written to the shipped files."""
    if is_dataclass(config):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in fields(config)}
    if isinstance(config, tuple):
        return list(config)
    return config


def describe_fields(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, help) for every leaf, in declaration order: the docs' single source."""
    out = []
    hints = get_type_hints(cls)
    for f in fields(cls):
        if is_dataclass(hints[f.name]):
            out.extend(describe_fields(hints[f.name], f"{prefix}{f.name}."))
        else:
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            out.append((f"{prefix}{f.name}", config_to_dict(default), f.metadata.get("help", "")))
    return out


__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_URL",
    "Config",
    "ConfigError",
    "DEFAULT_CONFIG_FILE",
    "REPO_ROOT",
    "adjust_input_size",
    "build_config",
    "config_to_dict",
    "describe_fields",
    "load_config",
    "read_config_file",
]
