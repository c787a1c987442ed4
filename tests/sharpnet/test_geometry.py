"""Covariance decomposition and rotation conversions behind the unprojection."""

import numpy as np
import pytest
import torch

from sharpnet.geometry import (
    decompose_covariances, matrices_to_quaternions, quaternions_to_matrices, symmetric_eigen, unproject,
)
from sharpnet.models.composer import GaussianTensors


def random_covariances(n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rot = quaternions_to_matrices(torch.randn(n, 4, generator=gen, dtype=torch.float64))
    sig = torch.rand(n, 3, generator=gen, dtype=torch.float64) * 2 + 1e-3
    sig[: n // 4, 1] = sig[: n // 4, 0]  # a repeated eigenvalue
    sig[n // 4: n // 2] = 0.5  # isotropic
    sig[n // 2: 3 * n // 4, 2] *= 1e-3  # flat
    m = rot * sig[:, None, :]
    return m @ m.transpose(-1, -2)


def test_closed_form_eigen_rebuilds_every_covariance_with_a_proper_rotation():
    cov = random_covariances(4000)
    values, rot = symmetric_eigen(cov)
    assert torch.all(values[:, 0] >= values[:, 1]) and torch.all(values[:, 1] >= values[:, 2])
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(4000, dtype=torch.float64))
    rebuilt = rot @ torch.diag_embed(values) @ rot.transpose(-1, -2)
    scale = cov.abs().amax((-1, -2), keepdim=True)
    # A repeated root of the cubic is only found to ~sqrt(float64 eps); the output is float32 anyway.
    assert ((rebuilt - cov).abs() / scale).max() < 1e-6
    reference = torch.linalg.eigvalsh(cov).flip(-1)
    assert ((values - reference).abs() / scale[..., 0]).max() < 1e-6


def test_quaternion_round_trip_and_sign_convention():
    q = torch.randn(1000, 4, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    back = matrices_to_quaternions(quaternions_to_matrices(q))
    assert torch.all(back[:, 0] >= 0)
    torch.testing.assert_close(back, torch.where(q[:, :1] < 0, -q, q))


def test_unprojection_scales_means_and_covariances_by_the_intrinsics():
    n = 64
    gen = torch.Generator().manual_seed(1)
    ndc = GaussianTensors(
        torch.randn(1, n, 3, generator=gen) + torch.tensor([0, 0, 5.0]),
        torch.rand(1, n, 3, generator=gen) + 0.1,
        torch.randn(1, n, 4, generator=gen),
        torch.rand(1, n, 3, generator=gen),
        torch.rand(1, n, generator=gen),
    )
    f, w, h = 500.0, 640, 480
    out = unproject(ndc, f, w, h)
    d = np.array([w / (2 * f), h / (2 * f), 1.0])
    np.testing.assert_allclose(out.mean_vectors, ndc.mean_vectors[0].numpy() * d, rtol=1e-6)
    r_in = quaternions_to_matrices(ndc.quaternions[0].double()).numpy()
    cov_in = r_in * (ndc.singular_values[0].double().numpy() ** 2)[:, None, :] @ r_in.transpose(0, 2, 1)
    expected = d[:, None] * cov_in * d[None, :]
    r_out = quaternions_to_matrices(torch.from_numpy(out.quaternions).double()).numpy()
    cov_out = r_out * (out.singular_values.astype(np.float64) ** 2)[:, None, :] @ r_out.transpose(0, 2, 1)
    np.testing.assert_allclose(cov_out, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(out.colors, ndc.colors[0].numpy())


@pytest.mark.parametrize("n", [1, 7])
def test_decompose_small_batches(n):
    q, s = decompose_covariances(random_covariances(max(n, 4))[:n])
    assert q.shape == (n, 4) and s.shape == (n, 3)
    assert torch.isfinite(q).all() and torch.isfinite(s).all()
