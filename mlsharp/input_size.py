"""``optimization.dynamic_input_size``: the network input side for one photo, and why.

The side is the largest multiple of 64 that (1) the photo's own resolution supports -- its long
side, so a 640x480 photo is never blown up to 1536 -- (2) lies in ``min_input_size`` ..
``max_input_size`` and not above the configured side, and (3) fits ``time_budget_s``, estimated from
auto-tune's measured forward time: the work grows with the square of the side (the encoder's tiles
are a fixed fraction of it), so ``t(n) = t_measured * (n / n_measured) ** 2``. Without a measurement
the budget cannot be applied, and the reason says so rather than guessing.
"""

from __future__ import annotations

from typing import Any

from mlsharp.config import INPUT_SIZE_STEP, snap_input_size


def _floor_step(n: float) -> int:
    return int(n // INPUT_SIZE_STEP) * INPUT_SIZE_STEP


def choose_side(configured: int, photo: tuple[int, int] | None, opt: Any,
                measured: tuple[int, float] | None = None) -> tuple[int, str]:
    """``(side, reason)``; ``measured`` is auto-tune's (input side, mean forward seconds)."""
    low, high = sorted((opt.min_input_size, opt.max_input_size))
    ceiling = min(high, configured)
    reasons = []
    side = ceiling
    if photo is not None:
        long_side = max(photo)
        supported = max(low, _floor_step(long_side))
        if supported < side:
            side = supported
            reasons.append(f"the photo's long side is {long_side} px")
    budget = opt.time_budget_s
    if budget > 0:
        if measured is None or measured[1] <= 0:
            reasons.append("no auto-tune timing to apply time_budget_s to (enable auto_tune)")
        else:
            n0, t0 = measured
            fits = max(low, _floor_step(n0 * (budget / t0) ** 0.5))
            if fits < side:
                side = fits
                reasons.append(f"time_budget_s {budget:g} s: ~{t0 * (side / n0) ** 2:.1f} s at {side} "
                               f"(auto-tune measured {t0:.2f} s at {n0})")
    side = snap_input_size(max(low, min(side, ceiling)))
    if not reasons:
        reasons.append(f"the configured side {configured} (max_input_size {high})")
    return side, "; ".join(reasons)


__all__ = ["choose_side"]
