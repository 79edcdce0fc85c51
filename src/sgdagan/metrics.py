"""Distances between the trained generator's covariance Σ = WWᵀ and the target Σ* (DESIGN §4).

What is exact and what is a bound: TV(N(0, Σ), N(0, Σ*)) is estimated by Monte Carlo (with its
standard error) and equals the TV between the laws of φ(Wx) and φ(W*x) exactly when φ is injective
(TV is invariant under an injective map); for relu and hardtanh it is only an upper bound, by data processing.
`sign_pattern_tv_lb` is a lower bound on the ReLU TV. `tv_gaussian_1d` is the exact 1-D formula
(a test oracle); the Frobenius errors are deterministic functions of Σ and Σ*.

All functions take Σ of shape [R, d, d] (R independent games) and Σ* of shape [d, d] or [R, d, d],
work in torch float64 on Σ's device and are pure. A game whose Σ holds a NaN or inf (a diverged
game) gets NaN in every output, and the other games are unaffected. Each game is computed by the
same sequence of operations on tensors of the same shapes whatever R is, so on CPU a game's
numbers are bitwise identical whether it is evaluated alone or in a batch (the small O(d³) linear
algebra runs game by game for that reason; the Monte Carlo loop is chunk-outer, game-inner).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import ndtr

# Whitened eigenvalues are clamped below at this floor in the TV estimator: a singular Σ gives
# TV → 1 instead of inf − inf.
EIG_FLOOR = 1e-30
# Monte Carlo chunks: at most CHUNK_ROWS draws and CHUNK_ELEMENTS normals ([rows, d] float64,
# ≤ 32 MiB) at a time. The chunk size depends on d only, never on R (batch invariance); CHUNK_ROWS
# stays below torch's parallel grain size (32768), so torch never splits a game's reductions across
# threads and their summation order does not depend on the thread count.
CHUNK_ROWS = 2**14
CHUNK_ELEMENTS = 2**22


def _as_batches(sigma: torch.Tensor, sigma_star: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ as float64 [R, d, d]; Σ* as float64 [d, d] or [R, d, d] on Σ's device, both symmetrized."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    if sigma.ndim != 3 or sigma.shape[-1] != sigma.shape[-2]:
        raise ValueError(f"sigma must have shape [R, d, d], got {tuple(sigma.shape)}")
    sigma_star = torch.as_tensor(sigma_star, dtype=torch.float64, device=sigma.device)
    d = sigma.shape[-1]
    if sigma_star.shape not in ((d, d), (sigma.shape[0], d, d)):
        raise ValueError(f"sigma_star must have shape [{d}, {d}] or [R, {d}, {d}], got {tuple(sigma_star.shape)}")
    sym = lambda m: 0.5 * (m + m.transpose(-1, -2))
    return sym(sigma), sym(sigma_star)


def _star(sigma_star: torch.Tensor, g: int) -> torch.Tensor:
    return sigma_star if sigma_star.ndim == 2 else sigma_star[g]


def _finite_games(sigma: torch.Tensor) -> list[bool]:
    return torch.isfinite(sigma).flatten(1).all(dim=1).tolist()


def _inv_sqrt(sigma_star: torch.Tensor) -> torch.Tensor:
    """Σ*^{-1/2} by the symmetric eigendecomposition; Σ* must be positive definite."""
    mu, q = torch.linalg.eigh(sigma_star)
    if not bool(mu.min() > 0):
        raise ValueError("sigma_star must be positive definite")
    return (q * mu.rsqrt()) @ q.T


def whitened_eigvals(sigma: torch.Tensor, sigma_star: torch.Tensor) -> torch.Tensor:
    """Eigenvalues (ascending) of Σ*^{-1/2} Σ Σ*^{-1/2}, shape [R, d]; NaN rows for non-finite Σ
    (or a Σ so large that the whitened matrix overflows).

    When a game's Σ equals Σ* exactly, its eigenvalues are exactly 1 (the distributions are equal).
    """
    sigma, sigma_star = _as_batches(sigma, sigma_star)
    r, d = sigma.shape[0], sigma.shape[-1]
    out = torch.full((r, d), math.nan, dtype=torch.float64, device=sigma.device)
    shared = _inv_sqrt(sigma_star) if sigma_star.ndim == 2 else None
    for g, finite in enumerate(_finite_games(sigma)):
        if not finite:
            continue
        s, s_star = sigma[g].clone(), _star(sigma_star, g).clone()
        if torch.equal(s, s_star):
            out[g] = 1.0
            continue
        a = shared if shared is not None else _inv_sqrt(s_star)
        m = a @ s @ a
        if bool(torch.isfinite(m).all()):  # an overflowing (diverged) game stays NaN
            out[g] = torch.linalg.eigvalsh(0.5 * (m + m.T))
    return out


def tv_gaussian_mc(
    sigma: torch.Tensor, sigma_star: torch.Tensor, num_samples: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """TV(N(0, Σ), N(0, Σ*)) per game by the mixture Monte Carlo estimator; returns (tv, se), [R] each.

    In the whitened basis the pair is p = N(0, I) vs q = N(0, Λ), Λ the whitened eigenvalues, and
    TV = E_{X~M} |tanh(½ log p(X)/q(X))| with M = ½(p + q); the integrand lies in [0, 1]. Half of
    the m = 2·(num_samples // 2) draws come from each component: X = ξ for p and X = √Λ ξ' for q,
    with the standard normals ξ, ξ' drawn once from a CPU generator seeded with `seed` (common
    random numbers: every game sees the same ξ). Then
        log p/q (ξ)    = ½ Σ_i ξ_i² (1/λ_i − 1) + ½ Σ_i log λ_i,
        log p/q (√Λξ') = ½ Σ_i ξ'_i² (1 − λ_i) + ½ Σ_i log λ_i,
    O(m·d) per game. se is the sample standard deviation of the integrand over all m draws / √m
    (slightly conservative: it ignores the stratification into two equal halves). Eigenvalues are
    clamped below at EIG_FLOOR, so a singular Σ gives TV → 1. Non-finite Σ gives (NaN, NaN).
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2, got {num_samples}")
    lam = whitened_eigvals(sigma, sigma_star)
    r, d = lam.shape
    device = lam.device
    half = num_samples // 2
    m = 2 * half
    ok = [g for g, row in enumerate(torch.isfinite(lam).all(dim=1).tolist()) if row]

    lam = lam.clamp(min=EIG_FLOOR)
    coef_p = 0.5 * (1.0 / lam - 1.0)  # [R, d], elementwise and exactly rounded: batch invariant
    coef_q = 0.5 * (1.0 - lam)
    offset = {g: 0.5 * torch.log(lam[g].clone()).sum() for g in ok}

    # Running mean and sum of squared deviations per game, merged chunk by chunk (Chan et al.).
    count = 0
    mean = torch.zeros(r, dtype=torch.float64, device=device)
    m2 = torch.zeros(r, dtype=torch.float64, device=device)
    gen = torch.Generator().manual_seed(seed)
    rows = max(1, min(CHUNK_ROWS, CHUNK_ELEMENTS // d))
    for coef in (coef_p, coef_q):
        for start in range(0, half, rows):
            n = min(rows, half - start)
            xi = torch.randn(n, d, generator=gen, dtype=torch.float64)
            sq = xi.square_().T.contiguous().to(device)  # [d, n]
            for g in ok:
                # Σ_i c_gi ξ_i² in the fixed order i = 0, …, d−1, by separate multiplies and adds
                # (exactly rounded elementwise operations), then the transcendental and reduction
                # kernels, all on this game's own [n] tensors: nothing depends on R.
                c = coef[g]
                log_ratio = offset[g].expand(n).clone()
                for i in range(d):
                    log_ratio.add_(sq[i] * c[i])
                h = torch.tanh(0.5 * log_ratio).abs_()
                h_mean = h.mean()
                h_m2 = (h - h_mean).square_().sum()
                delta = h_mean - mean[g]
                total = count + n
                mean[g] = mean[g] + delta * (n / total)
                m2[g] = m2[g] + h_m2 + delta * delta * (count * n / total)
            count += n

    tv = torch.full((r,), math.nan, dtype=torch.float64, device=device)
    se = torch.full((r,), math.nan, dtype=torch.float64, device=device)
    if ok:
        idx = torch.tensor(ok, device=device)
        tv[idx] = mean[idx]
        se[idx] = (m2[idx] / (m - 1)).sqrt() / math.sqrt(m)
    return tv, se


def tv_gaussian_1d(var1, var2) -> np.ndarray:
    """Exact TV(N(0, var1), N(0, var2)), vectorized over broadcast numpy inputs (DESIGN §4).

    With σ₁ < σ₂ the densities cross at ±x*, x* = σ₁σ₂ √(2 ln(σ₂/σ₁) / (σ₂² − σ₁²)), and
    TV = 2[Φ(x*/σ₁) − Φ(x*/σ₂)]; 0 when the variances are equal, 1 when exactly one is 0.
    """
    v1, v2 = np.broadcast_arrays(np.asarray(var1, dtype=np.float64), np.asarray(var2, dtype=np.float64))
    if np.any(v1 < 0) or np.any(v2 < 0):
        raise ValueError("variances must be non-negative")
    lo, hi = np.minimum(v1, v2), np.maximum(v1, v2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 2 ln(σ₂/σ₁) / (σ₂² − σ₁²) = log1p((hi − lo)/lo) / (hi − lo), accurate for close variances.
        x_star = np.sqrt(lo * hi * np.log1p((hi - lo) / lo) / (hi - lo))
        tv = 2.0 * (ndtr(x_star / np.sqrt(lo)) - ndtr(x_star / np.sqrt(hi)))
    tv = np.where(lo == hi, 0.0, tv)
    tv = np.where((lo == 0) & (hi > 0), 1.0, tv)
    tv = np.where(np.isnan(v1) | np.isnan(v2), np.nan, tv)
    return tv[()] if tv.ndim == 0 else tv


def frobenius_errors(sigma: torch.Tensor, sigma_star: torch.Tensor, whitened: bool = True) -> dict[str, torch.Tensor]:
    """Per-game Frobenius errors, [R] each (NaN for non-finite Σ):

    `frob_white` = ‖Σ*^{-1/2} Σ Σ*^{-1/2} − I‖_F = √Σ_i (λ_i − 1)² (λ the whitened eigenvalues; NaN
    without `whitened`, for a singular Σ*), `frob_rel` = ‖Σ − Σ*‖_F / ‖Σ*‖_F, `frob_abs` = ‖Σ − Σ*‖_F.
    """
    sigma, sigma_star = _as_batches(sigma, sigma_star)
    lam = whitened_eigvals(sigma, sigma_star) if whitened else None
    r = sigma.shape[0]
    out = {k: torch.full((r,), math.nan, dtype=torch.float64, device=sigma.device)
           for k in ("frob_white", "frob_rel", "frob_abs")}
    for g, finite in enumerate(_finite_games(sigma)):
        if not finite:
            continue
        s_star = _star(sigma_star, g).clone()
        diff = sigma[g].clone() - s_star
        if lam is not None:
            out["frob_white"][g] = (lam[g].clone() - 1.0).square().sum().sqrt()
        out["frob_abs"][g] = diff.square().sum().sqrt()
        out["frob_rel"][g] = out["frob_abs"][g] / s_star.square().sum().sqrt()
    return out


def _sign_bound_one(sigma: torch.Tensor, sigma_star: torch.Tensor) -> torch.Tensor:
    """The sign-pattern lower bound for one game (see `sign_pattern_tv_lb`)."""
    d = sigma.shape[-1]
    var, var_star = sigma.diagonal(), sigma_star.diagonal()
    pos, pos_star = var > 0, var_star > 0
    # Single coordinates: P(z_i > 0) is ½ if Var z_i > 0, else 0.
    best = (0.5 * (pos.double() - pos_star.double()).abs()).max()
    if d == 1:
        return best
    s, s_star = var.clamp(min=0).sqrt(), var_star.clamp(min=0).sqrt()
    rho = (sigma / (s[:, None] * s[None, :])).clamp(-1.0, 1.0)
    rho_star = (sigma_star / (s_star[:, None] * s_star[None, :])).clamp(-1.0, 1.0)
    pair = (torch.asin(rho) - torch.asin(rho_star)).abs() / math.pi
    valid = (pos[:, None] & pos[None, :]) & (pos_star[:, None] & pos_star[None, :])
    valid &= ~torch.eye(d, dtype=torch.bool, device=sigma.device)
    pair = torch.where(valid, pair, torch.zeros_like(pair))
    return torch.maximum(best, pair.max())


def sign_pattern_tv_lb(sigma: torch.Tensor, sigma_star: torch.Tensor) -> torch.Tensor:
    """A lower bound, [R], on TV(law of relu(z), law of relu(z*)), z ~ N(0, Σ), z* ~ N(0, Σ*).

    For a pair (i, j) with positive variances, (1{z_i > 0}, 1{z_j > 0}) has P(+,+) = P(−,−) =
    1/4 + arcsin(ρ_ij)/(2π) and P(+,−) = P(−,+) = 1/4 − arcsin(ρ_ij)/(2π) (orthant formula), so
    the TV between the pair sign laws under Σ and Σ* is exactly |arcsin ρ_ij − arcsin ρ*_ij| / π.
    The pair signs are a function of the full sign pattern 1{z > 0}, which is a function of
    relu(z); by data processing each pair's TV lower-bounds the TV of the sign pattern, hence of the
    ReLU laws, and so does their maximum, which is returned. A coordinate with zero variance
    (z_i ≡ 0) contributes its single-sign TV |P(z_i > 0) − P(z*_i > 0)| ∈ {0, ½} instead. The
    bound is 0 for d = 1 (positive variances), and 0 whenever Σ = DΣ*D with D positive diagonal
    (the correlations, hence the sign laws, are unchanged). NaN for non-finite Σ.
    """
    sigma, sigma_star = _as_batches(sigma, sigma_star)
    out = torch.full((sigma.shape[0],), math.nan, dtype=torch.float64, device=sigma.device)
    for g, finite in enumerate(_finite_games(sigma)):
        if finite:
            out[g] = _sign_bound_one(sigma[g].clone(), _star(sigma_star, g).clone())
    return out


def eval_steps(total_steps: int, count: int, spacing: str = "log") -> list[int]:
    """Sorted unique steps from 1 (log) or total_steps/count (linear) to total_steps inclusive.

    Always contains total_steps (and, log-spaced, 1 when count ≥ 2); fewer than `count` when rounding
    collides. Linear spacing resolves a time-to-target to total_steps/count steps at any step.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, got {total_steps}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if spacing == "linear":
        steps = np.rint(np.linspace(total_steps / count, total_steps, count)).astype(np.int64)
        return sorted({int(s) for s in np.clip(steps, 1, total_steps)})
    if spacing != "log":
        raise ValueError(f"unknown spacing {spacing!r}; choose log or linear")
    if count == 1:
        return [int(total_steps)]
    steps = np.rint(np.logspace(0.0, math.log10(total_steps), count)).astype(np.int64)
    steps = np.clip(steps, 1, total_steps)
    return sorted({int(s) for s in steps} | {1, int(total_steps)})
