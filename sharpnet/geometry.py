"""From NDC Gaussians to metric camera space.

With intrinsics K (focal f_px, principal point at the photo's centre) the reference's unprojection
``inv(ndc @ K_resized)`` is exactly ``diag(W / 2f, H / 2f, 1)``: means scale per axis, and each
covariance becomes ``D Σ D``, re-diagonalised into (rotation, standard deviations). We diagonalise
with a batched symmetric eigensolver in float64 (the reference uses an SVD): the covariance is the
same, and singular values come out in the same descending order.
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


def decompose_covariances(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., 3, 3) symmetric PSD -> (quaternions wxyz, standard deviations, descending)."""
    eigenvalues, vectors = torch.linalg.eigh(cov)
    eigenvalues, vectors = eigenvalues.flip(-1), vectors.flip(-1)
    # Eigenvectors may form a reflection; flipping the last axis makes a rotation, same covariance.
    reflect = torch.linalg.det(vectors) < 0
    vectors[..., :, 2] = torch.where(reflect[..., None], -vectors[..., :, 2], vectors[..., :, 2])
    return matrices_to_quaternions(vectors), eigenvalues.clamp_min(0).sqrt()


def unproject(
    ndc: GaussianTensors, f_px: float, image_width: int, image_height: int, chunk: int = 1 << 18
) -> Gaussians:
    """First scene of a batch of NDC Gaussians -> metric :class:`Gaussians` (numpy, float32)."""
    diag = torch.tensor(unprojection_diagonal(f_px, image_width, image_height), dtype=torch.float64)
    means = (ndc.mean_vectors[0].double().cpu() * diag).float()
    quats_in = ndc.quaternions[0].double().cpu()
    sigmas_in = ndc.singular_values[0].double().cpu()
    quats = torch.empty_like(quats_in)
    sigmas = torch.empty_like(sigmas_in)
    # Chunks bound the float64 temporaries (a 1.2M-Gaussian scene would need ~1 GB at once).
    for start in range(0, quats_in.shape[0], chunk):
        sl = slice(start, start + chunk)
        rot = quaternions_to_matrices(quats_in[sl]) * diag[:, None]  # D R
        scaled = rot * sigmas_in[sl, None, :]  # D R S
        cov = scaled @ scaled.transpose(-1, -2)
        quats[sl], sigmas[sl] = decompose_covariances(cov)
    return Gaussians(
        mean_vectors=means.numpy(),
        singular_values=sigmas.float().numpy(),
        quaternions=quats.float().numpy(),
        colors=ndc.colors[0].float().cpu().numpy(),
        opacities=ndc.opacities[0].float().cpu().numpy(),
    )
