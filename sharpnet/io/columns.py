"""The Gaussian-splat columns every compact exporter quantises, read once and made safe.

Why one place: each format (``.spz``, ``.splat``, compressed ``.ply``) needs the same decoded
values -- positions, opacity as alpha in [0, 1], the sRGB DC colour term, log scales and unit
quaternions -- and the same answer to a damaged Gaussian: one with a non-finite centre keeps its
slot (counts stay equal across formats) but becomes invisible at the origin; NaN colours become
grey, NaN scales tiny, unusable rotations the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SH_C0 = 0.28209479177387814  # the degree-0 spherical-harmonic constant: colour = 0.5 + SH_C0 * f_dc


@dataclass(frozen=True)
class SplatColumns:
    positions: np.ndarray  # (N, 3) float32, finite
    alpha: np.ndarray  # (N,) float64 in [0, 1]
    f_dc: np.ndarray  # (N, 3) float32, the PLY's sRGB SH DC terms
    log_scales: np.ndarray  # (N, 3) float32, clipped to [-20, 20]
    quaternions: np.ndarray  # (N, 4) float32, unit, w x y z (the PLY's rot_0..3 order)

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def rgb01(self) -> np.ndarray:
        """Displayed colour in [0, 1] (unclipped), as web viewers compute it from the DC term."""
        return 0.5 + SH_C0 * self.f_dc


def to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def unit_quaternions(q: np.ndarray) -> np.ndarray:
    """(N, 4) quaternions of any norm -> unit ones (the identity where the norm is unusable)."""
    q = np.array(q, dtype=np.float32, copy=True)
    norm = np.sqrt(np.einsum("ij,ij->i", q, q))
    good = np.isfinite(norm) & (norm > 1e-12)
    q /= np.where(good, norm, np.float32(1.0))[:, None]
    if not good.all():
        q[~good] = (1.0, 0.0, 0.0, 0.0)
    return q


def largest_positive(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit quaternions flipped so their largest-magnitude component is positive (q and -q are the
    same rotation), and that component's index: what every "smallest three" packing needs."""
    largest = np.argmax(np.abs(q), axis=1)
    sign = np.where(np.take_along_axis(q, largest[:, None], axis=1) < 0, np.float32(-1.0), np.float32(1.0))
    return q * sign, largest


def splat_columns(vertices: np.ndarray) -> SplatColumns:
    def column(*names: str) -> np.ndarray:
        return np.stack([np.asarray(vertices[n], dtype=np.float32) for n in names], axis=1)

    positions = column("x", "y", "z")
    broken = ~np.isfinite(positions).all(axis=1)
    positions[broken] = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = 1.0 / (1.0 + np.exp(-np.asarray(vertices["opacity"], dtype=np.float64)))
    alpha = np.where(np.isnan(alpha) | broken, 0.0, alpha)
    f_dc = np.nan_to_num(column("f_dc_0", "f_dc_1", "f_dc_2"), nan=0.0)
    log_scales = np.clip(np.nan_to_num(column("scale_0", "scale_1", "scale_2"), nan=-10.0), -20.0, 20.0)
    quaternions = unit_quaternions(column("rot_0", "rot_1", "rot_2", "rot_3"))
    return SplatColumns(positions, alpha, f_dc, log_scales, quaternions)
