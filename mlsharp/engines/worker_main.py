"""Command line of ``python app.py worker`` (see :mod:`mlsharp.engines.dramatiq_worker`).

It reads the same config file as the server, so device, precision, memory-saving mode,
auto-tune, cache and storage settings match; the flags below override them for this worker.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from loguru import logger

_DEVICE_MODES = {"cpu": "cpu", "cuda": "nvidia", "mps": "mps"}


def build_parser(prog: str = "app.py worker") -> argparse.ArgumentParser:
    """The server's own flags (same config, device, precision, Redis and storage options) plus the
    worker's; flags that only concern a web server (port, browser) are accepted and unused."""
    from mlsharp.cli import build_parser as server_parser

    parser = server_parser(prog)
    parser.description = ("Run prediction jobs from Redis (jobs.engine: dramatiq). Start one per GPU; "
                          "they share one Redis and one result store.")
    parser.epilog = None
    parser.add_argument("--device", metavar="DEV",
                        help="cpu, cuda, cuda:N (only GPU N is visible: one worker per GPU) or mps; sets --mode")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve this worker's Prometheus metrics on PORT (default: none)")
    parser.add_argument("--metrics-host", default="127.0.0.1", help="interface of the metrics port")
    parser.add_argument("--grace", type=float, default=30.0, metavar="S",
                        help="on SIGTERM, seconds to finish the current job (default 30)")
    return parser


def _device_mode(device: str) -> str:
    """``cuda:N`` -> only GPU N is visible to this process (set before torch loads)."""
    kind, _, index = device.partition(":")
    if kind not in _DEVICE_MODES or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"--device must be cpu, cuda, cuda:N or mps, got {device!r}")
    if index:
        os.environ["CUDA_VISIBLE_DEVICES"] = index
    return _DEVICE_MODES[kind]


def _overrides(args: argparse.Namespace) -> dict:
    from mlsharp.cli import overrides_from_args

    out = overrides_from_args(args)
    if args.device:
        out["mode"] = _device_mode(args.device)
    return out


def _load_backend(config: Any) -> Any:
    """Build the backend in this process, as a pool worker would; returns its spec."""
    from mlsharp import worker
    from mlsharp.model_manager import ModelManager

    models = ModelManager(config)  # the recipe; init_worker detects the device and completes it
    worker.init_worker(models.spec)
    report = worker.ping()
    if report["device_error"]:  # a forced --mode/--device that is not there: no fallback
        raise RuntimeError(report["error"])
    if not report["loaded"] and not models.spec.is_preview and config.model.backend != "sharp":
        logger.error("SHARP could not be loaded ({}); this worker runs the preview backend", report["error"])
        worker.init_worker(models._preview_spec())
        report = worker.ping()
    if not report["loaded"]:
        raise RuntimeError(f"the {report['backend']} backend could not be loaded: {report['error']}")
    if config.auto_tune.enabled and not models.spec.is_preview:
        tune = config.auto_tune
        result = worker.auto_tune(tune.test_size, config.inference.side, tune.warmup_runs, tune.test_runs,
                                  str(config.path(config.cache.dir) / "autotune.json"))
        worker.adopt_precision(result["precision"])
        logger.info("auto-tune chose {} ({})", result.get("choice"), result["precision"])
    _, spec = worker.loaded()
    return spec, spec.device or "cpu"


def main(argv: list[str], prog: str = "app.py worker") -> int:
    from logger import setup_logging
    from mlsharp.config import ConfigError, load_config
    from mlsharp.engines.cluster import redis_problem, settings_from
    from mlsharp.engines.dramatiq_worker import serve
    from mlsharp.engines.worker_metrics import WorkerMetrics

    args = build_parser(prog).parse_args(argv)
    try:
        config, warnings = load_config(args.config, _overrides(args))
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.logging.level, config.logging.file, config.path(config.logging.dir))
    for warning in warnings:
        logger.warning(warning)
    settings = settings_from(config)
    problem = redis_problem(settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        spec, device = _load_backend(config)
    except Exception as exc:  # noqa: BLE001 - one line, exit 2, as the server does
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    metrics = WorkerMetrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_host)
    info = {"backend": spec.name, "model_id": spec.identity, "device": args.device or device,
            "metrics_port": args.metrics_port}
    logger.info("worker ready: backend {} on {}", spec.name, info["device"])
    try:
        return serve(settings, info, metrics, grace_s=args.grace)
    except Exception as exc:  # noqa: BLE001 - e.g. Redis unreachable at start
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
