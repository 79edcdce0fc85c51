"""The moment discriminators' closed-form gradients (features.MomentDiscriminator.grads, the
training hot path) against autograd through the game's own payoff U — an independent route to
the same derivative — for every activation and family, on games with odd d (padded products)."""

from __future__ import annotations

import pytest
import torch

from sgdagan.activations import ACTIVATIONS, get_activation
from sgdagan.features import make_discriminator

F64 = torch.float64


@pytest.mark.parametrize("family", ["linear", "quadratic", "truncated"])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_closed_form_gradients_equal_autograd(name, family):
    disc = make_discriminator(family, get_activation(name), penalty=0.7)
    gen = torch.Generator().manual_seed(11)
    games, dim, batch = 3, 5, 40
    w = torch.randn(games, dim, dim, generator=gen, dtype=F64)
    latents = torch.randn(games, batch, dim, generator=gen, dtype=F64)
    shapes = [(games, dim), (games, dim, dim)][: 2 if disc.second_moments else 1]
    v = [torch.randn(shape, generator=gen, dtype=F64) for shape in shapes]
    real = [torch.randn(shape, generator=gen, dtype=F64) for shape in shapes]

    grad_w, grad_v = disc.grads(w, v, real, latents.transpose(-1, -2).contiguous())

    w_ = w.clone().requires_grad_(True)
    v_ = [p.clone().requires_grad_(True) for p in v]
    fake = disc.moments(disc.generator_transform(latents @ w_.transpose(-1, -2)))
    expected = torch.autograd.grad(disc.payoff(v_, real, fake).sum(), [w_, *v_])
    torch.testing.assert_close(grad_w, expected[0], rtol=1e-12, atol=1e-12)
    for got, want in zip(grad_v, expected[1:]):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_two_sided_truncation_is_z_times_the_preimage_mask():
    """hardtanh's preimage is (−1, 1): the truncated game's u = z·1{|z| < 1} (0 at z = ±1 exactly,
    as on the data side, where y = ±1 lies outside the open region), and the closed-form backward
    equals autograd of torch.where(mask, z, 0), bit for bit."""
    disc = make_discriminator("truncated", get_activation("hardtanh"), penalty=1.0)
    gen = torch.Generator().manual_seed(3)
    z = torch.cat([2 * torch.randn(3, 7, 50, generator=gen, dtype=F64).flatten(),
                   torch.tensor([-1.0, 1.0, -0.0, 0.0, 1 - 1e-16, -1 + 1e-16, 1 + 2e-16], dtype=F64)])
    mask = (z > -1) & (z < 1)
    u = disc.generator_transform(z)
    assert torch.equal(u, torch.where(mask, z, torch.zeros_like(z)))
    assert torch.equal(u[-7:-5], torch.zeros(2, dtype=F64))
    grad_u = torch.randn(z.shape, generator=gen, dtype=F64)
    z_ = z.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((torch.where(mask, z_, torch.zeros_like(z_)) * grad_u).sum(), z_)
    assert torch.equal(disc._generator_transform_backward(grad_u, z), expected)
    # Data side: y = hardtanh(z), u = y inside (−1, 1), 0 at ±1: the generator side's u on the same z.
    assert torch.equal(disc.data_transform(torch.nn.functional.hardtanh(z)), u)


@pytest.mark.parametrize("family", ["quadratic", "truncated"])
def test_hardtanh_games_have_no_mean_and_draw_latent_vectors(family):
    """hardtanh is odd, and so is z·1{|z| < 1}: no mean mode (no step stretch); its truncation
    depends on each sample, so the game is not linear in the latents. relu: both as before."""
    disc = make_discriminator(family, get_activation("hardtanh"), penalty=1.0)
    assert not disc.features_have_mean and not disc.linear_in_latents
    relu = make_discriminator(family, get_activation("relu"), penalty=1.0)
    assert relu.features_have_mean and not relu.linear_in_latents
    assert make_discriminator("truncated", get_activation("tanh"), penalty=1.0).linear_in_latents


@pytest.mark.parametrize("family", ["quadratic", "truncated"])
def test_hardtanh_curvature_is_bounded_whatever_d(family):
    """ḡ² is the fraction of data in (−1, 1) under either family (slope 1 inside, 0 outside), and
    the bound ḡ²(1 + 4λ_max(E uuᵀ)) stays O(1) from d = 4 to 32 (|u| < 1, no mean mode)."""
    from sgdagan.targets import sample_target, target_weights

    act = get_activation("hardtanh")
    disc = make_discriminator(family, act, penalty=1.0)
    bounds = []
    for dim in (4, 32):
        y = sample_target(act, target_weights(dim, 4.0, 0), 5000, 0)
        real = [m[0] for m in disc.moments(disc.data_transform(y)[None])]
        inside = float((y.abs() < 1).double().mean())
        assert disc._mean_slope_sq(y) == pytest.approx(inside, rel=1e-12)
        bounds.append(disc.curvature(y, real))
    assert all(1.0 < h < 5.0 for h in bounds), bounds
