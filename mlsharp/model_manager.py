"""Which backend serves predictions, and the worker pool that runs it.

Decision (made in the server process, which never imports torch: the workers detect the device,
choose the precision and report both back, see :meth:`ModelManager.start`):

1. ``model.backend: preview`` -> preview.
2. Otherwise SHARP if the checkpoint exists (``model.checkpoint`` or
   ``model_assets/sharp_2572gikvuh.pt``), optionally after ``model.auto_download``.
3. Otherwise, or when the workers cannot load SHARP: preview, with the reason logged loudly and
   reported by ``/api/health``. With ``model.backend: sharp`` a failure to load is fatal instead --
   the user asked for the real model explicitly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loguru import logger

from mlsharp.backends import preview as preview_backend
from mlsharp.backends import sharp as sharp_backend
from mlsharp.backends.base import BackendSpec, BackendUnavailable
from mlsharp.config import Config
from mlsharp.pool import WorkerPool
from mlsharp.reported_device import ReportedDevice
from mlsharp.worker import apply_tuning, auto_tune

HOW_TO_GET_MODEL = (
    "Download Apple's SHARP checkpoint (2.8 GB) with `python app.py --download-model`, then restart."
)
PREVIEW_MESSAGE = (
    "Preview backend: a quick depth-prior approximation of the photo, not SHARP. " + HOW_TO_GET_MODEL
)
WARM_UP_TIMEOUT = 900.0  # loading 2.8 GB from a slow disk can take minutes


@dataclass
class BackendStatus:
    name: str
    identity: str
    device: str
    model_loaded: bool = False
    reason: str | None = None  # why the preview is used, when it is
    load_seconds: float | None = None
    auto_tune: dict | None = None

    @property
    def preview(self) -> bool:
        return self.name == "preview"


class ModelManager:
    """Chooses the backend, starts its workers and keeps what they report (device, precision, load
    time) for ``/api/health``, without importing torch here."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.gpu = ReportedDevice()
        self.pool: WorkerPool | None = None  # published once its workers have loaded and reported
        self._warming: WorkerPool | None = None
        spec, reason = self.choose_spec()
        self.spec = spec
        self.status = BackendStatus(spec.name, spec.identity, "cpu", reason=reason)

    @property
    def device(self) -> str:
        """Where the network computes, as the workers reported it (``cpu`` until they have)."""
        return self.gpu.device

    # ------------------------------------------------------------------ decision

    def _preview_spec(self) -> BackendSpec:
        return BackendSpec(name="preview", identity=preview_backend.IDENTITY, device="cpu", mode=self.config.mode)

    def choose_spec(self) -> tuple[BackendSpec, str | None]:
        cfg = self.config
        if cfg.model.backend == "preview":
            return self._preview_spec(), "model.backend is set to preview"
        checkpoint = cfg.checkpoint_path
        model_config = cfg.path(cfg.model.network_config) if cfg.model.network_config else None
        reason = sharp_backend.unavailable_reason(checkpoint, model_config)
        if reason is not None:
            if cfg.model.backend == "sharp":
                raise BackendUnavailable(f"model.backend is sharp but {reason}")
            return self._preview_spec(), reason
        options = sharp_backend.options_for(cfg, "fp32")  # the workers set the device's precision
        spec = BackendSpec(
            name="sharp",
            # provisional (fp32 numerics): the workers name the identity of what they really run
            identity=sharp_backend.identity(checkpoint, model_config, sharp_backend.numerics(options)),
            device=None,  # chosen by the workers from the mode
            checkpoint=str(checkpoint),
            model_config=str(model_config) if model_config else None,
            options=options,
            onnx_dir=str(cfg.path(cfg.model.onnx_dir)),
            mode=cfg.mode,
            amp=cfg.gpu.amp,
            cudnn_benchmark=cfg.gpu.cudnn_benchmark,
        )
        return spec, None

    def refresh_choice(self) -> None:
        """Re-decide (e.g. after an automatic download put the checkpoint in place)."""
        spec, reason = self.choose_spec()
        self.spec = spec
        self.status = BackendStatus(spec.name, spec.identity, "cpu", reason=reason)

    # ------------------------------------------------------------------ lifecycle

    def _new_pool(self) -> WorkerPool:
        perf = self.config.performance
        return WorkerPool(self.spec, workers=perf.max_workers, max_tasks_per_child=perf.max_requests or None)

    async def _auto_download(self) -> None:
        cfg = self.config
        target = cfg.checkpoint_path
        if not cfg.model.auto_download or cfg.model.backend == "preview" or target.exists():
            return
        from mlsharp.download import DownloadError, download

        logger.info("model.auto_download: fetching {} -> {}", cfg.model.download_url, target)
        try:
            await asyncio.to_thread(download, cfg.model.download_url, target)
        except DownloadError as exc:
            logger.error("automatic model download failed: {}", exc)
            return
        self.refresh_choice()

    async def _warm_up(self) -> list[dict]:
        self._warming = self._new_pool()
        return await self._warming.warm_up(timeout=WARM_UP_TIMEOUT)

    def _drop_warming(self) -> None:
        pool, self._warming = self._warming, None
        if pool is not None:
            pool.shutdown()

    def _adopt(self, report: dict) -> None:
        """Take the workers' word for the device, precision and identity; later workers (after a
        crash or ``max_requests``) start from the completed recipe, so they compute the same way."""
        self.spec = report["spec"]
        self.gpu.adopt(report)
        self.status.identity, self.status.device = self.spec.identity, self.gpu.device
        assert self._warming is not None
        self._warming.spec = self.spec
        self.pool, self._warming = self._warming, None

    async def start(self) -> None:
        await self._auto_download()
        reports = await self._warm_up()
        failed = [r for r in reports if not r["loaded"]]
        if any(r.get("device_error") for r in failed):  # a forced --mode without its device: fatal
            self._drop_warming()
            raise BackendUnavailable(next(r["error"] for r in failed if r.get("device_error")))
        if failed and not self.spec.is_preview:
            error = failed[0]["error"]
            self._drop_warming()
            if self.config.model.backend == "sharp":
                raise BackendUnavailable(f"SHARP could not be loaded: {error}")
            logger.error("SHARP could not be loaded ({}); falling back to the preview backend", error)
            self.spec = self._preview_spec()
            self.status = BackendStatus("preview", self.spec.identity, "cpu",
                                        reason=f"SHARP failed to load: {error}")
            reports = await self._warm_up()
            failed = [r for r in reports if not r["loaded"]]
        if failed:
            self._drop_warming()
            raise BackendUnavailable(f"the {self.spec.name} backend could not be loaded: {failed[0]['error']}")
        self._adopt(reports[0])
        self.status.model_loaded = True
        self.status.load_seconds = max(r["load_seconds"] for r in reports)
        self._announce()
        if self.config.auto_tune.enabled:
            await self._auto_tune()

    async def _auto_tune(self) -> None:
        tune = self.config.auto_tune
        assert self.pool is not None
        result = await self.pool.run(
            auto_tune, tune.test_size, self.config.inference.side, tune.warmup_runs, tune.test_runs,
            str(self.config.path(self.config.cache.dir) / "autotune.json"),
        )
        self.status.auto_tune = result
        await self._adopt_tuning(result)
        logger.info(
            "auto-tune: {} backend, {}x{} test photo at input {}: chose {} ({}), mean {:.3f} s over {} runs",
            self.spec.name, tune.test_size, tune.test_size, result["input_size"], result.get("choice"),
            "remembered" if result.get("from_cache") else "measured", result["mean_s"] or 0.0, result["runs"],
        )

    async def _adopt_tuning(self, result: dict) -> None:
        """Every worker, present and future, computes the way the tuning chose.

        The tuning ran in one worker; the others are switched in place (no reload), workers started
        later (after a crash or ``max_requests``) get the choice through the pool's spec, and the
        cache identity follows the precision so results of another arithmetic are never reused.
        """
        spec = self.spec
        if spec.is_preview or self.pool is None:
            return
        switches = result["switches"]
        from sharpnet.options import InferenceOptions

        options = (InferenceOptions(**result["options"]) if result.get("options")
                   else replace(spec.options, precision=result.get("precision", spec.precision)))
        tuned = replace(spec, amp=bool(switches["amp"]), tf32=bool(switches["tf32"]),
                        cudnn_benchmark=bool(switches["cudnn_benchmark"]), options=options)
        if tuned == spec:
            return
        if sharp_backend.numerics(tuned.options) != sharp_backend.numerics(spec.options):
            model_config = Path(spec.model_config) if spec.model_config else None
            tuned = replace(tuned, identity=sharp_backend.identity(Path(spec.checkpoint), model_config,
                                                                   sharp_backend.numerics(tuned.options)))
        self.pool.spec = tuned
        await self.pool.broadcast(apply_tuning, switches)
        self.spec = tuned
        self.status.identity = tuned.identity

    def _announce(self) -> None:
        if self.status.preview:
            banner = "!" * 78
            logger.warning(banner)
            logger.warning("RUNNING THE PREVIEW BACKEND -- results are NOT from the SHARP model")
            logger.warning("reason: {}", self.status.reason)
            logger.warning(HOW_TO_GET_MODEL)
            logger.warning(banner)
        else:
            logger.info(
                "SHARP backend ready on {} ({} worker(s), loaded in {:.1f} s, model {})",
                self.gpu.described or self.device, self.config.performance.max_workers,
                self.status.load_seconds or 0.0, self.spec.identity,
            )

    async def stop(self, grace: float = 5.0) -> None:
        if self._warming is not None:  # stopped while starting (e.g. Ctrl+C during the warm-up)
            pool, self._warming = self._warming, None
            await asyncio.to_thread(pool.shutdown, grace)
        if self.pool is not None:
            pool, self.pool = self.pool, None
            await asyncio.to_thread(pool.shutdown, grace)
            self.status.model_loaded = False

    def describe(self) -> dict[str, Any]:
        status = self.status
        return {
            "backend": status.name,
            "preview": status.preview,
            "device": status.device if not status.preview else "cpu",
            "model_loaded": status.model_loaded,
            "model_id": status.identity,
            "reason": status.reason,
            "message": PREVIEW_MESSAGE if status.preview else None,
        }


__all__ = ["BackendStatus", "HOW_TO_GET_MODEL", "ModelManager", "PREVIEW_MESSAGE"]
