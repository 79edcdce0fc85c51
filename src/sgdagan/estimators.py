"""Estimators of Σ* without a GAN, on the same data: the yardstick the report compares against.

moment_inversion (DESIGN §6): for injective φ, the empirical covariance of u = φ⁻¹(y) — the
Gaussian maximum-likelihood estimate (mean known to be 0), with E‖Σ*^{-1/2}Σ̂Σ*^{-1/2} − I‖_F²
= d(d+1)/n. Otherwise each pair's moment map is inverted: first Σ_ii from E[φ(z_i)²], then Σ_ij
from E[φ(z_i)φ(z_j)], both monotone (Price's theorem), by vectorised bisection; the result is
projected onto the PSD cone.

Wu, Dimakis & Sanghavi's estimators for ReLU (DESIGN §6) are in wds.py.
"""

from __future__ import annotations

import numpy as np
import torch

from .activations import Activation

_BISECTION_STEPS = 56  # 2⁻⁵⁶ of the bracket: below float64's resolution of its ends


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
