"""Wu, Dimakis & Sanghavi (NeurIPS 2019)'s estimators of Σ* = W*W*ᵀ from ReLU samples, no GAN.

wds: the estimator as published (their Algorithm 1; MATLAB code github.com/wushanshan/densityEstimation,
main.m, NormBiasEst.m, projSGD.m) for y = relu(W*x + b*), x ~ N(0, I_k), an unknown bias b* ≥ 0.
The positive samples of y_i are N(b_i, ‖w_i‖²) truncated to (0, ∞); (b_i, ‖w_i‖) are fitted jointly
by maximum likelihood on them (`truncated_normal_mle`) and b̂_i is clipped at 0. For b_i ≥ 0,
y_i > b_i ⇔ w_iᵀx > 0, so θ̂_ij = π − 2π·mean 1{y_i > b̂_i, y_j > b̂_j}; then
Σ̂_ij = ‖ŵ_i‖‖ŵ_j‖cos θ̂_ij, projected onto the PSD cone.

wds_known_bias: the same given b* = 0 (this project's targets): ‖ŵ_i‖² by the half-normal MLE
(`relu_row_norms_sq`), angles thresholded at 0.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import erfcx, log_ndtr

from .estimators import project_psd

WDS_NORMS = ("mle", "psgd")
_NEWTON_STEPS, _HALVINGS = 100, 60
_DECREMENT_TOL = 1e-26  # Newton decrement of the mean NLL on data scaled to E[y²] = 1: the optimum to ~1e-13
_FULL_STEP = 1e-10  # decrement below which Newton is inside its quadratic region: the full step, no line search
_ROW_CHUNK = 1 << 15  # rows per chunk of `half_normal_variances`


def relu_samples(y, name: str) -> np.ndarray:
    """y [n, d] as float64 numpy, checked to be relu outputs (finite, no negative entries)."""
    if isinstance(y, torch.Tensor):
        y = y.detach().to(torch.float64).cpu().numpy()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] < 1:
        raise ValueError(f"{name}: expected samples of shape [n, d], got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"{name}: the samples must be finite")
    if (y < 0).any():
        raise ValueError(f"{name}: the samples must be relu outputs (no negative entries)")
    return y


def half_normal_variances(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Σ̂_ii = mean(y_i² | y_i > 0) [d], count of positive entries [d]) of relu samples at zero bias:
    the closed-form MLE of the half-normal positive part (the zeros' count, Binomial(n, ½) whatever
    Σ_ii, carries no information). 0 for an all-zero column. Row-chunked: no [n, d] temporaries."""
    total, count = np.zeros(y.shape[1]), np.zeros(y.shape[1], dtype=np.int64)
    for start in range(0, y.shape[0], _ROW_CHUNK):
        chunk = y[start : start + _ROW_CHUNK]
        total += (chunk * chunk).sum(axis=0)  # zeros add nothing
        count += (chunk > 0).sum(axis=0)
    return total / np.maximum(count, 1), count


def _positive_moments(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: the count of positive entries and their mean, mean square and variance (0 for none)."""
    positive = y > 0
    count = positive.sum(axis=0)
    total = np.maximum(count, 1)
    mean = np.where(positive, y, 0.0).sum(axis=0) / total
    var = np.where(positive, (y - mean) ** 2, 0.0).sum(axis=0) / total  # centred: exact for a narrow spread
    return count, mean, np.where(positive, y * y, 0.0).sum(axis=0) / total, var


def relu_row_norms_sq(y: np.ndarray, method: str = "mle", *, batch: int = 256, epochs: int = 5,
                      lr: float = 1.0, seed: int = 0) -> np.ndarray:
    """Σ̂_ii = ‖ŵ_i‖² per coordinate by maximum likelihood on the positive samples of y_i, bias 0, [d].

    With zero bias the positive values of y_i are N(0, Σ_ii) truncated to (0, ∞) — a half-normal —
    whose negative log-likelihood in the precision τ = 1/Σ_ii is, per sample, τy²/2 − ½ log τ + const
    (the truncation mass P(z > 0) = ½ does not depend on τ). It is convex with the closed-form
    minimiser τ̂ = 1/mean(y_i² | y_i > 0). The zeros carry no information on Σ_ii (their count is
    Binomial(n, ½) whatever Σ_ii), so this is also the MLE from all of y_i.

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
    """
    y = np.asarray(y, dtype=np.float64)
    second = half_normal_variances(y)[0]
    if method == "mle":
        return second
    if method != "psgd":
        raise ValueError(f"unknown norm method {method!r}; choose one of {', '.join(WDS_NORMS)}")
    positive = y > 0
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


def _angles_sigma(y: np.ndarray, var: np.ndarray, threshold) -> np.ndarray:
    """PSD Σ̂ from var_i = ‖ŵ_i‖², Σ̂_ij = ‖ŵ_i‖‖ŵ_j‖cos θ̂_ij with θ̂ from P̂(y_i > t_i, y_j > t_j)."""
    above = (y > threshold).astype(np.float64)
    theta = orthant_angles(above.T @ above / y.shape[0])
    norm = np.sqrt(var)
    sigma = np.outer(norm, norm) * np.cos(theta)
    np.fill_diagonal(sigma, var)
    return project_psd(sigma)


def wds_known_bias(y, norms: str = "mle", **norm_options) -> np.ndarray:
    """WDS's Σ̂ given b* = 0, from ReLU samples y [n, d] (torch or numpy, all ≥ 0): numpy [d, d], PSD.

    Σ̂_ii from `relu_row_norms_sq` (`norms` = "mle" or "psgd", options passed on), off-diagonal
    Σ̂_ij = √(Σ̂_ii Σ̂_jj)·cos θ̂_ij with θ̂_ij from the frequency of {y_i > 0, y_j > 0} over all n
    samples, then the nearest PSD matrix. Deterministic (psgd's row order comes from its seed).
    """
    y = relu_samples(y, "wds_known_bias")
    return _angles_sigma(y, relu_row_norms_sq(y, norms, **norm_options), 0.0)


def _truncated_moments(mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, ...]:
    """E[y^k], k = 1..4, for y ~ N(μ, σ²) truncated to (0, ∞)."""
    # Inverse Mills ratio φ(α)/(1 − Φ(α)), α = −μ/σ, via erfcx: no 0/0 when μ/σ is very negative.
    mills = np.sqrt(2.0 / np.pi) / erfcx(-mu / (sigma * np.sqrt(2.0)))
    m1 = mu + sigma * mills
    m2 = mu * m1 + sigma**2  # m_k = μ m_{k−1} + (k−1)σ² m_{k−2}: the boundary term vanishes at 0
    m3 = mu * m2 + 2.0 * sigma**2 * m1
    return m1, m2, m3, mu * m3 + 3.0 * sigma**2 * m2


def _mean_nll(tau, eta, mean, var):
    """Mean NLL (+ const) of data with this mean and variance under natural parameters τ = 1/σ², η = μ/σ²."""
    # τ/2·mean((y − μ)²) written as τ/2·((μ − ȳ)² + var): no cancellation of large terms when σ ≪ μ.
    return 0.5 * tau * ((eta / tau - mean) ** 2 + var) - 0.5 * np.log(tau) + log_ndtr(eta / np.sqrt(tau))


def truncated_normal_mle(y) -> tuple[np.ndarray, np.ndarray]:
    """(μ̂, σ̂) [d]: per column, the MLE from its positive entries, taken as N(μ, σ²) truncated to (0, ∞).

    The family is exponential with statistic T = (−y²/2, y) and natural parameters (τ, η) =
    (1/σ², μ/σ²), so the mean NLL is convex there, with gradient E_model[T] − E_data[T] and Hessian
    Cov_model(T). It is minimised exactly, by damped Newton with Armijo backtracking, all columns at
    once, on each column scaled to mean(y²) = 1 and started at the half-normal MLE (τ, η) = (1, 0);
    it stops at a Newton decrement of 1e-26, where E_model[y], E_model[y²] match the data to ~1e-13.
    The authors (NormBiasEst.m, projSGD.m) instead run one pass of projected SGD on the same
    likelihood (standardised data, batches of 10 rejection samples from the current model, steps
    10/t, iterates projected to a box, Polyak average). Exact minimisation reaches the maximiser
    their SGD targets, deterministically and with no step size to tune.

    Edge cases: fewer than 2 positive entries give (0, 0). A maximiser exists iff
    mean(y)² < mean(y²) < 2 mean(y)² (the upper end is the exponential limit μ → −∞, σ → ∞); past
    it the maximiser over μ ≥ 0 (the model's b ≥ 0) is returned, μ = 0 and σ² = mean(y²) (the NLL
    is convex, so the constrained optimum lies on η = 0). Positive values nearly all equal
    (σ/μ ≲ 1e-4) make the Newton system numerically singular; such a column stops where it gets so.
    """
    count, mean, second, var = _positive_moments(relu_samples(y, "truncated_normal_mle"))
    mu, sigma = np.zeros_like(mean), np.zeros_like(mean)
    fit = (count >= 2) & (second < 2.0 * mean**2)
    exponential = (count >= 2) & ~fit
    sigma[exponential] = np.sqrt(second[exponential])
    scale = np.sqrt(second[fit])
    mean, second, var = mean[fit] / scale, np.ones_like(scale), var[fit] / scale**2  # scale-free problem
    tau, eta = np.ones_like(scale), np.zeros_like(scale)
    with np.errstate(divide="ignore", invalid="ignore"):  # a singular Newton system is caught below
        for _ in range(_NEWTON_STEPS):
            m1, m2, m3, m4 = _truncated_moments(eta / tau, 1.0 / np.sqrt(tau))
            g_tau, g_eta = 0.5 * (second - m2), m1 - mean
            h_tt, h_te, h_ee = 0.25 * (m4 - m2**2), -0.5 * (m3 - m1 * m2), m2 - m1**2
            det = h_tt * h_ee - h_te**2
            d_tau, d_eta = (h_te * g_eta - h_ee * g_tau) / det, (h_te * g_tau - h_tt * g_eta) / det
            decrement = -(g_tau * d_tau + g_eta * d_eta)
            # Converged columns, and those whose system is numerically singular, stay where they are.
            active = np.isfinite(decrement) & (decrement > _DECREMENT_TOL)
            if not active.any():
                break
            d_tau, d_eta, decrement = (np.where(active, v, 0.0) for v in (d_tau, d_eta, decrement))
            nll, step = _mean_nll(tau, eta, mean, var), np.ones_like(tau)
            for _ in range(_HALVINGS):
                new_tau = tau + step * d_tau
                new_nll = _mean_nll(np.where(new_tau > 0, new_tau, 1.0), eta + step * d_eta, mean, var)
                accept = (new_tau > 0) & ((new_nll <= nll - 0.25 * step * decrement) | (decrement < _FULL_STEP))
                if accept.all():
                    break
                step = np.where(accept, step, 0.5 * step)
            tau, eta = tau + step * d_tau, eta + step * d_eta
    mu[fit], sigma[fit] = scale * eta / tau, scale / np.sqrt(tau)
    return mu, sigma


def wds(y, return_bias: bool = False):
    """Wu–Dimakis–Sanghavi Σ̂ from y = relu(W*x + b*) [n, d] (torch or numpy, all ≥ 0), b* ≥ 0 unknown.

    Returns numpy Σ̂ [d, d] (PSD), and b̂ [d] too with return_bias. Per coordinate (b̂_i, ‖ŵ_i‖) is
    `truncated_normal_mle` of y_i's positive part; b̂_i = max(0, μ̂_i) as in the authors' main.m (the
    model has b* ≥ 0), ‖ŵ_i‖ = σ̂_i kept from the unclipped fit, as theirs. Angles from the
    frequency of {y_i > b̂_i, y_j > b̂_j} over all n samples, as main.m; then the nearest PSD matrix
    (main.m returns Σ̂ unprojected). Deterministic.
    """
    y = relu_samples(y, "wds")
    mu, norm = truncated_normal_mle(y)
    bias = np.maximum(mu, 0.0)
    sigma = _angles_sigma(y, norm**2, bias)
    return (sigma, bias) if return_bias else sigma
