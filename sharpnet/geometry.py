"""From NDC Gaussians to metric camera space.

With intrinsics K (focal f_px, principal point at the photo's centre) the reference's unprojection
``inv(ndc @ K_resized)`` is exactly ``diag(W / 2f, H / 2f, 1)``: means scale per axis, and each
covariance becomes ``D Σ D``, re-diagonalised into (rotation, standard deviations). We diagonalise
in closed form in float64 (the reference uses an SVD): the covariance is the same, and the singular
values come out in the same descending order.
"""

from __future__ import annotations

import numpy as np
import torch

from sharpnet.gaussians import Gaussians
from sharpnet.models.composer import GaussianTensors


def unprojection_diagonal(f_px: float, image_width: int, image_height: int) -> tuple[float, float, float]:
    return (image_width / (2.0 * f_px), image_height / (2.0 * f_px), 1.0)


def quaternions_to_matrices(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) wxyz, any norm -> (..., 3, 3) rotation matrices."""
    q = q / torch.linalg.norm(q, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def matrices_to_quaternions(m: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) proper rotations -> (..., 4) unit quaternions wxyz with w >= 0.

    Each component's magnitude comes from the diagonal; the signs from the off-diagonal terms of the
    largest component's row (numerically safe for every rotation).
    """
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack(
        [
            torch.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        dim=-2,
    )  # row k is 4 * q_k * q
    best = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1).argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = q / torch.linalg.norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


def _unit(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    norm = torch.linalg.norm(v, dim=-1, keepdim=True)
    return v / norm.clamp_min(1e-300), norm[..., 0]


def _eigenvector(cov: torch.Tensor, eigenvalue: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit vector spanning the null space of (cov - eigenvalue I), and how well it is determined.

    It is the largest cross product of two rows; near a repeated eigenvalue all three are small and
    the direction is arbitrary, which the caller handles.
    """
    shifted = cov - eigenvalue[..., None, None] * torch.eye(3, dtype=cov.dtype, device=cov.device)
    r0, r1, r2 = shifted.unbind(-2)
    crosses = torch.stack(
        [torch.linalg.cross(r0, r1), torch.linalg.cross(r0, r2), torch.linalg.cross(r1, r2)], dim=-2
    )
    norms = torch.linalg.norm(crosses, dim=-1)
    best = norms.argmax(-1)
    vector = torch.gather(crosses, -2, best[..., None, None].expand(*best.shape, 1, 3)).squeeze(-2)
    return _unit(vector)


def _any_orthogonal(v: torch.Tensor) -> torch.Tensor:
    """A unit vector orthogonal to unit ``v``: crossed with the axis ``v`` is least aligned with."""
    axis = torch.nn.functional.one_hot(v.abs().argmin(-1), 3).to(v.dtype)
    return _unit(torch.linalg.cross(v, axis))[0]


def symmetric_eigen(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form eigen-decomposition of (..., 3, 3) symmetric matrices.

    Returns eigenvalues in descending order and a proper rotation whose columns are the matching
    eigenvectors. Eigenvalues come from the trigonometric solution of the characteristic cubic; the
    eigenvector of the better-separated extreme eigenvalue comes from cross products, the other
    extreme is made orthogonal to it, and the middle one completes a right-handed frame. Runs as
    plain tensor arithmetic on any device (a batched LAPACK call is ~20x slower for 3x3s).
    """
    a00, a11, a22 = cov[..., 0, 0], cov[..., 1, 1], cov[..., 2, 2]
    a01, a02, a12 = cov[..., 0, 1], cov[..., 0, 2], cov[..., 1, 2]
    q = (a00 + a11 + a22) / 3.0
    off = a01 * a01 + a02 * a02 + a12 * a12
    p = torch.sqrt(((a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * off) / 6.0)
    safe_p = torch.where(p > 0, p, torch.ones_like(p))
    b00, b11, b22 = (a00 - q) / safe_p, (a11 - q) / safe_p, (a22 - q) / safe_p
    b01, b02, b12 = a01 / safe_p, a02 / safe_p, a12 / safe_p
    det_b = b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02)
    phi = torch.acos((det_b / 2.0).clamp(-1.0, 1.0)) / 3.0
    largest = q + 2.0 * p * torch.cos(phi)
    smallest = q + 2.0 * p * torch.cos(phi + 2.0 * torch.pi / 3.0)
    middle = torch.minimum(torch.maximum(3.0 * q - largest - smallest, smallest), largest)  # rounding
    eigenvalues = torch.stack([largest, middle, smallest], dim=-1)

    v_large, _ = _eigenvector(cov, largest)
    v_small, _ = _eigenvector(cov, smallest)
    large_first = (largest - middle) >= (middle - smallest)
    anchor = torch.where(large_first[..., None], v_large, v_small)
    other = torch.where(large_first[..., None], v_small, v_large)
    other = other - (other * anchor).sum(-1, keepdim=True) * anchor
    other, other_norm = _unit(other)
    other = torch.where((other_norm > 1e-6)[..., None], other, _any_orthogonal(anchor))
    v1 = torch.where(large_first[..., None], anchor, other)
    v3 = torch.where(large_first[..., None], other, anchor)
    v2 = torch.linalg.cross(v3, v1)
    rotation = torch.stack([v1, v2, v3], dim=-1)
    # An isotropic matrix (p == 0) has every frame as eigenvectors: use the identity.
    isotropic = (p <= 1e-300)[..., None, None]
    rotation = torch.where(isotropic, torch.eye(3, dtype=cov.dtype, device=cov.device), rotation)
    return eigenvalues, rotation


def decompose_covariances(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 3, 3) symmetric PSD -> (quaternions wxyz, standard deviations, descending)."""
    eigenvalues, rotation = symmetric_eigen(cov)
    return matrices_to_quaternions(rotation), eigenvalues.clamp_min(0).sqrt()


def unproject(
    ndc: GaussianTensors, f_px: float, image_width: int, image_height: int, chunk: int = 1 << 18
) -> Gaussians:
    """First scene of a batch of NDC Gaussians -> metric :class:`Gaussians` (numpy, float32).

    Runs in float64 on the tensors' own device (a GPU does it in milliseconds), in chunks that bound
    the temporaries, and copies only the finished arrays to the host.
    """
    device = ndc.mean_vectors.device
    diag = torch.tensor(
        unprojection_diagonal(f_px, image_width, image_height), dtype=torch.float64, device=device
    )
    means = (ndc.mean_vectors[0].double() * diag).float()
    quats_in = ndc.quaternions[0].double()
    sigmas_in = ndc.singular_values[0].double()
    quats = torch.empty_like(quats_in)
    sigmas = torch.empty_like(sigmas_in)
    for start in range(0, quats_in.shape[0], chunk):
        sl = slice(start, start + chunk)
        scaled = quaternions_to_matrices(quats_in[sl]) * diag[:, None] * sigmas_in[sl, None, :]  # D R S
        quats[sl], sigmas[sl] = decompose_covariances(scaled @ scaled.transpose(-1, -2))

    def host(t: torch.Tensor):
        return t.float().cpu().numpy()

    return Gaussians(
        mean_vectors=host(means),
        singular_values=host(sigmas),
        quaternions=host(quats),
        colors=host(ndc.colors[0]),
        opacities=host(ndc.opacities[0]),
    )
