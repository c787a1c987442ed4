"""The sections of the service's configuration: one frozen pydantic model per top-level key.

Kept apart from :mod:`mlsharp.config` (which composes them into ``Config`` and owns the layering
of defaults, file, environment and command line) because the declarations are what changes when a
key is added, while the precedence rules almost never do. Each field is declared with :func:`opt`,
so its help text and limits live in one place that validation, the shipped ``config.yaml`` /
``config.json``, ``--help`` and the environment variables all read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlsharp.config_errors import fields_by_key
from sharpnet.config import CHECKPOINT_NAME
from sharpnet.config import MAX_REQUEST_SIDE as MAX_SANE_INPUT_SIZE

CHECKPOINT_URL = "https://ml-site.cdn-apple.com/models/sharp/sharp_2572gikvuh.pt"
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
Side = Annotated[int, Field(ge=1, le=MAX_SANE_INPUT_SIZE)]
API_KEY_PATTERN = r"[!-~]{16,}"  # at least 16 printable ASCII characters, no spaces


def opt(default: Any, help: str, *, pattern_help: str | None = None, secret: bool = False,
        pair: bool = False, **limits: Any) -> Any:
    """A field with its documentation and limits (pydantic's ``ge``, ``le``, ``pattern``, ...).

    ``pattern_help`` words a pattern for humans; ``secret`` keeps the value out of error messages;
    ``pair`` accepts one integer for a ``[W, H]`` pair of equal sides.
    """
    extra = {key: value for key, value in
             (("pattern_help", pattern_help), ("secret", secret), ("pair", pair)) if value}
    return Field(default, description=help, json_schema_extra=extra or None, **limits)


class Section(BaseModel):
    """Base of every section: frozen, strict types, unknown keys refused, ``_keys`` are comments."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False,
                              protected_namespaces=())

    @model_validator(mode="before")
    @classmethod
    def _plain_values(cls, data: Any) -> Any:
        """Drop comments; YAML/JSON lists become tuples; 5.0 is an integer; one int is a [W, H] pair."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith("_"):
                continue
            info = fields_by_key(cls).get(key) if isinstance(key, str) else None
            if info is not None:
                extra = info.json_schema_extra or {}
                if isinstance(value, list):
                    value = tuple(value)
                elif info.annotation is int and isinstance(value, float) and value.is_integer():
                    value = int(value)
                elif extra.get("pair") and isinstance(value, int) and not isinstance(value, bool):
                    value = (value, value)
            out[key] = value
        return out


class ServerConfig(Section):
    host: str = opt("127.0.0.1", "interface to bind; 0.0.0.0 exposes the service to the network",
                     pattern=r"[A-Za-z0-9.:\[\]_-]+", pattern_help="a host name or IP address")
    port: int = opt(8000, "TCP port", ge=1, le=65535)
    root_path: str = opt("", "path prefix when served behind a reverse proxy under a sub-path (e.g. /mlsharp); "
                         "a proxy's X-Forwarded-Prefix header overrides it per request",
                         pattern=r"(/[A-Za-z0-9._~-]+)*", pattern_help="empty or a path like /mlsharp")


class BrowserConfig(Section):
    open: bool = opt(True, "open the web page in the default browser once the server is up")


class GpuConfig(Section):
    amp: bool = opt(True, "automatic mixed precision on GPUs that support it")
    cudnn_benchmark: bool = opt(True, "let cuDNN pick the fastest kernels for the fixed input size")


class LoggingConfig(Section):
    level: Literal[LOG_LEVELS] = opt("INFO", "console and file log level")
    file: bool = opt(True, "also log to <dir>/mlsharp_YYYYMMDD.log (10 MB rotation, 7 days, zipped)")
    dir: str = opt("logs", "directory of the log files (relative paths: from the app directory)")


class ModelConfig(Section):
    backend: Literal["auto", "sharp", "preview"] = opt(
        "auto", "auto: SHARP when a checkpoint is present, else the preview; or force sharp/preview",
    )
    checkpoint: str | None = opt(
        None, f"SHARP weights; null means model_assets/{CHECKPOINT_NAME}"
    )
    # ``model_config`` is pydantic's own attribute name: the key keeps its name in files and env.
    network_config: str | None = opt(
        None, "model-config JSON for a smaller network of the same architecture (tests, experiments)",
        alias="model_config",
    )
    temp_dir: str = opt("tmp", "uploads in flight and uncached outputs; emptied at shutdown")
    auto_download: bool = opt(False, "download the checkpoint at start when it is missing")
    download_url: str = opt(CHECKPOINT_URL, "where --download-model fetches the checkpoint from")
    runtime: Literal["torch", "onnxruntime"] = opt(
        "torch", "torch, or onnxruntime: the ONNX export run on the best execution provider installed"
    )
    onnx_dir: str = opt("model_assets/onnx", "where the onnxruntime runtime keeps its exports (one per input side)")


class InferenceConfig(Section):
    input_size: tuple[Side, Side] = opt(
        (1536, 1536),
        "network input W H; made square, a multiple of 64 in 512..1536 (a warning says what changed)",
        pair=True,
    )
    max_gaussians: int | None = opt(
        None, "default scene density of the page and its downloads: at most this many Gaussians "
        "(the most important from the photo's view; null: all)", ge=1, le=100_000_000,
    )

    @property
    def side(self) -> int:
        return self.input_size[0]


class CacheConfig(Section):
    enabled: bool = opt(True, "reuse the .ply of an identical photo + settings + model")
    size: int = opt(100, "entries kept (least recently used are evicted and their files deleted)",
                     ge=1, le=100_000)
    dir: str = opt("cache", "where cached outputs and their index live (survives restarts)")


class MonitoringConfig(Section):
    enabled: bool = opt(True, "expose Prometheus metrics")
    enable_gpu: bool = opt(True, "read GPU memory/utilisation on each scrape")
    metrics_path: str = opt("/metrics", "path of the Prometheus endpoint",
                             pattern=r"/[A-Za-z0-9._~/-]*", pattern_help="a URL path starting with /")


class OptimizationConfig(Section):
    gradient_checkpointing: bool = opt(
        False, "run the encoder's ViT tiles in batches to lower peak memory (slower)"
    )
    checkpoint_segments: int = opt(5, "number of batches when gradient_checkpointing is on",
                                    ge=1, le=35)
    enable_quantization: bool = opt(
        False, "int8 weights for the heavy matrix products (torch: the ViT linears, CPU only; "
        "onnxruntime: every MatMul); within auto-tune's tolerance, not bit-identical"
    )
    quantization_mode: Literal["dynamic"] = opt(
        "dynamic", "how activations are quantized: dynamic (per call, no calibration data needed)"
    )
    channels_last: bool = opt(False, "NHWC memory layout for the convolution decoders (faster on some GPUs)")
    compile: bool = opt(False, "torch.compile the network (the first prediction pays the compilation)")
    progressive: bool | None = opt(
        None, "jobs publish a quick draft scene at progressive_size first, then the requested size "
        "replaces it; null: on when the device is a CPU (not for the instant preview backend), off on GPUs"
    )
    progressive_size: int = opt(512, "input side of the draft scene of a progressive job", ge=512, le=1536)
    dynamic_input_size: bool = opt(
        False, "choose each photo's input side: never above what its resolution supports, within "
        "time_budget_s of auto-tune's timings (the response says which side and why)"
    )
    min_input_size: int = opt(512, "smallest side dynamic_input_size may choose", ge=512, le=1536)
    max_input_size: int = opt(1536, "largest side dynamic_input_size may choose", ge=512, le=1536)
    time_budget_s: float = opt(
        0.0, "seconds one forward may take when dynamic_input_size chooses (0: no budget)", ge=0.0, le=86_400.0
    )
    max_batch_size: int = opt(
        1, "photos of the same input side that one worker computes in one forward when they are waiting for it (1: one at a time)", ge=1, le=64
    )


class PerformanceConfig(Section):
    max_workers: int = opt(1, "inference worker processes (each holds its own model copy)",
                            ge=1, le=64)
    max_concurrency: int = opt(4, "predictions admitted at once (running + waiting); beyond: 503",
                                ge=1, le=10_000)
    timeout_keep_alive: int = opt(5, "seconds an idle HTTP keep-alive connection is kept",
                                   ge=1, le=3600)
    max_requests: int = opt(0, "predictions a worker process serves before it is recycled (0: never)",
                             ge=0, le=10_000_000)
    predict_timeout: float = opt(600.0, "seconds one prediction may run before it is killed (504)",
                                  ge=1.0, le=86_400.0)


class AutoTuneConfig(Section):
    enabled: bool = opt(
        False,
        "benchmark precision/TF32/cuDNN combinations at start and keep the fastest within tolerance of fp32 "
        "(remembered per device)",
    )
    test_size: int = opt(512, "side of the synthetic test photo", ge=16, le=8192)
    warmup_runs: int = opt(1, "untimed runs first", ge=0, le=100)
    test_runs: int = opt(3, "timed runs", ge=1, le=100)


class LimitsConfig(Section):
    max_upload_mb: float = opt(50.0, "largest request body accepted, checked while it streams (413)",
                                ge=0.001, le=10_000.0)
    max_pixels: int = opt(100_000_000, "largest decoded photo in pixels (decompression bombs: 413)",
                           ge=4, le=2_000_000_000)
    rate_limit_per_minute: int = opt(
        0, "prediction requests per caller per minute (the credential's owner, else the client address; "
        "0: unlimited; 429)", ge=0, le=1_000_000)
    max_queued_per_caller: int = opt(0, "unfinished jobs one caller may have at once (0: unlimited; 429)",
                                     ge=0, le=1_000_000)
    max_header_kb: int = opt(32, "largest request head (request line + headers) in KB (431)",
                             ge=1, le=1024)
    max_header_lines: int = opt(100, "most header lines in one request (431)",
                                ge=8, le=10_000)
    header_timeout: float = opt(10.0, "seconds a connection may take to send a complete request head (408)",
                                ge=0.5, le=600.0)
    body_timeout: float = opt(20.0, "seconds an upload may pause without sending a byte (408)",
                              ge=0.5, le=3600.0)
    min_upload_kbps: float = opt(
        2.0, "slowest average upload accepted once body_timeout has passed, in KB/s (408; 0: any)",
        ge=0.0, le=1_000_000.0)


class SecurityConfig(Section):
    api_keys: tuple[Annotated[str, Field(pattern=API_KEY_PATTERN)], ...] = opt(
        (), "keys accepted in an X-API-Key header or 'Authorization: Bearer'; empty: no key needed "
        "(MLSHARP_API_KEYS, comma-separated, adds more)",
        pattern_help="at least 16 printable characters without spaces",
        secret=True,
    )
    protect_metrics: bool = opt(True, "with API keys set, /metrics needs a key too")
    cors_origins: tuple[Annotated[str, Field(pattern=r"\*|https?://[^\s/]+")], ...] = opt(
        (), "origins allowed to call the API from other web pages (CORS); empty: none",
        pattern_help="* or an origin like https://example.org",
    )
    allowed_hosts: tuple[Annotated[str, Field(pattern=r"\*|[A-Za-z0-9.:_-]+")], ...] = opt(
        (), "extra Host names this server answers to (besides the bound name and localhost); * for any",
        pattern_help="* or a host name",
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                           "PS256", "PS384", "PS512"] = opt("HS256", "algorithm JWT bearer tokens must be signed with")
    jwt_secret: str | None = opt(
        None, "shared secret of HS* tokens, at least 32 bytes (MLSHARP_JWT_SECRET also sets it); "
        "with it or jwt_public_key set, JWT bearer tokens are accepted", secret=True)
    jwt_public_key: str | None = opt(None, "PEM public key (text or file path) of RS*/ES*/PS* tokens")
    jwt_audience: str | None = opt(None, "required 'aud' claim (null: tokens must carry none)")
    jwt_issuer: str | None = opt(None, "required 'iss' claim (null: not checked)")
    jwt_leeway_s: float = opt(30.0, "clock skew tolerated on exp/nbf/iat, seconds", ge=0.0, le=3600.0)


class WebhooksConfig(Section):
    secret: str | None = opt(
        None, "HMAC-SHA256 key signing webhook deliveries (MLSHARP_WEBHOOK_SECRET also sets it); "
        "webhook_url is refused without one", secret=True)
    allow_private: bool = opt(False, "let webhooks reach loopback/private/link-local addresses (SSRF guard off)")
    max_attempts: int = opt(5, "delivery attempts before giving up", ge=1, le=50)
    backoff_s: float = opt(2.0, "wait before the 2nd attempt; doubles each time (capped at 300 s)",
                           ge=0.0, le=3600.0)
    timeout_s: float = opt(10.0, "seconds one delivery attempt may take", ge=0.1, le=300.0)


class BatchConfig(Section):
    max_files: int = opt(100, "photos per batch, zip members included (413 past it)", ge=1, le=100_000)
    max_total_mb: float = opt(500.0, "bytes per batch request, and unpacked photos of an uploaded zip (413)",
                              ge=0.001, le=100_000.0)


class JobsConfig(Section):
    engine: Literal["local", "dramatiq"] = opt(
        "local", "local: this machine's worker pool; dramatiq: a Redis queue served by "
        "`python app.py worker` processes on any machine")
    redis_url: str | None = opt(None, "dramatiq broker and shared state; null: $MLSHARP_REDIS_URL, "
                                "else redis://127.0.0.1:6379/0", secret=True)
    max_queue: int = opt(64, "dramatiq: jobs waiting or running in the whole cluster before 503",
                         ge=1, le=1_000_000)
    max_attempts: int = opt(3, "dramatiq: starts of one job (worker deaths and retries together) "
                            "before it fails and is dead-lettered", ge=1, le=100)
    time_limit_s: float = opt(600.0, "dramatiq: seconds one job may run (504, never retried)",
                              ge=1.0, le=86_400.0)
    heartbeat_timeout_s: float = opt(15.0, "dramatiq: a worker silent this long counts as dead and "
                                     "its job is requeued", ge=1.0, le=3600.0)


class StorageConfig(Section):
    results: str | None = opt(None, "where finished scenes live with the dramatiq engine: a folder "
                              "(shared by every machine, e.g. NFS) or s3://bucket/prefix; null: cache.dir")
    inflight: str | None = opt(None, "photos of unfinished jobs (folder or s3://...); null: <results>/inflight")
    s3_endpoint_url: str | None = opt(None, "S3-compatible endpoint (MinIO, Ceph, ...); null: AWS or "
                                      "$AWS_ENDPOINT_URL_S3; credentials come from the AWS_* environment")
    s3_region: str | None = opt(None, "S3 region; null: boto3's default")
    downloads: Literal["stream", "redirect"] = opt(
        "stream", "stream: the API relays the file; redirect: 307 to a presigned S3 URL")
    presign_expiry_s: int = opt(600, "lifetime of a presigned download URL in seconds", ge=1, le=604_800)
