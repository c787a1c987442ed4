"""Auto-tune selection on mocked timings: a fake clock advances by a per-candidate cost per run."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mlsharp.autotune import (
    AutoTuneError,
    Candidate,
    TuneCache,
    allclose,
    auto_tune,
    format_table,
    max_abs_error,
    standard_candidates,
)

ALL_SWITCHES = dict(amp=True, cudnn_benchmark=True, tf32=True, compile=True)
REFERENCE = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
DEVICE_KEY = {"device": "NVIDIA H100 80GB HBM3", "driver": "550.54.15", "runtime": "CUDA 12.4", "torch": "2.13.0"}


class FakeBench:
    """``run`` for auto_tune: each call costs ``costs[name]`` seconds on a fake clock and returns
    the reference plus ``errors[name]``; ``fails`` names candidates that raise."""

    def __init__(self, costs: dict[str, float], errors: dict[str, float] | None = None,
                 fails: dict[str, Exception] | None = None) -> None:
        self.costs, self.errors, self.fails = costs, errors or {}, fails or {}
        self.now = 0.0
        self.calls: list[str] = []
        self.syncs = 0

    def clock(self) -> float:
        return self.now

    def sync(self) -> None:
        self.syncs += 1

    def run(self, candidate: Candidate) -> np.ndarray:
        self.calls.append(candidate.name)
        if candidate.name in self.fails:
            raise self.fails[candidate.name]
        self.now += self.costs[candidate.name]
        return REFERENCE + np.float32(self.errors.get(candidate.name, 0.0))

    def tune(self, candidates, **kwargs):
        kwargs.setdefault("echo", None)
        return auto_tune(candidates, self.run, timer=self.clock, synchronize=self.sync, **kwargs)


# --------------------------------------------------------------------------- candidate lists


def names(candidates):
    return [c.name for c in candidates]


def test_every_standard_candidate_on_an_ampere_class_gpu_with_triton():
    candidates = standard_candidates(**ALL_SWITCHES)
    assert names(candidates) == ["baseline", "amp", "cudnn", "tf32", "amp+cudnn", "amp+tf32", "all", "compile"]
    by_name = {c.name: c for c in candidates}
    assert by_name["baseline"].switches() == dict(amp=False, cudnn_benchmark=False, tf32=False, compile=False)
    assert by_name["all"].switches() == dict(amp=True, cudnn_benchmark=True, tf32=True, compile=False)
    assert by_name["compile"].switches() == ALL_SWITCHES


def test_only_applicable_candidates_and_no_duplicates():
    # pre-Ampere NVIDIA or ROCm without triton: no TF32, so "all" is just amp+cudnn
    assert names(standard_candidates(amp=True, cudnn_benchmark=True)) == ["baseline", "amp", "cudnn", "amp+cudnn"]
    assert names(standard_candidates(amp=True)) == ["baseline", "amp"]  # Apple MPS, or a bf16 CPU
    assert names(standard_candidates()) == ["baseline"]  # plain CPU
    assert names(standard_candidates(amp=True, cudnn_benchmark=True, compile=True))[-1] == "compile"


# --------------------------------------------------------------------------- selection


def test_picks_the_fastest_candidate_within_tolerance():
    bench = FakeBench({"baseline": 1.0, "amp": 0.45, "cudnn": 0.9, "amp+cudnn": 0.4})
    result = bench.tune(standard_candidates(amp=True, cudnn_benchmark=True), warmup_runs=2, test_runs=3,
                        atol=1e-3, rtol=0.0)
    assert result.choice.name == "amp+cudnn" and result.from_cache is False
    by_name = {m.name: m for m in result.measurements}
    assert by_name["amp+cudnn"].mean_s == pytest.approx(0.4)
    assert by_name["amp+cudnn"].speedup == pytest.approx(2.5)
    assert by_name["baseline"].speedup == pytest.approx(1.0)
    assert result.speedup == pytest.approx(2.5)
    assert [len(m.times) for m in result.measurements] == [3, 3, 3, 3]
    assert bench.calls.count("amp") == 5  # 2 warm-up + 3 timed


def test_rejects_a_faster_candidate_outside_tolerance():
    bench = FakeBench({"baseline": 1.0, "amp": 0.3, "cudnn": 0.8, "amp+cudnn": 0.25},
                      errors={"amp": 0.05, "amp+cudnn": 0.05, "cudnn": 1e-5})
    result = bench.tune(standard_candidates(amp=True, cudnn_benchmark=True), atol=1e-3, rtol=0.0)
    assert result.choice.name == "cudnn"
    by_name = {m.name: m for m in result.measurements}
    assert by_name["amp"].within_tolerance is False and by_name["amp"].max_abs_error == pytest.approx(0.05)
    assert by_name["cudnn"].within_tolerance is True


def test_a_custom_close_decides_instead_of_rtol_atol():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5}, errors={"amp": 0.05})
    loose = bench.tune(standard_candidates(amp=True), close=lambda a, b: max_abs_error(a, b) < 0.1)
    assert loose.choice.name == "amp"


def test_a_candidate_that_raises_is_reported_and_skipped():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5, "cudnn": 0.9, "amp+cudnn": 0.4, "compile": 0.1},
                      fails={"compile": RuntimeError("triton: no C compiler\nlong traceback text")})
    result = bench.tune(standard_candidates(amp=True, cudnn_benchmark=True, compile=True))
    failed = {m.name: m for m in result.measurements}["compile"]
    assert failed.error == "RuntimeError: triton: no C compiler" and failed.times == [] and not failed.ok
    assert result.choice.name == "amp+cudnn"


def test_an_explicit_reference_is_checked_against_every_candidate_including_the_baseline():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5}, errors={"baseline": 0.5})
    result = bench.tune(standard_candidates(amp=True), reference=REFERENCE, atol=1e-3, rtol=0.0)
    assert result.choice.name == "amp"
    assert {m.name: m.ok for m in result.measurements} == {"baseline": False, "amp": True}


def test_nothing_within_tolerance_is_an_error_and_still_shows_the_table():
    lines: list[str] = []
    bench = FakeBench({"baseline": 1.0, "amp": 0.5}, errors={"baseline": 1.0, "amp": 1.0})
    with pytest.raises(AutoTuneError, match="no candidate ran within tolerance"):
        bench.tune(standard_candidates(amp=True), reference=REFERENCE, echo=lines.append)
    assert "outside tolerance" in "\n".join(lines)


def test_a_failing_baseline_without_a_reference_is_an_error():
    bench = FakeBench({"amp": 0.5}, fails={"baseline": MemoryError("out of memory")})
    with pytest.raises(AutoTuneError, match="reference candidate 'baseline' failed: MemoryError: out of memory"):
        bench.tune(standard_candidates(amp=True))


def test_ties_go_to_the_earlier_simpler_candidate():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5, "cudnn": 0.5, "amp+cudnn": 0.5})
    assert bench.tune(standard_candidates(amp=True, cudnn_benchmark=True)).choice.name == "amp"


def test_device_work_is_synchronised_before_each_clock_reading():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5})
    bench.tune(standard_candidates(amp=True), warmup_runs=1, test_runs=2)
    assert bench.syncs == 2 * (1 + 2)  # per candidate: after warm-up, after each timed run


def test_bad_arguments_are_refused():
    bench = FakeBench({"baseline": 1.0})
    with pytest.raises(ValueError, match="at least one candidate"):
        bench.tune([])
    with pytest.raises(ValueError, match="test_runs >= 1"):
        bench.tune([Candidate("baseline")], test_runs=0)
    with pytest.raises(ValueError, match="unique"):
        bench.tune([Candidate("baseline"), Candidate("baseline", amp=True)])


# --------------------------------------------------------------------------- output


def test_table_is_printed_with_means_speedups_and_the_choice():
    lines: list[str] = []
    bench = FakeBench({"baseline": 1.0, "amp": 0.5, "cudnn": 0.8, "amp+cudnn": 0.45}, errors={"amp+cudnn": 0.5})
    result = bench.tune(standard_candidates(amp=True, cudnn_benchmark=True), echo=lines.append)
    text = "\n".join(lines)
    assert "candidate" in text and "mean s" in text and "speed-up" in text
    assert "2.00x" in text and "1.25x" in text and "outside tolerance" in text
    amp_row = next(line for line in text.splitlines() if line.startswith("amp "))
    assert "0.5000" in amp_row and "<- chosen" in amp_row
    assert "chose 'amp'" in text
    assert result.table() in text


def test_result_serialises_for_the_stats_endpoint():
    bench = FakeBench({"baseline": 1.0, "amp": 0.5})
    data = json.loads(json.dumps(bench.tune(standard_candidates(amp=True)).to_dict()))
    assert data["choice"] == "amp" and data["switches"]["amp"] is True
    assert [c["name"] for c in data["candidates"]] == ["baseline", "amp"]
    assert data["candidates"][1]["speedup"] == pytest.approx(2.0)


def test_format_table_marks_failures():
    from mlsharp.autotune import Measurement

    table = format_table([Measurement("compile", {}, error="RuntimeError: boom")])
    assert "failed: RuntimeError: boom" in table


# --------------------------------------------------------------------------- the cache


def test_remembers_and_reuses_its_choice(tmp_path):
    cache = TuneCache(tmp_path / "autotune.json")
    candidates = standard_candidates(amp=True, cudnn_benchmark=True)
    first = FakeBench({"baseline": 1.0, "amp": 0.5, "cudnn": 0.9, "amp+cudnn": 0.4})
    chosen = first.tune(candidates, cache=cache, key=DEVICE_KEY).choice
    assert chosen.name == "amp+cudnn"

    lines: list[str] = []
    second = FakeBench({"baseline": 1.0, "amp": 0.1, "cudnn": 0.9, "amp+cudnn": 0.4})
    reused = second.tune(candidates, cache=cache, key=DEVICE_KEY, echo=lines.append)
    assert second.calls == []  # nothing ran
    assert reused.from_cache is True and reused.choice == chosen
    assert [m.name for m in reused.measurements] == names(candidates)
    assert "remembered choice 'amp+cudnn'" in "\n".join(lines)

    forced = second.tune(candidates, cache=cache, key=DEVICE_KEY, force=True)
    assert forced.choice.name == "amp" and forced.from_cache is False
    assert FakeBench({}).tune(candidates, cache=cache, key=DEVICE_KEY).choice.name == "amp"


def test_another_device_driver_or_torch_is_measured_again(tmp_path):
    cache = TuneCache(tmp_path / "autotune.json")
    candidates = standard_candidates(amp=True)
    FakeBench({"baseline": 1.0, "amp": 0.5}).tune(candidates, cache=cache, key=DEVICE_KEY)
    for change in ({"driver": "560.28.03"}, {"torch": "2.14.0"}, {"device": "NVIDIA L4"}):
        bench = FakeBench({"baseline": 1.0, "amp": 2.0})
        assert bench.tune(candidates, cache=cache, key={**DEVICE_KEY, **change}).choice.name == "baseline"
        assert bench.calls
    stored = json.loads((tmp_path / "autotune.json").read_text())
    assert len(stored["entries"]) == 4


def test_a_new_candidate_set_is_measured_again(tmp_path):
    cache = TuneCache(tmp_path / "autotune.json")
    FakeBench({"baseline": 1.0, "amp": 0.5}).tune(standard_candidates(amp=True), cache=cache, key=DEVICE_KEY)
    bench = FakeBench({"baseline": 1.0, "amp": 0.5, "cudnn": 0.9, "amp+cudnn": 0.3})
    result = bench.tune(standard_candidates(amp=True, cudnn_benchmark=True), cache=cache, key=DEVICE_KEY)
    assert result.choice.name == "amp+cudnn" and bench.calls


def test_a_damaged_cache_file_is_ignored_and_rewritten(tmp_path):
    path = tmp_path / "autotune.json"
    path.write_text("{not json", encoding="utf-8")
    bench = FakeBench({"baseline": 1.0, "amp": 0.5})
    assert bench.tune(standard_candidates(amp=True), cache=TuneCache(path), key=DEVICE_KEY).choice.name == "amp"
    assert json.loads(path.read_text())["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autotune.json"]  # no temp files left


# --------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Splats:
    means: np.ndarray
    opacities: np.ndarray


def test_outputs_are_compared_through_dataclasses_tensors_and_containers():
    a = Splats(np.zeros((4, 3), np.float32), np.full(4, 0.5, np.float32))
    b = Splats(np.zeros((4, 3), np.float32), np.full(4, 0.52, np.float32))
    assert max_abs_error(a, b) == pytest.approx(0.02, abs=1e-6)
    assert allclose(0.0, 0.05)(a, b) and not allclose(0.0, 0.01)(a, b)
    tensors = {"x": torch.ones(3, dtype=torch.bfloat16), "y": [torch.zeros(2)]}
    assert max_abs_error(tensors, {"x": np.ones(3), "y": [np.zeros(2)]}) == 0.0
    assert max_abs_error(np.zeros(3), np.zeros(4)) == float("inf")
    assert not allclose(1.0, 1.0)(np.array([np.nan]), np.array([0.0]))
    with pytest.raises(TypeError, match="pass close="):
        max_abs_error(object(), object())
