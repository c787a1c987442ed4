"""MLSharp 3D Maker: ``python app.py`` serves the web page and API; ``python app.py predict`` runs headless.

Importing this module does nothing but define things: worker processes (spawn start method)
re-import it, and tests build as many apps as they like through :func:`create_app`. Heavy or
stateful imports (torch via gpu_utils, the network) happen inside functions.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import sys
import threading
import time
import uuid
import webbrowser
from contextlib import asynccontextmanager
from pathlib import Path
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from loguru import logger

from mlsharp import __version__
from mlsharp.exports import formats_description
from mlsharp.cli_name import command, program
from mlsharp.config import REPO_ROOT, Config, ConfigError, load_config

STATIC_DIR = REPO_ROOT / "static"
RUN_DIR_PREFIX = "run-"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (never signals it: on Windows os.kill would end it)."""
    if os.name == "nt":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_run_dirs(temp_root: Path) -> int:
    """Delete ``run-<pid>-*`` folders left by servers that are no longer running."""
    removed = 0
    if not temp_root.is_dir():
        return 0
    for path in temp_root.glob(f"{RUN_DIR_PREFIX}*"):
        parts = path.name.split("-")
        if len(parts) >= 3 and parts[1].isdigit() and not _pid_alive(int(parts[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


class MLSharpApp:
    """Owns every component of one service instance and the FastAPI app that exposes them."""

    def __init__(self, config: Config, clear_cache: bool = False) -> None:
        from metrics import MetricsManager
        from mlsharp.cache import ResultCache
        from mlsharp.limits import RateLimiter
        from mlsharp.model_manager import ModelManager
        from mlsharp.security import ApiKeys
        from mlsharp.service import PredictionService

        self.config = config
        # No torch in this process: the workers detect the device and report it (mlsharp.worker).
        self.models = ModelManager(config)
        self.metrics = MetricsManager(self.models.gpu, enable_gpu=config.monitoring.enable_gpu)
        self.rate_limiter = RateLimiter(config.limits.rate_limit_per_minute)
        self.api_keys = ApiKeys.from_config(config)
        self.clear_cache_at_start = clear_cache
        self.temp_root = config.path(config.model.temp_dir)
        self.run_dir = self.temp_root / f"{RUN_DIR_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        from mlsharp.engines import engine_name, make_engine

        parts: dict[str, Any] = {}
        if engine_name(config) == "local":
            parts["cache"] = ResultCache(config.path(config.cache.dir), config.cache.size,
                                         enabled=config.cache.enabled)
            # Outputs kept while the cache is off: temporary, bounded like the cache, gone at shutdown.
            parts["uncached"] = ResultCache(self.run_dir / "outputs", config.cache.size, enabled=True,
                                            persist=False)
        self.engine = make_engine(config, models=self.models, run_dir=self.run_dir,
                                  on_lookup=self.metrics.cache_lookup, **parts)
        # The result indexes: this machine's folders (local engine) or the cluster's, in Redis.
        self.cache = parts.get("cache", self.engine.cache)
        self.uncached = self.engine.uncached
        from mlsharp.engines.cluster_metrics import EngineCollector

        self.metrics.registry.register(EngineCollector(self.engine))
        self.service = PredictionService(config, self.engine, self.metrics, lambda: self.models.spec.identity)
        self.engine.on_finish(self.service.job_finished)
        from mlsharp.tokens import verifier_from_config
        from mlsharp.tracking import Tracking

        self.tokens = verifier_from_config(config.security)
        self.tracking = Tracking.build(config, self.service, self.engine,
                                       enforce=self.api_keys.enabled or self.tokens is not None)
        from mlsharp.batch.service import BatchService

        self.batches = BatchService(config, self.service, self.tracking)
        self.started = time.time()
        self.app = self.create_app()

    # ------------------------------------------------------------------ what the routes ask

    def health(self) -> dict[str, Any]:
        described = self.models.describe()
        engine = self.engine.describe()
        if engine["engine"] == "local":
            status = "ok" if described["model_loaded"] else "starting"
        else:  # the model runs in the workers: ready once one of them is alive
            status = "degraded" if engine["redis"] != "ok" else ("ok" if engine["workers"] else "starting")
            described["model_loaded"] = bool(engine["workers"])
            if engine["workers"]:  # what the workers run, not what this server would pick
                first = engine["workers"][0]
                described.update(backend=first.get("backend", described["backend"]),
                                 model_id=first.get("model_id", described["model_id"]),
                                 device=first.get("device", described["device"]))
                described["preview"] = described["backend"] == "preview"
        return {"status": status, "version": __version__, **described, "formats": formats_description(),
                "max_gaussians": self.config.inference.max_gaussians, "input_size": self.config.inference.side,
                "max_pixels": self.config.limits.max_pixels, "jobs": engine}

    def stats(self) -> dict[str, Any]:
        pool = self.models.pool
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "requests": self.metrics.request_count,
            **self.service.stats(),
            "backend": self.models.status.name,
            "device": self.models.device,
            "worker_restarts": pool.restarts if pool is not None else 0,
            "gpu_memory": self.metrics.refresh_gpu(),
            "auto_tune": self.models.status.auto_tune,
        }

    def cache_stats(self) -> dict[str, Any]:
        return self.cache.stats()

    def clear_cache(self) -> dict[str, Any]:
        cleared = self.cache.clear()
        logger.info("cache cleared ({} entries)", cleared)
        return {"cleared": cleared, "stats": self.cache.stats()}

    # ------------------------------------------------------------------ app

    def create_app(self) -> FastAPI:
        from metrics import HttpMetricsMiddleware
        from mlsharp.http import build_router, install_error_handlers
        from mlsharp.http.proxy import ForwardedPrefixMiddleware
        from mlsharp.guards import install_guards
        from mlsharp.http.docs import install_openapi_security
        from mlsharp.http.static import StaticAssets
        from mlsharp.limits import BodySizeLimitMiddleware

        cfg = self.config
        app = FastAPI(
            title="MLSharp 3D Maker",
            version=__version__,
            description=(
                "Turn one photo into a 3D Gaussian Splatting scene (.ply) with Apple's SHARP model. "
                "Without the checkpoint an embedded preview backend answers, labelled "
                '`"backend": "preview"`.'
            ),
            lifespan=self.lifespan,
            docs_url=None,  # mlsharp.http.docs serves both from the vendored copies (offline)
            redoc_url=None,
        )
        install_openapi_security(app)
        app.state.mlsharp = self
        metrics_path = cfg.monitoring.metrics_path if cfg.monitoring.enabled else None
        assets = StaticAssets(STATIC_DIR)  # the page's files; absent in an API-only checkout (404s)
        app.include_router(build_router(metrics_path, assets))
        app.mount("/static", assets, name="static")
        install_error_handlers(app)
        if cfg.security.cors_origins:
            from fastapi.middleware.cors import CORSMiddleware

            app.add_middleware(
                CORSMiddleware,
                allow_origins=list(cfg.security.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["X-API-Key", "Authorization", "Content-Type"],
            )
        app.add_middleware(BodySizeLimitMiddleware, max_bytes=int(cfg.limits.max_upload_mb * 1e6),
                           larger={"/api/batch": (int(cfg.batch.max_total_mb * 1e6), "Batch")})
        install_guards(app, cfg, assets.page_bytes() or b"")
        app.add_middleware(HttpMetricsMiddleware, metrics=self.metrics, router_owner=app)
        app.add_middleware(ForwardedPrefixMiddleware, root_path=cfg.server.root_path)  # outermost
        return app

    @asynccontextmanager
    async def lifespan(self, app: FastAPI):  # noqa: ANN201 - FastAPI's lifespan protocol
        try:
            await self.startup()
        except BaseException:
            await self.shutdown()  # a failed start leaves no workers or temporary files behind
            raise
        try:
            yield
        finally:
            await self.shutdown()

    async def startup(self) -> None:
        cfg = self.config
        stale = remove_stale_run_dirs(self.temp_root)
        if stale:
            logger.info("removed {} temporary folder(s) left by earlier runs", stale)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        count = await asyncio.to_thread(self.cache.load)
        if self.clear_cache_at_start:
            logger.info("--clear-cache: removed {} cached result(s)", self.cache.clear())
        elif cfg.cache.enabled:
            logger.info("result cache: {} entr{} in {}", count, "y" if count == 1 else "ies", self.cache.directory)
        self.uncached.load()
        await self.engine.start()
        status = self.models.status
        self.service.device = self.models.device  # as the workers reported it (progressive default)
        self.metrics.set_app_info(__version__, status.name, self.models.device, status.identity)
        self.metrics.describe_gpu()
        self.metrics.set_input_size(cfg.inference.side)
        logger.info("MLSharp {} ready: backend {} on {}", __version__, status.name,
                    self.models.describe()["device"])

    async def shutdown(self) -> None:
        await self.engine.stop()
        await self.tracking.stop()
        self.cache.close()
        self.uncached.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        logger.info("MLSharp stopped; temporary files removed")


def create_app(config: Config | None = None, **kwargs: Any) -> FastAPI:
    """The FastAPI app for ``config`` (defaults + config.yaml when omitted)."""
    if config is None:
        config, _ = load_config()
    return MLSharpApp(config, **kwargs).app


# ---------------------------------------------------------------------- command line


def _open_browser_when_up(host: str, port: int, deadline_s: float = 120.0) -> None:
    target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{target}:{port}/"

    def wait_and_open() -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            try:
                with socket.create_connection((target, port), timeout=1.0):
                    break
            except OSError:
                time.sleep(0.25)
        else:
            return
        logger.info("opening {} in the browser", url)
        try:
            webbrowser.open(url)
        except Exception as exc:  # noqa: BLE001 - no browser is not an error
            logger.info("could not open a browser ({}); visit {}", exc, url)

    threading.Thread(target=wait_and_open, name="open-browser", daemon=True).start()


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound, checked before the model is loaded (None: it can)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name != "nt":  # as uvicorn does; on Windows the option would allow stealing a bound port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use (is MLSharp already running?); pick another with --port"
            return f"cannot listen on {host}:{port} ({exc.strerror or exc})"
    return None


def _folder_problem(config: Config) -> str | None:
    """Why the cache or temporary folder cannot be written (full, read-only), checked before the
    model is loaded so it is one line, not a traceback from the middle of start-up."""
    from mlsharp.diskerrors import probe_writable

    for folder in (config.path(config.cache.dir), config.path(config.model.temp_dir)):
        problem = probe_writable(folder)
        if problem:
            return problem
    return None


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _network_invocation(subcommand: str) -> Any:
    """The network package's commands learn from here what they are called and where the weights are."""
    from sharpnet.cli import Invocation

    return Invocation(f"{program()} {subcommand}", Config().checkpoint_path,
                      f"run `{command()} --download-model` or pass --checkpoint PATH")


def _run_predict(argv: list[str]) -> int:
    from sharpnet.cli.predict import main as predict_main

    return int(predict_main(argv, _network_invocation("predict")) or 0)


def _run_export_onnx(argv: list[str]) -> int:
    from sharpnet.cli.export_onnx import main as export_main

    return int(export_main(argv, _network_invocation("export-onnx")) or 0)


def _download_model(config: Config) -> int:
    from mlsharp.download import DownloadError, download

    target = config.checkpoint_path
    if target.is_file():
        print(f"checkpoint already present: {target}")
        return 0
    print(f"downloading {config.model.download_url}\n  -> {target}", flush=True)
    try:
        download(config.model.download_url, target)
    except DownloadError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("download interrupted", 130)
    print(f"saved {target} ({target.stat().st_size / 1e9:.2f} GB); start the service with `{command()}`")
    return 0


def _run_worker(argv: list[str]) -> int:
    from mlsharp.engines.worker_main import main as worker_main

    return worker_main(argv, prog=f"{program()} worker")


# The one dispatch point of ``python app.py SUBCOMMAND`` and the ``mlsharp`` console script: each
# entry takes the remaining arguments and returns the exit status. Serving is the default.
SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "predict": _run_predict,
    "worker": _run_worker,
    "export-onnx": _run_export_onnx,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]

    from logger import setup_logging
    from mlsharp.cli import build_parser, overrides_from_args

    args = build_parser(program()).parse_args(argv)
    try:
        config, warnings = load_config(args.config, overrides_from_args(args))
    except ConfigError as exc:
        return _fail(str(exc))
    setup_logging(config.logging.level, config.logging.file, config.path(config.logging.dir))
    for warning in warnings:
        logger.warning(warning)
    if args.download_model:
        return _download_model(config)

    from mlsharp.backends.base import BackendUnavailable

    host, port = config.server.host, config.server.port
    problem = port_problem(host, port) or _folder_problem(config)
    if problem:
        return _fail(problem)
    try:
        service = MLSharpApp(config, clear_cache=args.clear_cache)
    except (BackendUnavailable, ConfigError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if service.tokens is not None:
        logger.info("JWT bearer tokens ({}) accepted on /api/*", config.security.jwt_algorithm)
    problem = service.engine.preflight()
    if problem:
        return _fail(problem)
    if service.api_keys.enabled:
        logger.info("API keys required on /api/*{} ({} key(s))",
                    " and metrics" if config.security.protect_metrics else "", len(service.api_keys))
    elif service.tokens is None and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("!" * 78)
        logger.warning("listening on {} WITHOUT an API key: anyone who can reach this machine can use", host)
        logger.warning("the service. Set security.api_keys (or MLSHARP_API_KEYS) to require a key.")
        logger.warning("!" * 78)
    if config.browser.open:
        _open_browser_when_up(host, port)

    from mlsharp.serving import serve

    logger.info("serving on http://{}:{}/ (API docs at /docs)", host, port)
    from mlsharp.http_protocol import bounded_protocol, head_limits

    limits = head_limits(config)
    return serve(
        service,
        (BackendUnavailable, ConfigError),
        host=host,
        port=port,
        http=bounded_protocol(limits),  # request head size, line and time limits (431/414/408)
        h11_max_incomplete_event_size=2 * limits.max_head,
        timeout_keep_alive=config.performance.timeout_keep_alive,
        log_config=None,
        access_log=config.logging.level in ("TRACE", "DEBUG"),
    )


if __name__ == "__main__":
    sys.exit(main())
