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
