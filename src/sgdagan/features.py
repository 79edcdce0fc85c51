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
             u = Wx exactly where Wx maps into that region (for hardtanh, whose region is (−1, 1),
             a truncation on both sides). This is the project's reading of the
             truncated-statistics design in the paper's abstract, not a transcription of it.
  mlp        not linear in features: a one-hidden-layer neural discriminator trained with the usual
             GAN loss (non-saturating, or WGAN-GP) — the practitioners' baseline (MLPDiscriminator).
             It is NOT a bilevel design: no penalty makes the inner problem concave, there is no
             closed-form best response, and nothing guarantees convergence. It is also not zero-sum:
             the generator descends `generator_loss`, the discriminator ascends `payoff`.

Every discriminator has `zero_sum`: True when the generator's loss is U itself (the trainer may
then take ∇_W U and ∇_V U in one backward pass), False when the generator descends
`generator_loss(params, fake)` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Sequence, Union

import numpy as np
import torch

from .activations import Activation
from .choices import DISCRIMINATORS, MLP_LOSSES

_SLOPE_CHUNK_ROWS = 65536  # rows of real data per chunk of `MomentDiscriminator._mean_slope_sq`
_ALIGN_BYTES = 64  # the mlp pads its widths to multiples of this many bytes (see MLPDiscriminator.logits)


class LatentMoments(NamedTuple):
    """A latent batch X = [x_1 … x_B] per game seen only through x̄ = (1/B) Σ x_b [R, d] and
    S = (1/B) X Xᵀ [R, d, d]: all that a game linear in x needs (`MomentDiscriminator.linear_in_latents`)."""

    mean: torch.Tensor
    second: torch.Tensor


@dataclass(frozen=True)
class MomentDiscriminator:
    name: str
    activation: Activation
    penalty: float
    second_moments: bool
    truncated: bool

    zero_sum: ClassVar[bool] = True  # the generator descends U itself

    def data_transform(self, y: torch.Tensor) -> torch.Tensor:
        """Per-sample u for real data y (any leading shape, last dim d)."""
        if not self.truncated:
            return y
        outside = ~self.activation.in_region(y)
        # Masked before the inverse so that atanh/logit never see values outside their domain.
        safe = y.masked_fill(outside, _inside_point(self.activation))
        return self.activation.inverse(safe).masked_fill_(outside, 0.0)

    def generator_transform(self, z: torch.Tensor) -> torch.Tensor:
        """Per-sample u for generator pre-activations z = Wx; differentiable in z. Truncated: z where
        z lies in φ's preimage (lo, hi), else 0 — for (lo, ∞) by `threshold` (relu's own kernel, no
        boolean mask); for a bounded preimage (hardtanh) by a mask, so on both sides."""
        if not self.truncated:
            return self.activation.forward(z)
        lo, hi = self.activation.preimage
        if hi != math.inf:
            return z.masked_fill(~self.activation.in_preimage(z), 0.0)
        return z if lo == -math.inf else torch.nn.functional.threshold(z, lo, 0.0)

    def _generator_transform_backward(self, grad_u: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """∂L/∂z from ∂L/∂u, elementwise: the chain rule through `generator_transform`."""
        if not self.truncated:
            return grad_u * self.activation.derivative(z)
        lo, hi = self.activation.preimage
        if hi != math.inf:
            return grad_u.masked_fill(~self.activation.in_preimage(z), 0.0)
        return grad_u if lo == -math.inf else torch.ops.aten.threshold_backward(grad_u, z, lo)

    @property
    def linear_in_latents(self) -> bool:
        """u = Wx exactly on the generator side (truncation of an injective φ): the fake moments
        W x̄ and W S Wᵀ, and so the game's gradients, depend on a latent batch only through
        `LatentMoments`, which the trainer can then draw directly (O(d³) a step, not O(d²B)).
        Only for a preimage (−∞, ∞): relu's and hardtanh's truncations depend on each sample."""
        return self.truncated and self.activation.preimage == (-math.inf, math.inf)

    def moments_from_stats(self, w: torch.Tensor, stats: LatentMoments) -> list[torch.Tensor]:
        """The generator's moments [W x̄, W S Wᵀ] on a latent batch given as its `LatentMoments`
        (a game `linear_in_latents`); differentiable in w."""
        return self._moments_from_stats(w, stats)[0]

    def _moments_from_stats(self, w, stats):
        ws = game_matmul(w, stats.second)
        fake = [game_matmul(w, stats.mean[..., None])[..., 0], game_matmul(ws, w.transpose(-1, -2))]
        return fake[: 2 if self.second_moments else 1], ws

    @property
    def features_have_mean(self) -> bool:
        """Whether the generator's features u = g(z) have a non-zero mean at z ~ N(0, 1) (Gauss–Hermite):
        then E uuᵀ carries the rank-one mean part m mᵀ, whose eigenvalue ‖m‖² grows like d
        (relu under either family; the quadratic family with leaky_relu, sigmoid or softplus; not
        hardtanh, odd under either)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(64)
        t = torch.as_tensor(nodes)
        g = self.generator_transform(t) if self.truncated else self.activation.forward(t)
        return abs(float((torch.as_tensor(weights) * g).sum()) / math.sqrt(2 * math.pi)) > 1e-9

    def curvature(self, y: torch.Tensor, real: list[torch.Tensor]) -> float:
        """A bound on the generator's curvature in this game near the target, from a real sample
        y [n, d] and its moments `real` ([E u, E uuᵀ] or [E u], as `moments` gives them).

        With V at its best response the generator descends ½‖m(data) − m(G_W)‖² (λ = 1), whose
        Gauss–Newton curvature is ‖J‖², J = ∂m(G_W)/∂W. With a = g'(z) ⊙ Δx the change of the
        features u = g(z) along a direction Δ (‖Δ‖_F = 1), Cauchy–Schwarz gives
        ‖∂E u‖² ≤ E‖a‖² and ‖∂E uuᵀ‖_F² ≤ 4 E‖a‖² · λ_max(E uuᵀ), and E‖a‖² ≈ ḡ², the mean
        square slope of g at the data's pre-activations. So h ≤ ḡ² (1 + 4 λ_max(E uuᵀ)), both
        read off the real sample (at the target, E uuᵀ of the generator is the data's). For relu
        λ_max grows like d/(2π)·tr Σ*/d (the features' mean), which is why a fixed step fails at
        large d; for an injective φ under truncation it is λ_max(Σ*) = 1, whatever d. For hardtanh
        (odd: no mean mode) ḡ² is the fraction of the data inside (−1, 1), and λ_max(E uuᵀ) stays
        O(1) as d grows: measured on the targets (κ = 4) at d = 8 and 64, ḡ² ≈ 0.83, λ_max ≈ 0.27
        (truncated) and 0.65–0.70 (quadratic), so h ≈ 1.7–1.8 and 3.0–3.1.
        """
        bound = 1.0 + (4.0 * float(torch.linalg.eigvalsh(real[1])[-1]) if self.second_moments else 0.0)
        return self._mean_slope_sq(y) * bound

    def _mean_slope_sq(self, y: torch.Tensor) -> float:
        """ḡ²: the mean over y's entries of g'(z)², z the pre-activation of y (g' = 1 inside φ's
        invertible region under truncation, φ'(φ⁻¹(y)) there otherwise; 0 outside), by row chunks:
        the elementwise temporaries of a whole large sample would cost several times its memory."""
        total = 0.0
        for chunk in y.split(_SLOPE_CHUNK_ROWS):
            inside = self.activation.in_region(chunk)
            if self.truncated:
                total += float(inside.sum())
                continue
            safe = chunk.masked_fill(~inside, _inside_point(self.activation))
            slope = self.activation.derivative(self.activation.inverse(safe)).masked_fill_(~inside, 0.0)
            total += float(slope.square().sum())
        return total / y.numel()

    def moments(self, u: torch.Tensor) -> list[torch.Tensor]:
        """[E u] or [E u, E u uᵀ] over the sample axis of u: [R, B, d] → [R, d], [R, d, d]."""
        first = u.mean(dim=-2)
        if not self.second_moments:
            return [first]
        return [first, game_matmul(u.transpose(-1, -2), u) / u.shape[-2]]

    def grads(self, w: torch.Tensor, v: list[torch.Tensor], real: list[torch.Tensor],
              latents: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(∇_W U, ∇_V U) in closed form on one latent batch — what autograd gives, without a graph
        (the training hot path). With u_b = g(z_b), z_b = W x_b:
            ∇_{V_k} U = m_k(data) − m_k(G_W) − λ V_k,
            ∇_W U = −(1/B) Σ_b [g'(z_b) ⊙ (V_1 + (V_2 + V_2ᵀ) u_b)] x_bᵀ.
        `latents` is feature-major, [R, d, B] (one column per sample): at d ≪ B, MKL's batched
        products run about twice as fast this way round as on [R, B, d].

        Given `LatentMoments` (a game linear in x: u = Wx), the same gradients from x̄ and S:
            ∇_{V_1} U = m_1 − W x̄ − λ V_1,  ∇_{V_2} U = m_2 − W S Wᵀ − λ V_2,
            ∇_W U = −V_1 x̄ᵀ − (V_2 + V_2ᵀ) W S.
        """
        if isinstance(latents, LatentMoments):
            fake, ws = self._moments_from_stats(w, latents)
            grad_v = [m_real - m_fake - self.penalty * p for p, m_real, m_fake in zip(v, real, fake)]
            grad_w = -v[0][:, :, None] * latents.mean[:, None, :] - game_matmul(v[1] + v[1].transpose(-1, -2), ws)
            return grad_w, grad_v
        z = game_matmul(w, latents)
        u = self.generator_transform(z)
        fake = self.moments(u.transpose(-1, -2))
        grad_v = [m_real - m_fake - self.penalty * p for p, m_real, m_fake in zip(v, real, fake)]
        grad_u = v[0][:, :, None]
        if self.second_moments:
            grad_u = grad_u + game_matmul(v[1] + v[1].transpose(-1, -2), u)
        else:
            grad_u = grad_u.expand_as(u)
        grad_z = self._generator_transform_backward(grad_u, z)
        grad_w = game_matmul(grad_z, latents.transpose(-1, -2)) / (-latents.shape[-1])
        return grad_w, grad_v

    def init_params(self, games: int, dim: int, dtype: torch.dtype, device: torch.device,
                    generators: Sequence[torch.Generator] | None = None) -> list[torch.Tensor]:
        """V = 0 for every game; `generators` is accepted for a uniform interface and never drawn from."""
        shapes = [(games, dim), (games, dim, dim)][: 2 if self.second_moments else 1]
        return [torch.zeros(shape, dtype=dtype, device=device) for shape in shapes]

    def payoff(self, params: list[torch.Tensor], real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        """U per game, [R]."""
        total = 0.0
        for v, m_real, m_fake in zip(params, real, fake):
            inner = (v * (m_real - m_fake) - 0.5 * self.penalty * v * v).flatten(1)
            total = total + inner.sum(dim=1)
        return total

    def generator_loss(self, params: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        """The W-dependent part of U, −Σ_k ⟨V_k, m_k(G_W)⟩, per game [R]: ∇_W of it is ∇_W U."""
        total = 0.0
        for v, m_fake in zip(params, fake):
            total = total - (v * m_fake).flatten(1).sum(dim=1)
        return total

    def best_response(self, real: list[torch.Tensor], fake: list[torch.Tensor]) -> list[torch.Tensor]:
        return [(m_real - m_fake) / self.penalty for m_real, m_fake in zip(real, fake)]


@dataclass(frozen=True)
class MLPDiscriminator:
    """A small neural discriminator, batched over R independent games — the practitioners' baseline.

    f_V(y) = w₂ᵀ leaky_relu(W₁ y + b₁) + b₂, V = [W₁ [R, h, d], b₁ [R, h], w₂ [R, 1, h], b₂ [R, 1]].
    Every operation is a batched matmul, elementwise, or a reduction along a game's own axis,
    laid out so that a game's numbers do not depend on which other games share the batch
    (bitwise, on the CPU; see `logits`).

    Losses (both not zero-sum, so `zero_sum` is False: ∇_W comes from `generator_loss`, ∇_V from
    `payoff`):
      nonsaturating  D = sigmoid(f). The discriminator ascends U = E log D(real) + E log(1 − D(fake));
                     the generator descends −E log D(fake) (Goodfellow et al. 2014's non-saturating
                     heuristic), not U — so the pair is not a zero-sum game.
      wgan_gp        critic f. U = E f(real) − E f(fake) − γ E (‖∇f(ŷ)‖ − 1)² at interpolates
                     ŷ = ε·real + (1 − ε)·fake (Gulrajani et al. 2017); the generator descends
                     −E f(fake), i.e. U without the penalty (the penalty is the critic's regulariser
                     and is not differentiated for the generator, as in the reference code).
                     The interpolation weights are the fixed stratified grid ε_k = (k + ½)/m over the
                     first m = min(B_real, B_fake) pairs, not ε ~ U(0, 1): real and fake samples are
                     already random and independent, so the interpolates are still a (stratified)
                     sample of the usual distribution, and U stays a deterministic function of
                     (params, real, fake) that needs no random stream of its own.

    This is NOT a bilevel design: U is not concave in V, there is no closed-form best response
    (`best_response` raises), and nothing guarantees that SGDA converges or that the generator
    reaches the target. The per-step "statistics" of a batch are its samples themselves
    (`moments(u) = [u]`, [R, B, d]), so the trainer must use real minibatches (data_batch > 0).
    Its parameters start at random (PyTorch's nn.Linear rule, U(±1/√fan_in)), drawn from each
    game's own torch.Generator: `init_params(..., generators=[one per game])`.
    """

    name: str
    activation: Activation
    hidden: int = 32
    loss: str = "nonsaturating"
    gp_weight: float = 10.0
    slope: float = 0.2  # negative slope of the hidden layer's leaky ReLU

    zero_sum: ClassVar[bool] = False
    linear_in_latents: ClassVar[bool] = False  # fake samples φ(Wx) enter the logits, not moments of Wx
    features_have_mean: ClassVar[bool] = False  # no moment features: its schedule is taken as given

    def __post_init__(self):
        if self.loss not in MLP_LOSSES:
            raise ValueError(f"unknown mlp loss {self.loss!r}; choose one of {', '.join(MLP_LOSSES)}")
        if self.hidden < 1:
            raise ValueError(f"mlp hidden width must be >= 1, got {self.hidden}")

    def data_transform(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def generator_transform(self, z: torch.Tensor) -> torch.Tensor:
        """Fake samples φ(z) from pre-activations z = Wx; differentiable in z."""
        return self.activation.forward(z)

    def curvature(self, y: torch.Tensor, real: list[torch.Tensor]) -> None:
        """No curvature bound: the mlp is not linear in features (its η_W is lr_gen as given)."""
        return None

    def moments(self, u: torch.Tensor) -> list[torch.Tensor]:
        """The batch itself, [R, B, d]: the discriminator sees samples, not summary statistics."""
        return [u]

    def init_params(self, games: int, dim: int, dtype: torch.dtype, device: torch.device,
                    generators: Sequence[torch.Generator] | None = None) -> list[torch.Tensor]:
        """W₁, b₁ ~ U(±1/√d), w₂, b₂ ~ U(±1/√h), drawn in that order from each game's generator."""
        if generators is None or len(generators) != games:
            raise ValueError(
                f"the mlp discriminator starts at random: pass one torch.Generator per game "
                f"(generators=..., {games} expected, got {None if generators is None else len(generators)})")
        shapes = [((self.hidden, dim), dim), ((self.hidden,), dim), ((1, self.hidden), self.hidden),
                  ((1,), self.hidden)]
        params = []
        for shape, fan_in in shapes:
            bound = 1.0 / math.sqrt(fan_in)
            draws = [torch.rand(shape, generator=g, dtype=dtype, device=device) for g in generators]
            params.append((torch.stack(draws) * 2.0 - 1.0) * bound)
        return params

    def logits(self, params: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """f_V(y) per sample: y [R, B, d] → [R, B].

        Computed as two batched matmuls on augmented, zero-padded operands: y ↦ [y, 1, 0…]
        [R, B_e, d_e] (zero rows appended), W₁ ↦ [[W₁, b₁, 0…]; 0…] [R, h_e, d_e], hidden ↦
        [σ(·), 1, 0…] [R, B_e, h_e], w₂ ↦ [[w₂, b₂, 0…]; 0…] [R, a, h_e], where a = 64 bytes in
        elements (8 for float64) and B_e, d_e, h_e are the next multiples of a after B, d + 1,
        h + 1. Padded entries contribute exact zeros, and the biases become matmul columns.
        The reason is bitwise batch invariance on the CPU. Measured with torch 2.13 / MKL: a
        batched matmul rounds differently when a game's output slab starts 16-byte-misaligned
        (a [R, k, d] output with k·d odd), a width-1 matmul takes another path for one game
        than for several, float32 matmuls depend on odd row counts, and autograd's reduction
        over the samples of a broadcast bias can change order with the number of games. With
        this layout every slab is a multiple of 64 bytes and every reduction over samples,
        forward and backward (the gradient penalty's double backward included), is a matmul;
        tests/test_mlp_discriminator.py checks a game alone against the same game in a batch.
        """
        w1, b1, w2, b2 = params
        games, batch, dim = y.shape
        hidden_width = w1.shape[-2]
        align = _align(y)
        d_e, h_e = _round_up(dim + 1, align), _round_up(hidden_width + 1, align)
        ones = torch.ones((games, batch, 1), dtype=y.dtype, device=y.device)
        y_aug = torch.cat([y, ones, y.new_zeros((games, batch, d_e - dim - 1))], dim=-1)
        y_aug = torch.nn.functional.pad(y_aug, (0, 0, 0, _round_up(batch, align) - batch))  # zero sample rows
        w1_aug = torch.cat([w1, b1.unsqueeze(-1)], dim=-1)  # [R, h, d + 1]
        w1_aug = torch.nn.functional.pad(w1_aug, (0, d_e - dim - 1, 0, h_e - hidden_width))
        hidden = torch.nn.functional.leaky_relu(torch.matmul(y_aug, w1_aug.transpose(1, 2)), self.slope)
        # The padded hidden units are exactly 0, so adding e_h sets unit h to exactly 1 (the bias unit).
        bias_unit = torch.zeros(h_e, dtype=y.dtype, device=y.device)
        bias_unit[hidden_width] = 1.0
        hidden = hidden + bias_unit
        w2_aug = torch.cat([w2, b2.unsqueeze(-1)], dim=-1)  # [R, 1, h + 1]
        w2_aug = torch.nn.functional.pad(w2_aug, (0, h_e - hidden_width - 1, 0, align - 1))
        return torch.matmul(hidden, w2_aug.transpose(1, 2))[:, :batch, 0]

    def payoff(self, params: list[torch.Tensor], real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        """The discriminator's objective U per game, [R] (the discriminator ascends it)."""
        (real,), (fake,) = real, fake
        f_real, f_fake = self.logits(params, real), self.logits(params, fake)
        if self.loss == "nonsaturating":
            # log D = −softplus(−f), log(1 − D) = −softplus(f): stable for any logit.
            return -_softplus(-f_real).mean(1) - _softplus(f_fake).mean(1)
        return f_real.mean(1) - f_fake.mean(1) - self.gp_weight * self.gradient_penalty(params, real, fake)

    def generator_loss(self, params: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
        """The generator's loss per game, [R] (it descends this, not U): −E log D(fake) or −E f(fake)."""
        (fake,) = fake
        f_fake = self.logits(params, fake)
        if self.loss == "nonsaturating":
            return _softplus(-f_fake).mean(1)
        return -f_fake.mean(1)

    def gradient_penalty(self, params: list[torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """E (‖∇_y f(ŷ)‖ − 1)² per game [R], at the stratified interpolates (differentiable in V)."""
        m = min(real.shape[1], fake.shape[1])
        eps = (torch.arange(m, dtype=real.dtype, device=real.device) + 0.5) / m
        with torch.enable_grad():
            point = eps[:, None] * real[:, :m] + (1.0 - eps[:, None]) * fake[:, :m]
            if not point.requires_grad:
                point = point.detach().requires_grad_(True)
            # Each sample's logit depends on that sample only, so ∇ of the sum is per sample.
            (grad,) = torch.autograd.grad(self.logits(params, point).sum(), point, create_graph=True)
        return ((torch.linalg.vector_norm(grad, dim=-1) - 1.0) ** 2).mean(1)

    def best_response(self, real, fake):
        raise NotImplementedError(
            "the mlp discriminator has no closed-form best response (it is not a bilevel design); "
            "use the sgda or alt dynamics, not bilevel")


Discriminator = Union[MomentDiscriminator, MLPDiscriminator]


def game_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b over a leading games dimension, bit for bit independent of how many games share it.

    CPU BLAS rounds a product differently when a game's block starts misaligned, which happens
    for [R, d, d] blocks with d odd: the rows of `a` and the columns of `b` are zero-padded to
    multiples of 64 bytes, so every game's block of the product — and of both gradients autograd
    forms from it — starts aligned, whatever R is. Padding only adds exact zeros.
    """
    # bmm when it is one (what matmul would call, without its broadcasting bookkeeping: a hot path).
    product = torch.bmm if a.dim() == b.dim() == 3 else torch.matmul
    align = _align(a)
    rows, cols = a.shape[-2], b.shape[-1]
    pad_rows, pad_cols = -rows % align, -cols % align
    if not pad_rows and not pad_cols:
        return product(a, b)
    a = torch.nn.functional.pad(a, (0, 0, 0, pad_rows))
    b = torch.nn.functional.pad(b, (0, pad_cols))
    return product(a, b)[..., :rows, :cols]


def _align(x: torch.Tensor) -> int:
    """Elements per 64 bytes (8 for float64, 16 for float32)."""
    return max(1, _ALIGN_BYTES // x.element_size())


def _round_up(size: int, multiple: int) -> int:
    return -(-size // multiple) * multiple


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus of [R, B] per game, with each game's row zero-padded to a multiple of 128 bytes.

    CPU elementwise kernels evaluate exp/log1p with SIMD on whole vector blocks and with scalar
    libm on the remainder, and the two differ in the last bit: without the padding, whether a
    game's sample lands in a block or in the remainder would depend on how many games share the
    tensor.
    """
    pad = -x.shape[-1] % (2 * _align(x))
    if not pad:
        return torch.nn.functional.softplus(x)
    return torch.nn.functional.softplus(torch.nn.functional.pad(x, (0, pad)))[..., : x.shape[-1]]


def _inside_point(activation: Activation) -> float:
    lo, hi = activation.region
    if lo > float("-inf") and hi < float("inf"):
        return 0.5 * (lo + hi)
    if lo > float("-inf"):
        return lo + 1.0
    return 0.0


def same_game_as(name: str, activation: Activation) -> str:
    """The family whose game `name` is on φ's data: "quadratic" for "truncated" where the truncation is
    the identity (relu: u = y, the same features, gradients and curvature), else `name` itself."""
    return "quadratic" if name == "truncated" and activation.truncation_is_identity else name


def make_discriminator(name: str, activation: Activation, penalty: float, *, mlp_hidden: int = 32,
                       mlp_loss: str = "nonsaturating", mlp_gp_weight: float = 10.0) -> Discriminator:
    """The named family; `penalty` is λ of the moment families, the mlp_* settings are the mlp's."""
    if name == "mlp":
        return MLPDiscriminator(name, activation, hidden=mlp_hidden, loss=mlp_loss, gp_weight=mlp_gp_weight)
    if name == "linear":
        return MomentDiscriminator(name, activation, penalty, second_moments=False, truncated=False)
    if name == "quadratic":
        return MomentDiscriminator(name, activation, penalty, second_moments=True, truncated=False)
    if name == "truncated":
        return MomentDiscriminator(name, activation, penalty, second_moments=True, truncated=True)
    raise ValueError(f"unknown discriminator {name!r}; choose one of {', '.join(DISCRIMINATORS)}")
