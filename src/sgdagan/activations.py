"""Activation registry: forward map, invertible region, inverse, and Gaussian pair moments.

Each activation knows E[φ(z_i)φ(z_j)] for (z_i, z_j) ~ N(0, [[Σ_ii, Σ_ij], [Σ_ij, Σ_jj]]):
closed form for the piecewise-linear family (relu, leaky_relu, identity; hardtanh through the
bivariate normal CDF), 2-D Gauss–Hermite quadrature otherwise (DESIGN §3). The moment-inversion
yardstick and the tests rely on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import numpy as np
import torch
from scipy.special import ndtr, owens_t

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
    there); `preimage` is the open interval (lo, hi) of pre-activations t with φ(t) in `region`.
    The truncated game sees u = t·1{lo < t < hi}: for a preimage (lo, ∞) it truncates on one side
    (relu), for a bounded one on both (hardtanh, whose preimage is (−1, 1)).
    `pair_moment(a, b, c)` is E[φ(z_i)φ(z_j)] with Σ_ii = a, Σ_jj = b, Σ_ij = c (numpy, broadcast).
    `derivative(t)` is φ'(t), for the trainer's closed-form gradients (at a kink, the slope autograd
    takes: the left slope at t = 0 for relu and leaky_relu, 0 at t = ±1 for hardtanh).
    `truncation_is_identity`: φ is the identity on its preimage and 0 off it (relu), so the
    truncated features u are y itself and the truncated game is the quadratic one.
    """

    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    inverse: Callable[[torch.Tensor], torch.Tensor]
    injective: bool
    region: tuple[float, float]
    preimage: tuple[float, float]
    pair_moment: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[torch.Tensor], torch.Tensor]
    truncation_is_identity: bool = False

    def __post_init__(self):
        lo, hi = self.preimage
        if not lo < hi:
            raise ValueError(f"{self.name}: the preimage must be a non-empty open interval (lo, hi), got {self.preimage}")

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


# ---------------------------------------------------------------------------------------------
# Bivariate normal integrals: the exact moments of clipped and truncated Gaussian pairs.
# Conventions: (x, y) standard normal with correlation ρ ∈ [−1, 1], s = √(1 − ρ²); at s = 0 a
# ratio num/s stands for its limit as s → 0⁺, ±∞ by the sign of num, and 0 when num = 0 (the
# value every formula below needs there: Φ(0) = ½ splits the line x = y between the two halves).
# ---------------------------------------------------------------------------------------------

def _npdf(x):
    return np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _over_s(num, s):
    """num / s, with the s = 0 convention above."""
    limit = np.where(num == 0, 0.0, np.copysign(np.inf, num))
    return np.where(s > 0, num / np.where(s > 0, s, 1.0), limit)


def _owen_argument(h, k, rho, s):
    """a_h = (k − ρh)/(h s) in Owen's formula, taken at h = +0 when h = 0 (both sides of h = 0
    give Φ₂ once β is taken with the same convention), and √((1 − ρ)/(1 + ρ)) at h = k = 0 (its
    limit along h = k → 0⁺, which gives the orthant probability ¼ + arcsin(ρ)/(2π))."""
    num = (k - h) + (1.0 - rho) * h  # k − ρh, exact at k = h (the diagonal moments, ρ = 1)
    den = h * s
    ok = den != 0
    ratio = num / np.where(ok, den, 1.0)
    # den = 0: h = 0 (sign of the limit is sign(num)) or s = 0 (sign(num)·sign(h); 0/0 → 0).
    sign_h = np.where(h == 0, 1.0, np.sign(h))
    limit = np.sign(num) * sign_h * np.inf
    origin = (h == 0) & (k == 0)
    half_angle = np.sqrt(np.clip(1.0 - rho, 0.0, None)) / np.sqrt(np.clip(1.0 + rho, 0.0, None))
    limit = np.where(num == 0, 0.0, limit)
    limit = np.where(origin, half_angle, limit)  # 1/0 = inf at ρ = −1: T(0, ∞) = ¼, Φ₂ = 0
    return np.where(ok, ratio, limit)


def bivariate_normal_cdf(h, k, rho):
    """Φ₂(h, k; ρ) = P(x ≤ h, y ≤ k) for standard normals with correlation ρ ∈ [−1, 1] (finite h, k;
    numpy, broadcast), exact up to rounding by Owen's (1956) formula
        Φ₂ = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − β,  a_h = (k − ρh)/(h s),  a_k = (h − ρk)/(k s),
    β = 0 if hk > 0 or (hk = 0 and h + k ≥ 0), else ½, with Owen's T function (scipy.special.owens_t,
    Patefield–Tandy, double precision). Also exact at |ρ| = 1 and h or k = 0 (`_owen_argument`).
    Measured against 30-digit (mpmath) integration of ∫_{−∞}^h φ(x) Φ((k − ρx)/s) dx on a grid of
    h, k ∈ [−6, 5] (0 included) and ρ ∈ [−1, 1] (±0.99999 included): ≤ 2.3e-16 absolute; the
    test holds it to 1e-13 against scipy's quad, whose own error is ~2e-14 there."""
    h, k, rho = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (h, k, rho)))
    rho = np.clip(rho, -1.0, 1.0)
    s = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        a_h, a_k = _owen_argument(h, k, rho, s), _owen_argument(k, h, rho, s)
    hk = h * k
    beta = np.where((hk > 0) | ((hk == 0) & (h + k >= 0)), 0.0, 0.5)
    value = 0.5 * ndtr(h) + 0.5 * ndtr(k) - owens_t(h, a_h) - owens_t(k, a_k) - beta
    return np.clip(value, 0.0, 1.0)


def _upper_orthant(h, k, rho):
    """(P, E[x 1], E[y 1], E[xy 1]) on {x > h, y > k}, (x, y) standard with correlation ρ.

    By Stein's identity E[x f(x, y)] = E[∂_x f + ρ ∂_y f] with f = y·1{x > h}·1{y > k}, and
    y | x = h ~ N(ρh, s²):
        E[x 1] = φ(h) Q(η_k) + ρ φ(k) Q(η_h),   η_k = (k − ρh)/s,  η_h = (h − ρk)/s,
        E[xy 1] = ρP + ρh φ(h) Q(η_k) + ρk φ(k) Q(η_h) + s φ(h) φ(η_k),
    Q = 1 − Φ, P = Φ₂(−h, −k; ρ). At s = 0 the convention above gives the 1-D limits."""
    s = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    eta_k, eta_h = _over_s((k - h) + (1.0 - rho) * h, s), _over_s((h - k) + (1.0 - rho) * k, s)
    q_k, q_h = ndtr(-eta_k), ndtr(-eta_h)
    p = bivariate_normal_cdf(-h, -k, rho)
    f_h, f_k = _npdf(h), _npdf(k)
    ex = f_h * q_k + rho * f_k * q_h
    ey = f_k * q_h + rho * f_h * q_k
    exy = rho * p + rho * h * f_h * q_k + rho * k * f_k * q_h + s * f_h * _npdf(eta_k)
    return p, ex, ey, exy


def _pair_args(a, b, c):
    """Broadcast float64 (a, b, c), the standard deviations with 0 replaced by 1 (callers mask
    those entries), whether both are positive, and ρ clipped to [−1, 1]."""
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    sa, sb = np.sqrt(np.clip(a, 0.0, None)), np.sqrt(np.clip(b, 0.0, None))
    positive = (sa > 0) & (sb > 0)
    sa_safe, sb_safe = np.where(sa > 0, sa, 1.0), np.where(sb > 0, sb, 1.0)
    # c/√(ab), not c/(√a√b): √(fl(a·a)) = a exactly, so the diagonal moment (a, a, a) sits at ρ = 1,
    # where the moment has a √(1 − ρ) singularity (a rounding of ρ by eps would move it by ~√eps).
    scale = np.sqrt(np.where(positive, a * b, 1.0))
    rho = np.clip(np.where(positive, c / scale, 0.0), -1.0, 1.0)
    return sa, sb, sa_safe, sb_safe, positive, rho


def _shifted_relu_mean(sigma, shift):
    """E[(z − shift)₊], z ~ N(0, σ²) with σ > 0: σ φ(shift/σ) − shift Q(shift/σ)."""
    h = shift / sigma
    return sigma * _npdf(h) - shift * ndtr(-h)


def _check_interval(lo: float, hi: float, *, finite: bool) -> None:
    if not lo < hi or (finite and not (math.isfinite(lo) and math.isfinite(hi))):
        raise ValueError(f"need lo < hi{' both finite' if finite else ''}, got ({lo}, {hi})")


def clip_pair_moment(a, b, c, lo: float, hi: float):
    """E[clip(z_i, lo, hi) clip(z_j, lo, hi)] for (z_i, z_j) ~ N(0, [[a, c], [c, b]]), finite lo < hi,
    exact (numpy, broadcast; a or b = 0 allowed, |ρ| = 1 included).

    clip(t) = lo + (t − lo)₊ − (t − hi)₊, so the moment is lo² + lo(E R_i + E R_j) + E[R_i R_j]
    with R = (z − lo)₊ − (z − hi)₊, and E[R_i R_j] is a signed sum over the four corners
    (α, β) ∈ {lo, hi}² of E[(z_i − α)₊ (z_j − β)₊] = E[z_i z_j 1] − β E[z_i 1] − α E[z_j 1] + αβ P
    on {z_i > α, z_j > β} (`_upper_orthant`, through the bivariate normal CDF: no quadrature across
    the kinks). hardtanh is [−1, 1]; relu6 would be [0, 6]. Measured against scipy's dblquad over
    the 9 smooth pieces (tests/test_activations.py): ≤ 4e-14 absolute for variances 0.04 to 100 and
    |ρ| up to 0.9999. The corner terms are O(a) and cancel to an O(1) moment, so the absolute error
    grows like 1e-16·max(a, b): 2e-14 at a = b = 100, 3e-13 at 1e4, 1e-10 at 1e6 (measured at
    ρ = 1 against the 1-D closed form) — far below the data's noise at the targets' Σ_ii ≤ 1.
    By Price's theorem its derivative in c is P(lo < z_i < hi, lo < z_j < hi) > 0: strictly
    increasing in c on [−√(ab), √(ab)], as pair inversion needs; E[clip(z)²] is increasing in a.
    """
    _check_interval(lo, hi, finite=True)
    sa, sb, sa_safe, sb_safe, positive, rho = _pair_args(a, b, c)
    ends = ((lo, 1.0), (hi, -1.0))
    mean_i = sum(sign * _shifted_relu_mean(sa_safe, end) for end, sign in ends)  # E R_i (if sa > 0)
    mean_j = sum(sign * _shifted_relu_mean(sb_safe, end) for end, sign in ends)
    cross = 0.0
    for alpha, s_alpha in ends:
        for beta, s_beta in ends:
            p, ex, ey, exy = _upper_orthant(alpha / sa_safe, beta / sb_safe, rho)
            corner = sa_safe * sb_safe * exy - beta * sa_safe * ex - alpha * sb_safe * ey + alpha * beta * p
            cross = cross + s_alpha * s_beta * corner
    value = lo * lo + lo * (mean_i + mean_j) + cross
    # A zero variance: that coordinate is the constant clip(0), the other's mean is lo + E R.
    at_zero = min(max(0.0, lo), hi)
    one_sided = at_zero * np.where(sa > 0, lo + mean_i, np.where(sb > 0, lo + mean_j, at_zero))
    return np.where(positive, value, one_sided)


def truncated_first_moment(a, lo: float, hi: float):
    """E[z 1{lo < z < hi}], z ~ N(0, a): σ(φ(lo/σ) − φ(hi/σ)) (infinite ends allowed; 0 at a = 0)."""
    _check_interval(lo, hi, finite=False)
    a = np.asarray(a, dtype=np.float64)
    sigma = np.sqrt(np.clip(a, 0.0, None))
    safe = np.where(sigma > 0, sigma, 1.0)
    value = safe * (_npdf(lo / safe) - _npdf(hi / safe))  # φ(±∞) = 0
    return np.where(sigma > 0, value, 0.0)


def truncated_pair_moment(a, b, c, lo: float, hi: float):
    """E[z_i 1{lo < z_i < hi} · z_j 1{lo < z_j < hi}] for (z_i, z_j) ~ N(0, [[a, c], [c, b]]): the
    map Σ → E[u uᵀ] that the truncated discriminator matches when φ's preimage is (lo, hi)
    (numpy, broadcast; lo = −∞ or hi = ∞ allowed; exact, like `clip_pair_moment`).

    z 1{lo < z < hi} = z (1{z > lo} − 1{z > hi}) (an infinite end drops its indicator), so the
    moment is a signed sum of E[z_i z_j 1{z_i > α, z_j > β}] over the finite ends (`_upper_orthant`),
    with E[z_i z_j 1{z_i > α}] = c (Q(h) + h φ(h)), h = α/√a, where z_j's side is unrestricted.

    Error as `clip_pair_moment`'s: ≤ 5e-14 against dblquad at the variances tested (≤ 100).
    Unlike a clipped pair moment it is NOT monotone in Σ_ii when both ends are finite: for
    (−1, 1), E[z² 1{|z| < 1}] rises from 0 to its maximum ≈ 0.2140 at a ≈ 0.534 and falls back to 0
    like 1/√a, so a diagonal moment below the maximum has two preimages (tests/test_activations.py).
    Off the diagonal it is strictly increasing in Σ_ij on every (Σ_ii, Σ_jj) tested. So matching
    E[uuᵀ] does not identify Σ for hardtanh: the targets' Σ*_ii (κ = 4: in [¼, 1]) straddle the
    maximum, and for the d = 8, seed 0 target a positive definite Σ ≠ Σ* (relative Frobenius
    distance 0.36) has the same E[uuᵀ] to 1e-14 — the truncated game, not this map, is at fault.
    """
    _check_interval(lo, hi, finite=False)
    sa, sb, sa_safe, sb_safe, positive, rho = _pair_args(a, b, c)
    # Each side: [(end, sign)], end None when that indicator is 1 (lo = −∞); hi = ∞ contributes nothing.
    ends = [(None if lo == -math.inf else lo, 1.0)] + ([(hi, -1.0)] if hi != math.inf else [])
    total = 0.0
    for alpha, s_alpha in ends:
        for beta, s_beta in ends:
            if alpha is None and beta is None:
                term = rho
            elif alpha is None or beta is None:
                h = (alpha / sa_safe) if beta is None else (beta / sb_safe)
                term = rho * (ndtr(-h) + h * _npdf(h))
            else:
                term = _upper_orthant(alpha / sa_safe, beta / sb_safe, rho)[3]
            total = total + s_alpha * s_beta * term
    return np.where(positive, sa_safe * sb_safe * total, 0.0)


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


def _interval_indicator(t: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """1{lo < t < hi} in t's dtype: the slope of clip(t, lo, hi) as autograd takes it (0 at the kinks)."""
    return _in_interval(t, (lo, hi)).to(t.dtype)


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
            partial(_piecewise_linear_derivative, neg_slope=0.0), truncation_is_identity=True,
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
    if name == "hardtanh":
        # Not injective: invertible (the identity) only on (−1, 1); the truncated game truncates on both sides.
        return Activation(
            name, torch.nn.functional.hardtanh, _identity, False, (-1.0, 1.0), (-1.0, 1.0),
            partial(clip_pair_moment, lo=-1.0, hi=1.0),
            partial(_interval_indicator, lo=-1.0, hi=1.0),
        )
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
