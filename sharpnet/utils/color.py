"""sRGB transfer function (IEC 61966-2-1), in numpy so it can run on exported data without torch."""

from __future__ import annotations

import numpy as np

# Zeroth-order spherical-harmonic basis constant, 1 / (2 sqrt(pi)): f_dc = (rgb - 0.5) / SH_C0.
SH_C0 = float(np.sqrt(1.0 / (4.0 * np.pi)))


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.asarray(linear)
    # np.where evaluates both branches; clamp the power branch's input so it never sees negatives.
    power = 1.055 * np.power(np.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055
    return np.where(linear <= 0.0031308, linear * 12.92, power).astype(linear.dtype, copy=False)


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    srgb = np.asarray(srgb)
    power = np.power((np.maximum(srgb, 0.04045) + 0.055) / 1.055, 2.4)
    return np.where(srgb <= 0.04045, srgb / 12.92, power).astype(srgb.dtype, copy=False)


def rgb_to_sh_dc(rgb: np.ndarray) -> np.ndarray:
    return (rgb - 0.5) / SH_C0


def sh_dc_to_rgb(sh: np.ndarray) -> np.ndarray:
    return sh * SH_C0 + 0.5
