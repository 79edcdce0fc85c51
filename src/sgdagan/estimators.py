"""Estimators of Σ* without a GAN, on the same data: the yardstick the report compares against.

moment_inversion (DESIGN §6): for injective φ, the empirical covariance of u = φ⁻¹(y) — the
Gaussian maximum-likelihood estimate (mean known to be 0), with E‖Σ*^{-1/2}Σ̂Σ*^{-1/2} − I‖_F²
= d(d+1)/n. Otherwise each pair's moment map is inverted: first Σ_ii from E[φ(z_i)²], then Σ_ij
from E[φ(z_i)φ(z_j)], both monotone (Price's theorem), by vectorised bisection; the result is
projected onto the PSD cone.

wds (DESIGN §6): Wu, Dimakis & Sanghavi (NeurIPS 2019)'s estimator for ReLU, y = relu(W*x) with
zero bias: row norms ‖w_i‖² = Σ_ii from the truncated-normal likelihood of the positive part of
y_i, angles from the orthant frequencies, θ̂_ij = π − 2π·mean 1{y_i > 0, y_j > 0}, then
Σ̂_ij = ‖w_i‖‖w_j‖ cos θ̂_ij projected onto the PSD cone. No GAN, no moment map.
"""

from __future__ import annotations

import numpy as np
import torch

from .activations import Activation

_BISECTION_STEPS = 80


def _bisect_increasing(fn, target: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Solve fn(x) = target elementwise for increasing fn on [lo, hi]; targets outside clip to ends."""
    lo, hi = lo.astype(np.float64).copy(), hi.astype(np.float64).copy()
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = fn(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def project_psd(sigma: np.ndarray) -> np.ndarray:
    """Nearest PSD matrix in Frobenius norm (negative eigenvalues set to 0)."""
    sym = 0.5 * (sigma + sigma.T)
    vals, vecs = np.linalg.eigh(sym)
    return (vecs * np.clip(vals, 0.0, None)) @ vecs.T


def invert_pair_moments(second_moment: np.ndarray, activation: Activation) -> np.ndarray:
    """Σ with E[φ(z)φ(z)ᵀ] = second_moment, entry by entry (before PSD projection)."""
    dim = second_moment.shape[0]
    diag_target = np.diag(second_moment).copy()
    diag_fn = lambda a: activation.pair_moment(a, a, a)  # noqa: E731 - a one-line map for bisection
    hi = np.ones(dim)
    for _ in range(60):  # grow the bracket until it holds every target (pair moments grow with Σ_ii)
        short = diag_fn(hi) < diag_target
        if not short.any():
            break
        hi = np.where(short, 4 * hi, hi)
    var = _bisect_increasing(diag_fn, diag_target, np.zeros(dim), hi)

    i, j = np.triu_indices(dim, k=1)
    a, b = var[i], var[j]
    bound = np.sqrt(a * b)
    cov = _bisect_increasing(lambda c: activation.pair_moment(a, b, c), second_moment[i, j], -bound, bound)
    sigma = np.diag(var)
    sigma[i, j] = sigma[j, i] = cov
    return sigma


def moment_inversion(y: torch.Tensor, activation: Activation) -> np.ndarray:
    """The yardstick Σ̂ from real samples y [n, d] (float64, PSD)."""
    y = y.to(torch.float64)
    if activation.injective:
        u = activation.inverse(y)
        return project_psd((u.T @ u / y.shape[0]).cpu().numpy())
    second_moment = (y.T @ y / y.shape[0]).cpu().numpy()
    return project_psd(invert_pair_moments(second_moment, activation))


WDS_NORMS = ("mle", "psgd")


def relu_row_norms_sq(y: np.ndarray, method: str = "mle", *, batch: int = 256, epochs: int = 5,
                      lr: float = 1.0, seed: int = 0) -> np.ndarray:
    """Σ̂_ii = ‖ŵ_i‖² per coordinate by maximum likelihood on the positive samples of y_i, [d].

    For relu with zero bias the positive values of y_i are N(0, Σ_ii) truncated to (0, ∞) — a
    half-normal — whose negative log-likelihood in the precision τ = 1/Σ_ii is, per sample,
    τy²/2 − ½ log τ + const (the truncation mass P(z > 0) = ½ does not depend on τ). It is convex
    with the closed-form minimiser τ̂ = 1/mean(y_i² | y_i > 0). The zeros carry no information
    on Σ_ii (their count is Binomial(n, ½) whatever Σ_ii), so this is also the MLE from all of y_i.

      mle   the closed form, Σ̂_ii = mean(y_i² | y_i > 0) (the default: exact and deterministic).
      psgd  WDS's route (their NormBiasEst, after Daskalakis et al. 2018): projected SGD on the same
            truncated-normal NLL in the natural parameter τ, here with the bias known to be 0. The
            model's expected sufficient statistic E_τ[z²/2 | z > 0] = 1/(2τ) is used exactly
            instead of by rejection sampling from the current model (same fixed point, less
            noise). Minibatches of rows in a seeded order, all coordinates at once (a
            coordinate's gradient averages its positive entries in the batch); steps
            lr·2/(m̂_i²√t) in τ, with m̂_i = mean(y_i² | y_i > 0) — the inverse curvature 2τ² of
            the NLL at τ = 1/m̂_i, so the step is scale-free; projection onto
            τ ∈ [1/(4 m̂_i), 4/m̂_i]; start τ = 1 projected; the output is the Polyak average of
            the iterates of the last epoch. It converges to the closed form; it is here to
            show that the closed form is what WDS's SGD computes.
    WDS also fit a non-negative bias b_i jointly with ‖w_i‖; this project's targets have b = 0 and
    the estimator is given that knowledge (as DESIGN §6's angle formula assumes).
    """
    y = np.asarray(y, dtype=np.float64)
    positive = y > 0
    count = positive.sum(axis=0)
    second = np.where(positive, y * y, 0.0).sum(axis=0) / np.maximum(count, 1)  # 0 for an all-zero column
    if method == "mle":
        return second
    if method != "psgd":
        raise ValueError(f"unknown norm method {method!r}; choose one of {', '.join(WDS_NORMS)}")
    scale = np.where(second > 0, second, 1.0)
    lo, hi = 0.25 / scale, 4.0 / scale
    tau = np.clip(np.ones_like(scale), lo, hi)
    rng = np.random.default_rng([seed, 0x57D5])
    rows, step = y.shape[0], 0
    for _ in range(epochs):
        order = rng.permutation(rows)
        average, averaged = np.zeros_like(tau), 0
        for start in range(0, rows, batch):
            chunk = order[start : start + batch]
            mask = positive[chunk]
            hits = mask.sum(axis=0)
            # ∇_τ NLL averaged over the batch's positive entries; coordinates with none skip the step.
            grad = (np.where(mask, 0.5 * y[chunk] ** 2, 0.0).sum(axis=0) - 0.5 * hits / tau) / np.maximum(hits, 1)
            step += 1
            tau = np.clip(tau - lr * 2.0 / scale**2 * grad / np.sqrt(step) * (hits > 0), lo, hi)
            averaged += 1
            average += (tau - average) / averaged
    return np.where(second > 0, 1.0 / average, 0.0)


def orthant_angles(both_positive: np.ndarray) -> np.ndarray:
    """θ̂ = π − 2π·P̂(y_i > 0, y_j > 0), clipped to [0, π] (P(z_i > 0, z_j > 0) = (π − θ_ij)/(2π))."""
    return np.clip(np.pi - 2.0 * np.pi * np.asarray(both_positive, dtype=np.float64), 0.0, np.pi)


def wds(y, norms: str = "mle", **norm_options) -> np.ndarray:
    """Wu–Dimakis–Sanghavi Σ̂ from ReLU samples y [n, d] (torch or numpy, all ≥ 0): numpy [d, d], PSD.

    Σ̂_ii from `relu_row_norms_sq` (`norms` = "mle" or "psgd", options passed on), off-diagonal
    Σ̂_ij = √(Σ̂_ii Σ̂_jj)·cos θ̂_ij with θ̂_ij from the frequency of {y_i > 0, y_j > 0} over all n
    samples, then the nearest PSD matrix. Deterministic (psgd's row order comes from its seed).
    """
    if isinstance(y, torch.Tensor):
        y = y.detach().to(torch.float64).cpu().numpy()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 1:
        raise ValueError(f"wds: expected samples of shape [n, d], got {y.shape}")
    if (y < 0).any():
        raise ValueError("wds: the samples must be relu outputs (no negative entries)")
    var = relu_row_norms_sq(y, norms, **norm_options)
    positive = (y > 0).astype(np.float64)
    theta = orthant_angles(positive.T @ positive / y.shape[0])
    norm = np.sqrt(var)
    sigma = np.outer(norm, norm) * np.cos(theta)
    np.fill_diagonal(sigma, var)
    return project_psd(sigma)
