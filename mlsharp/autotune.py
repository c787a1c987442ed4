"""Start-up auto-tune: time each applicable speed configuration, keep the fastest one whose output
stays within tolerance of the fp32 baseline, and remember that choice per device and software stack.

Model-agnostic on purpose: the caller supplies the candidates, a ``run(candidate) -> output``
callable that applies the candidate and runs one forward, and (optionally) a reference output.
The timer and device synchronisation are injected, so the selection logic is tested with mocked
timings and the real bench just passes ``time.perf_counter`` and ``GPUManager.synchronize``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

SWITCHES = ("amp", "cudnn_benchmark", "tf32", "compile")
# Name, switches wanted. "all" takes every switch the device supports; "compile" is "all" plus
# torch.compile. The others are offered only when all their switches are supported.
STANDARD = (
    ("baseline", ()),
    ("amp", ("amp",)),
    ("cudnn", ("cudnn_benchmark",)),
    ("tf32", ("tf32",)),
    ("amp+cudnn", ("amp", "cudnn_benchmark")),
    ("amp+tf32", ("amp", "tf32")),
    ("all", None),
    ("compile", None),
)
CACHE_VERSION = 1


class AutoTuneError(RuntimeError):
    """No candidate could be chosen (all failed, or none stayed within tolerance)."""


@dataclass(frozen=True)
class Candidate:
    """One configuration to time. ``baseline`` (no switches) is the fp32 eager reference."""

    name: str
    amp: bool = False
    cudnn_benchmark: bool = False
    tf32: bool = False
    compile: bool = False
    fast: str = ""  # further fast paths as InferenceOptions labels spell them: "int8", "ort+int8", ...

    def switches(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in SWITCHES}
        if self.fast:
            out["fast"] = self.fast
        return out


def fast_path_candidates(base: Candidate, paths: Iterable[str]) -> list[Candidate]:
    """``base``'s switches plus each further fast path (int8, channels_last, ort, ort+int8, ...)."""
    return [dataclasses.replace(base, name=path if base.name == "baseline" else f"{base.name}+{path}", fast=path)
            for path in paths]


def standard_candidates(amp: bool = False, cudnn_benchmark: bool = False, tf32: bool = False,
                        compile: bool = False) -> list[Candidate]:
    """The standard list restricted to the switches available here (e.g. ``GPUManager.tuning_capabilities()``).

    Configurations that collapse onto an earlier one (``all`` = ``amp+cudnn`` without TF32) are
    dropped, so nothing is timed twice.
    """
    available = {"amp": amp, "cudnn_benchmark": cudnn_benchmark, "tf32": tf32}
    chosen: list[Candidate] = []
    seen: set[tuple[bool, ...]] = set()
    for name, wanted in STANDARD:
        if name == "compile":
            if not compile:
                continue
            flags = {**available, "compile": True}
        elif wanted is None:
            flags = dict(available)
        elif all(available[w] for w in wanted):
            flags = {w: True for w in wanted}
        else:
            continue
        candidate = Candidate(name, **flags)
        signature = tuple(candidate.switches().values())
        if signature not in seen:
            seen.add(signature)
            chosen.append(candidate)
    return chosen


# ------------------------------------------------------------------------------- comparisons


def _leaves(value: Any) -> list[np.ndarray]:
    """Arrays of a (nested) output: tensors, arrays, numbers, dataclasses, mappings, sequences."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        return [value.detach().float().cpu().numpy()]
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (int, float, np.number, bool)):
        return [np.asarray(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [a for f in dataclasses.fields(value) for a in _leaves(getattr(value, f.name))]
    if isinstance(value, Mapping):
        return [a for k in sorted(value, key=str) for a in _leaves(value[k])]
    if isinstance(value, (list, tuple)):
        return [a for item in value for a in _leaves(item)]
    raise TypeError(f"cannot compare outputs of type {type(value).__name__}; pass close=")


def max_abs_error(a: Any, b: Any) -> float:
    """Largest absolute difference over all arrays of two outputs (inf when their shapes differ)."""
    left, right = _leaves(a), _leaves(b)
    if len(left) != len(right):
        return math.inf
    worst = 0.0
    for x, y in zip(left, right, strict=True):
        if x.shape != y.shape:
            return math.inf
        if x.size:
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            worst = max(worst, float(np.max(diff)) if np.all(np.isfinite(diff)) else math.inf)
    return worst


def allclose(rtol: float, atol: float) -> Callable[[Any, Any], bool]:
    """``close(a, b)``: every element of every array within ``atol + rtol * |b|``; NaN never is."""

    def close(a: Any, b: Any) -> bool:
        left, right = _leaves(a), _leaves(b)
        return len(left) == len(right) and all(
            x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(left, right, strict=True)
        )

    return close


# ---------------------------------------------------------------------------------- results


@dataclass
class Measurement:
    name: str
    switches: dict[str, bool]
    times: list[float] = field(default_factory=list)
    speedup: float | None = None
    max_abs_error: float | None = None
    within_tolerance: bool = False
    error: str | None = None  # the candidate raised (compile unsupported, out of memory, ...)

    @property
    def mean_s(self) -> float | None:
        return sum(self.times) / len(self.times) if self.times else None

    @property
    def ok(self) -> bool:
        return self.error is None and self.within_tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "switches": self.switches, "times": self.times, "mean_s": self.mean_s,
                "speedup": self.speedup, "max_abs_error": self.max_abs_error,
                "within_tolerance": self.within_tolerance, "error": self.error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        return cls(str(data["name"]), dict(data.get("switches", {})), [float(t) for t in data.get("times", [])],
                   data.get("speedup"), data.get("max_abs_error"), bool(data.get("within_tolerance")),
                   data.get("error"))


@dataclass
class TuneResult:
    choice: Candidate
    measurements: list[Measurement]
    from_cache: bool = False
    key: dict[str, Any] = field(default_factory=dict)
    warmup_runs: int = 0
    test_runs: int = 0

    @property
    def speedup(self) -> float | None:
        for m in self.measurements:
            if m.name == self.choice.name:
                return m.speedup
        return None

    def table(self) -> str:
        return format_table(self.measurements, self.choice.name)

    def reason(self) -> str:
        """Why this choice, in one line: what it beat, and what was ruled out and why."""
        chosen = next((m for m in self.measurements if m.name == self.choice.name), None)
        if self.from_cache:
            head = f"'{self.choice.name}' remembered from an earlier measurement on this device"
        else:
            eligible = [m for m in self.measurements if m.ok]
            speed = f", {chosen.speedup:.2f}x the fp32 baseline" if chosen and chosen.speedup else ""
            head = f"'{self.choice.name}' is the fastest of {len(eligible)} within tolerance of fp32{speed}"
        ruled = [f"{m.name}: failed ({m.error})" if m.error else f"{m.name}: outside tolerance"
                 for m in self.measurements if not m.ok]
        return head + (f"; ruled out {', '.join(ruled)}" if ruled else "")

    def to_dict(self) -> dict[str, Any]:
        """For /api/stats and the log."""
        return {"choice": self.choice.name, "switches": self.choice.switches(), "speedup": self.speedup,
                "reason": self.reason(),
                "from_cache": self.from_cache, "warmup_runs": self.warmup_runs, "test_runs": self.test_runs,
                "candidates": [m.to_dict() for m in self.measurements]}


def format_table(measurements: Sequence[Measurement], chosen: str | None = None) -> str:
    rows = [("candidate", "mean s", "speed-up", "max |err|", "result")]
    for m in measurements:
        mean = f"{m.mean_s:.4f}" if m.mean_s is not None else "-"
        speed = f"{m.speedup:.2f}x" if m.speedup is not None else "-"
        err = "-" if m.max_abs_error is None else ("inf" if math.isinf(m.max_abs_error) else f"{m.max_abs_error:.2e}")
        if m.error is not None:
            verdict = f"failed: {m.error}"
        elif not m.within_tolerance:
            verdict = "outside tolerance"
        else:
            verdict = "ok"
        if m.name == chosen:
            verdict += "  <- chosen"
        rows.append((m.name, mean, speed, err, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(4)) + "  " + r[4]
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


# ------------------------------------------------------------------------------------- cache


def cache_key(key: Mapping[str, Any], candidates: Iterable[Candidate]) -> dict[str, Any]:
    """The remembered choice is valid only for the same key and the same set of candidates
    (installing triton adds ``compile``, which deserves a new benchmark)."""
    return {**{str(k): str(v) for k, v in key.items()}, "candidates": sorted(c.name for c in candidates)}


class TuneCache:
    """A small JSON file of choices, one entry per key; unreadable files count as empty."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @staticmethod
    def _id(key: Mapping[str, Any]) -> str:
        return json.dumps(key, sort_keys=True, separators=(",", ":"))

    def _entries(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def load(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        entry = self._entries().get(self._id(key))
        return entry if isinstance(entry, dict) else None

    def store(self, key: Mapping[str, Any], entry: Mapping[str, Any]) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        entries = self._entries()
        entries[self._id(key)] = {"key": dict(key), **entry}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": CACHE_VERSION, "entries": entries}, fh, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# ------------------------------------------------------------------------------------ tuning


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _measure(candidate: Candidate, run: Callable[[Candidate], Any], warmup_runs: int, test_runs: int,
             timer: Callable[[], float], synchronize: Callable[[], None]) -> tuple[Measurement, Any]:
    measurement = Measurement(candidate.name, candidate.switches())
    output = None
    try:
        for _ in range(warmup_runs):
            run(candidate)
        synchronize()
        for _ in range(test_runs):
            start = timer()
            output = run(candidate)
            synchronize()
            measurement.times.append(timer() - start)
    except Exception as exc:  # noqa: BLE001 - one candidate failing must not stop the others
        measurement.error = _first_line(exc)
        measurement.times = []
        output = None
    return measurement, output


def auto_tune(
    candidates: Sequence[Candidate],
    run: Callable[[Candidate], Any],
    *,
    reference: Any = None,
    warmup_runs: int = 1,
    test_runs: int = 3,
    close: Callable[[Any, Any], bool] | None = None,
    rtol: float = 1e-2,
    atol: float = 1e-3,
    timer: Callable[[], float] = time.perf_counter,
    synchronize: Callable[[], None] = lambda: None,
    cache: TuneCache | None = None,
    key: Mapping[str, Any] | None = None,
    force: bool = False,
    echo: Callable[[str], None] | None = print,
) -> TuneResult:
    """Time every candidate and return the fastest whose output is close to the reference.

    ``reference`` is the fp32 eager output; when None the ``baseline`` candidate (else the first)
    provides it. Each candidate gets ``warmup_runs`` untimed runs (compilation, cuDNN algorithm
    search, allocator growth) and ``test_runs`` timed ones; the output of its last timed run is
    compared with ``close`` (default :func:`allclose` of ``rtol``/``atol``). With ``cache`` and
    ``key`` (e.g. ``GPUManager.tuning_key()`` plus the workload) a remembered choice is returned
    without running anything unless ``force``.
    """
    if not candidates:
        raise ValueError("auto_tune needs at least one candidate")
    if warmup_runs < 0 or test_runs < 1:
        raise ValueError(f"need warmup_runs >= 0 and test_runs >= 1, got {warmup_runs} and {test_runs}")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must be unique: {names}")
    say = echo or (lambda _line: None)
    full_key = cache_key(key or {}, candidates)

    if cache is not None and not force:
        remembered = _from_cache(cache, full_key, candidates, warmup_runs, test_runs)
        if remembered is not None:
            say(f"auto-tune: using the remembered choice '{remembered.choice.name}' from {cache.path} "
                "(force a new benchmark to re-measure)")
            return remembered

    close = close or allclose(rtol, atol)
    base = next((c for c in candidates if c.name == "baseline"), candidates[0])
    ordered = [base] + [c for c in candidates if c is not base]
    outputs: dict[str, Any] = {}
    results: dict[str, Measurement] = {}
    for candidate in ordered:
        measurement, output = _measure(candidate, run, warmup_runs, test_runs, timer, synchronize)
        results[candidate.name] = measurement
        if measurement.error is None:
            outputs[candidate.name] = output
    if reference is None:
        if base.name not in outputs:
            raise AutoTuneError(f"the reference candidate '{base.name}' failed: {results[base.name].error}")
        reference = outputs[base.name]

    base_mean = results[base.name].mean_s
    for name, measurement in results.items():
        if measurement.error is not None:
            continue
        output = outputs[name]
        try:
            measurement.max_abs_error = max_abs_error(output, reference)
        except TypeError:
            measurement.max_abs_error = None
        measurement.within_tolerance = bool(close(output, reference))
        mean = measurement.mean_s
        if base_mean is not None and mean:
            measurement.speedup = base_mean / mean
    measurements = [results[c.name] for c in candidates]
    eligible = [(m.mean_s, i, c) for i, (c, m) in enumerate(zip(candidates, measurements, strict=True)) if m.ok]
    if not eligible:
        say(format_table(measurements))
        raise AutoTuneError("no candidate ran within tolerance of the fp32 reference")
    choice = min(eligible, key=lambda item: (item[0], item[1]))[2]
    result = TuneResult(choice, measurements, False, full_key, warmup_runs, test_runs)
    say(f"auto-tune: {warmup_runs} warm-up + {test_runs} timed runs per candidate")
    say(result.table())
    say(f"auto-tune: chose {result.reason()}")
    if cache is not None:
        cache.store(full_key, {
            "choice": choice.name,
            "switches": choice.switches(),
            "measurements": [m.to_dict() for m in measurements],
            "warmup_runs": warmup_runs,
            "test_runs": test_runs,
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
    return result


def _from_cache(cache: TuneCache, key: dict[str, Any], candidates: Sequence[Candidate], warmup_runs: int,
                test_runs: int) -> TuneResult | None:
    entry = cache.load(key)
    if entry is None:
        return None
    match = next((c for c in candidates if c.name == entry.get("choice")), None)
    if match is None or match.switches() != entry.get("switches"):
        return None  # the candidate's meaning changed since it was measured
    try:
        measurements = [Measurement.from_dict(m) for m in entry.get("measurements", [])]
    except (KeyError, TypeError, ValueError):
        measurements = []
    return TuneResult(match, measurements, True, key, int(entry.get("warmup_runs", warmup_runs)),
                      int(entry.get("test_runs", test_runs)))
