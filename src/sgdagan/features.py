"""Discriminators that are linear in a feature map T, with an ℓ2 penalty (DESIGN §5).

    U(W, V) = Σ_k ⟨V_k, m_k(data) − m_k(G_W)⟩ − (λ/2) Σ_k ‖V_k‖²

where m_1 = E[u] and m_2 = E[u uᵀ] are the moments of a per-sample transform u of y. The
penalty makes U strongly concave in V, so the best response is V*_k = (m_k(data) − m_k(G_W))/λ
and max_V U = ‖m(data) − m(G_W)‖²/(2λ): the bilevel view. All tensors carry a leading games
dimension R; every operation acts on each game separately.

Families:
  linear     u = y, first moments only (does not identify Σ: the ablation shows TV stalling);
  quadratic  u = y, first and second moments (Lei et al.'s discriminator yᵀVy);
  truncated  on the region where φ is invertible, u = φ⁻¹(y) (0 outside); on the generator side
             u = Wx exactly where Wx maps into that region. This is the project's reading of the
             truncated-statistics design in the paper's abstract, not a transcription of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .activations import Activation

DISCRIMINATORS = ("linear", "quadratic", "truncated")


@dataclass(frozen=True)
class MomentDiscriminator:
    name: str
    activation: Activation
    penalty: float
    second_moments: bool
    truncated: bool

    def data_transform(self, y: torch.Tensor) -> torch.Tensor:
        """Per-sample u for real data y (any leading shape, last dim d)."""
        if not self.truncated:
            return y
        inside = self.activation.in_region(y)
        # Masked before the inverse so that atanh/logit never see values outside their domain.
        safe = torch.where(inside, y, torch.zeros_like(y) + _inside_point(self.activation))
        return torch.where(inside, self.activation.inverse(safe), torch.zeros_like(y))

    def generator_transform(self, z: torch.Tensor) -> torch.Tensor:
        """Per-sample u for generator pre-activations z = Wx; differentiable in z."""
        if not self.truncated:
            return self.activation.forward(z)
        return torch.where(self.activation.in_preimage(z), z, torch.zeros_like(z))

    def moments(self, u: torch.Tensor) -> list[torch.Tensor]:
        """[E u] or [E u, E u uᵀ] over the sample axis of u: [R, B, d] → [R, d], [R, d, d]."""
        first = u.mean(dim=-2)
        if not self.second_moments:
            return [first]
        return [first, torch.matmul(u.transpose(-1, -2), u) / u.shape[-2]]

    def init_params(self, games: int, dim: int, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor]:
        shapes = [(games, dim), (games, dim, dim)][: 2 if self.second_moments else 1]
        return [torch.zeros(shape, dtype=dtype, device=device) for shape in shapes]

    def payoff(self, params: list[torch.Tensor], real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        """U per game, [R]."""
        total = 0.0
        for v, m_real, m_fake in zip(params, real, fake):
            inner = (v * (m_real - m_fake) - 0.5 * self.penalty * v * v).flatten(1)
            total = total + inner.sum(dim=1)
        return total

    def best_response(self, real: list[torch.Tensor], fake: list[torch.Tensor]) -> list[torch.Tensor]:
        return [(m_real - m_fake) / self.penalty for m_real, m_fake in zip(real, fake)]


def _inside_point(activation: Activation) -> float:
    lo, hi = activation.region
    if lo > float("-inf") and hi < float("inf"):
        return 0.5 * (lo + hi)
    if lo > float("-inf"):
        return lo + 1.0
    return 0.0


def make_discriminator(name: str, activation: Activation, penalty: float) -> MomentDiscriminator:
    if name == "linear":
        return MomentDiscriminator(name, activation, penalty, second_moments=False, truncated=False)
    if name == "quadratic":
        return MomentDiscriminator(name, activation, penalty, second_moments=True, truncated=False)
    if name == "truncated":
        return MomentDiscriminator(name, activation, penalty, second_moments=True, truncated=True)
    raise ValueError(f"unknown discriminator {name!r}; choose one of {', '.join(DISCRIMINATORS)}")
