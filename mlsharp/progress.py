"""How far a job is and how long it still needs, from how long recent jobs took.

The page wants a percentage and an ETA, but the network's forward gives no progress of its own;
what the service does know is how long its recent jobs spent in each stage. :class:`StageTimings`
keeps a small rolling record per (backend, input side) of each finished, computed job's stage
durations -- ``loading`` (read + decode: ``timings.image_load``), ``inference`` and ``saving``
(``ply_save``) -- in memory, and :func:`estimate` places a running job on that timeline:

* expected stage durations are the medians of the last :data:`KEEP` jobs at that side; a side
  never measured is scaled from the nearest measured one of the same backend (inference and
  saving grow with the square of the side, as the number of Gaussians does; loading does not);
* a progressive job's ``drafting`` stage is the draft side's inference + saving, then the
  requested side's inference and saving follow (``draft`` counts as the start of that inference);
* ``progress`` = expected time done / expected total, capped below 1 while running; ``eta_s`` =
  what is left of the current stage plus the stages after it. A stage that runs longer than
  measured leaves only the later stages in ``eta_s`` (a lower bound, never negative);
* both are ``None`` when nothing was measured for the backend yet, or while the job is queued
  (its wait depends on the queue, not on these timings); a finished job is 1.0 and 0.

Cache hits are not recorded (they computed nothing). The record is per process: another API
server of a cluster keeps its own.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

KEEP = 8  # recent jobs per (backend, side): enough for a stable median, quick to follow a change
STAGES = ("loading", "inference", "saving")
_FROM_TIMINGS = {"loading": "image_load", "inference": "inference", "saving": "ply_save"}
_SCALES = {"loading": False, "inference": True, "saving": True}  # grows with side**2
MAX_RUNNING_PROGRESS = 0.99


@dataclass(frozen=True)
class JobPlan:
    """What a job will compute: on which backend, at which side, with which draft side (or none)."""

    backend: str
    side: int
    draft_side: int | None = None


class StageTimings:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._runs: dict[tuple[str, int], deque[dict[str, float]]] = {}
        self._lock = threading.Lock()

    def record(self, result: dict[str, Any]) -> None:
        """A finished job's answer (cache hits and answers without timings are ignored)."""
        timings = result.get("timings") or {}
        if result.get("cache_hit") or not all(isinstance(timings.get(k), (int, float)) for k in _FROM_TIMINGS.values()):
            return
        run = {stage: max(0.0, float(timings[key])) for stage, key in _FROM_TIMINGS.items()}
        key = (str(result.get("backend")), int(result.get("input_size") or 0))
        with self._lock:
            self._runs.setdefault(key, deque(maxlen=self.keep)).append(run)

    def expected(self, backend: str, side: int) -> dict[str, float] | None:
        """Median stage durations at ``side``, scaled from the nearest measured side if need be."""
        with self._lock:
            measured = {s: list(runs) for (b, s), runs in self._runs.items() if b == backend and runs}
        if not measured:
            return None
        nearest = min(measured, key=lambda s: (abs(s - side), s))
        ratio = (side / nearest) ** 2 if nearest else 1.0
        return {stage: statistics.median(run[stage] for run in measured[nearest]) * (ratio if _SCALES[stage] else 1.0)
                for stage in STAGES}


def _timeline(timings: StageTimings, plan: JobPlan) -> list[tuple[str, float]] | None:
    """The job's stages in order with their expected seconds."""
    full = timings.expected(plan.backend, plan.side)
    if full is None:
        return None
    steps = [("loading", full["loading"])]
    if plan.draft_side:
        draft = timings.expected(plan.backend, plan.draft_side)
        assert draft is not None  # the same backend was measured
        steps.append(("drafting", draft["inference"] + draft["saving"]))
    return [*steps, ("inference", full["inference"]), ("saving", full["saving"])]


def estimate(snapshot: dict[str, Any], plan: JobPlan | None, timings: StageTimings) -> dict[str, float | None]:
    """``{"progress": 0..1 or None, "eta_s": seconds or None}`` for a job's snapshot."""
    state = snapshot.get("state")
    if state == "done":
        return {"progress": 1.0, "eta_s": 0.0}
    if state != "running" or plan is None:
        return {"progress": None, "eta_s": None}
    steps = _timeline(timings, plan)
    if steps is None:
        return {"progress": None, "eta_s": None}
    stage = "inference" if snapshot.get("stage") == "draft" else snapshot.get("stage")
    names = [name for name, _ in steps]
    if stage not in names:
        return {"progress": None, "eta_s": None}
    here = names.index(stage)
    in_stage = max(0.0, float(snapshot.get("stage_elapsed_s") or 0.0))
    current = steps[here][1]
    before = sum(seconds for _, seconds in steps[:here])
    after = sum(seconds for _, seconds in steps[here + 1:])
    total = before + current + after
    progress = (before + min(in_stage, current)) / total if total > 0 else 0.0
    return {"progress": round(min(progress, MAX_RUNNING_PROGRESS), 4),
            "eta_s": round(max(0.0, current - in_stage) + after, 3)}
