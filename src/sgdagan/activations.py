"""Activation registry: forward map, invertible region, inverse, and Gaussian pair moments.

Each activation knows E[φ(z_i)φ(z_j)] for (z_i, z_j) ~ N(0, [[Σ_ii, Σ_ij], [Σ_ij, Σ_jj]]):
closed form for the piecewise-linear family (relu, leaky_relu, identity), 2-D Gauss–Hermite
quadrature otherwise (DESIGN §3). The moment-inversion yardstick and the tests rely on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import numpy as np
import torch

from .choices import ACTIVATIONS


# Gauss–Hermite order for the smooth activations. Measured relative error against adaptive 1-D
# integration (tests/test_activations.py): ≤ 1e-12 at Σ_ii ≤ 1, the targets' scale (Σ*_ii ≤ 1);
# at Σ_ii = 3 about 1e-7 for tanh and ≤ 1e-15 for sigmoid/softplus; at Σ_ii = 10 about 2e-4 for
# tanh and ≤ 3e-8 for the others. tanh's poles at ±iπ/2 slow the rule as the variance grows.
GAUSS_HERMITE_ORDER = 128


@dataclass(frozen=True)
class Activation:
    """One activation φ and what the game, the estimators and the metrics need to know of it.

    `region` is the open interval of outputs y on which φ is invertible (`inverse` is valid
    there); `preimage` is the interval of pre-activations t with φ(t) in `region`.
    `pair_moment(a, b, c)` is E[φ(z_i)φ(z_j)] with Σ_ii = a, Σ_jj = b, Σ_ij = c (numpy, broadcast).
    `derivative(t)` is φ'(t), for the trainer's closed-form gradients (at the kink t = 0 of relu
    and leaky_relu, the left slope, as autograd takes it).
    """

    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    inverse: Callable[[torch.Tensor], torch.Tensor]
    injective: bool
    region: tuple[float, float]
    preimage: tuple[float, float]
    pair_moment: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[torch.Tensor], torch.Tensor]

    def __post_init__(self):
        if self.preimage[1] != math.inf:
            raise ValueError(f"{self.name}: the truncated game needs a preimage of the form (lo, inf)")

    def in_region(self, y: torch.Tensor) -> torch.Tensor:
        return _in_interval(y, self.region)

    def in_preimage(self, t: torch.Tensor) -> torch.Tensor:
        return _in_interval(t, self.preimage)


def _in_interval(x: torch.Tensor, interval: tuple[float, float]) -> torch.Tensor:
    """x in the open interval, comparing only finite ends (this sits on the training hot path)."""
    lo, hi = interval
    if lo == -math.inf and hi == math.inf:
        return torch.ones_like(x, dtype=torch.bool)
    if hi == math.inf:
        return x > lo
    if lo == -math.inf:
        return x < hi
    return (x > lo) & (x < hi)


def piecewise_linear_pair_moment(a, b, c, neg_slope: float, pos_slope: float = 1.0):
    """E[φ(z_i)φ(z_j)] for φ(t) = neg_slope·min(t, 0) + pos_slope·max(t, 0) (DESIGN §3)."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    scale = np.sqrt(a * b)
    rho = np.divide(c, scale, out=np.zeros_like(c), where=scale > 0)
    theta = np.arccos(np.clip(rho, -1.0, 1.0))
    gap = (neg_slope - pos_slope) ** 2
    det = np.sqrt(np.clip(a * b - c * c, 0.0, None))
    return gap / (2 * np.pi) * det + ((neg_slope**2 + pos_slope**2) / 2 - gap * theta / (2 * np.pi)) * c


@lru_cache(maxsize=4)
def _hermite_grid(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes and weights on the 2-D product grid (weights sum to 1)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(order)
    weights = weights / math.sqrt(2 * math.pi)
    xi1, xi2 = np.meshgrid(nodes, nodes, indexing="ij")
    return xi1.ravel(), xi2.ravel(), np.outer(weights, weights).ravel()


def quadrature_pair_moment(a, b, c, fn: Callable[[np.ndarray], np.ndarray], order: int = GAUSS_HERMITE_ORDER):
    """E[fn(z_i) fn(z_j)] by 2-D Gauss–Hermite: z_i = √a ξ₁, z_j = √b (ρ ξ₁ + √(1−ρ²) ξ₂)."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    xi1, xi2, w = _hermite_grid(order)
    sa, sb = np.sqrt(a)[..., None], np.sqrt(b)[..., None]
    scale = sa * sb
    rho = np.clip(np.divide(c[..., None], scale, out=np.zeros_like(scale), where=scale > 0), -1.0, 1.0)
    zi = sa * xi1
    zj = sb * (rho * xi1 + np.sqrt(1.0 - rho**2) * xi2)
    return (fn(zi) * fn(zj)) @ w


def _np_sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _np_softplus(t):
    return np.logaddexp(0.0, t)


def _leaky_relu_inverse(y: torch.Tensor, slope: float) -> torch.Tensor:
    return torch.where(y >= 0, y, y / slope)


def _softplus_inverse(y: torch.Tensor) -> torch.Tensor:
    # log(exp(y) − 1) written to stay finite for small and large y.
    return y + torch.log(-torch.expm1(-y))


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _piecewise_linear_derivative(t: torch.Tensor, neg_slope: float) -> torch.Tensor:
    return torch.where(t > 0, torch.ones_like(t), torch.full_like(t, neg_slope))


def _tanh_derivative(t: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(t) ** 2


def _sigmoid_derivative(t: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(t)
    return s * (1.0 - s)


INF = math.inf


def get_activation(name: str, leaky_slope: float = 0.2) -> Activation:
    """The registry entry for `name` (one of ACTIVATIONS)."""
    if name == "relu":
        return Activation(
            name, torch.relu, _identity, False, (0.0, INF), (0.0, INF),
            partial(piecewise_linear_pair_moment, neg_slope=0.0),
            partial(_piecewise_linear_derivative, neg_slope=0.0),
        )
    if name == "leaky_relu":
        if not 0.0 < leaky_slope < 1.0:
            raise ValueError(f"leaky_slope must be in (0, 1), got {leaky_slope}")
        return Activation(
            name, partial(torch.nn.functional.leaky_relu, negative_slope=leaky_slope),
            partial(_leaky_relu_inverse, slope=leaky_slope), True, (-INF, INF), (-INF, INF),
            partial(piecewise_linear_pair_moment, neg_slope=leaky_slope),
            partial(_piecewise_linear_derivative, neg_slope=leaky_slope),
        )
    if name == "identity":
        return Activation(
            name, _identity, _identity, True, (-INF, INF), (-INF, INF),
            partial(piecewise_linear_pair_moment, neg_slope=1.0), torch.ones_like,
        )
    if name == "tanh":
        return Activation(
            name, torch.tanh, torch.atanh, True, (-1.0, 1.0), (-INF, INF),
            partial(quadrature_pair_moment, fn=np.tanh), _tanh_derivative,
        )
    if name == "sigmoid":
        return Activation(
            name, torch.sigmoid, torch.logit, True, (0.0, 1.0), (-INF, INF),
            partial(quadrature_pair_moment, fn=_np_sigmoid), _sigmoid_derivative,
        )
    if name == "softplus":
        return Activation(
            name, torch.nn.functional.softplus, _softplus_inverse, True, (0.0, INF), (-INF, INF),
            partial(quadrature_pair_moment, fn=_np_softplus), torch.sigmoid,
        )
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
