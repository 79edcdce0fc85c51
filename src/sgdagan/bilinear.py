"""The bilinear game U(θ, ω) = θᵀ C ω: the game dynamics against their known stability boundaries.

θ ∈ R^m is the minimising player, ω ∈ R^n the maximising one; the equilibrium is (0, 0) (the only
one when C has full rank and m = n). `BilinearOracle` speaks the same oracle protocol as the GAN
trainer's StepOracle, so the SAME rules of dynamics.py run here — one implementation of each —
batched over R settings at once (each game its own η, and γ for co and pm; one η for both
players). `convergence_grid` runs a grid of (method, η, γ) and sets each measured outcome beside
two independent oracles that never call dynamics.py:

  * the iteration matrix M of each rule, written out by hand (z = (θ, ω), ξ(z) = J z with
    J = [[0, C], [−Cᵀ, 0]], D = diag(η_θ I, η_ω I)):
        sgda  M = I − DJ                           alt   [[I − η_θη_ω CCᵀ, −η_θ C], [η_ω Cᵀ, I]]
        eg    M = I − DJ(I − DJ)                   pm    M = I − γDJ(I − DJ)
        co    M = I − D(J + γJᵀJ)                  omd   [[I − 2DJ, DJ], [I, 0]] on (z_t, z_{t−1})
    whose spectral radius ρ is the exact asymptotic contraction rate (ρ < 1: converges);
  * the exact finite-T prediction ‖z_T‖/‖z_0‖ from iterating those matrices on the same z_0
    (for ttur, whose steps vary in time, the product of its per-step matrices).

The closed forms (one η, singular values σ of C, a = ησ; per mode the map is a complex factor):
    sgda  |λ|² = 1 + a²                   diverges for every η > 0
    alt   |λ| = 1 for a ≤ 2 (det = 1)      never converges; bounded for ησ_max < 2
    eg    |λ|² = 1 − a² + a⁴              converges iff ησ_max < 1
    omd   roots of λ² − (1 + 2ia)λ + ia    converges iff ησ_max < 1/√3
    pm    |λ|² = (1 − γa²)² + γ²a²         converges iff γ(1 + (ησ_max)²) < 2  (γ = 1: eg)
    co    |λ|² = (1 − ηγσ²)² + η²σ²        converges iff η(1 + γ²σ_max²) < 2γ
    ttur  det M_t = 1 + a_t b_t σ² > 1    the product's determinant is ≥ 1: never converges
each also needing σ_min > 0 (a zero singular value leaves a direction that never moves). On this
game pm with (η, γη) and co with (γη, η) are the same map (swap the roles of the two numbers).
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .choices import BILINEAR_METHODS
from .dynamics import get_dynamics
from .trainer import intra_op_threads

GAMMA_METHODS = ("co", "pm")  # the rules with a γ of their own
RESCALE = 1e50  # ‖z‖ beyond [1/RESCALE, RESCALE] is renormalised (the dynamics are linear)
MARGINAL = 1e-9  # |ρ − 1| below this counts as ρ = 1 (bounded: neither converges nor diverges)


class BilinearOracle:
    """U(θ, ω) = θᵀ C ω for R games at once: θ [R, m], ω [R, n], C [m, n] shared.

    The GameOracle protocol of dynamics.py: `grads(w=θ, v=[ω])` → (∇_θ U = C ω, [∇_ω U = Cᵀ θ]).
    """

    def __init__(self, C: torch.Tensor):
        self.C = C

    def payoff(self, theta: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        return ((theta @ self.C) * omega).sum(-1)

    def grads(self, w: torch.Tensor, v: list[torch.Tensor], draw: int = 0, create_graph: bool = False):
        (omega,) = v
        if not create_graph:
            w, omega = w.detach(), omega.detach()
        return omega @ self.C.T, [w @ self.C]

    def best_response(self, w: torch.Tensor, draw: int = 0):
        raise NotImplementedError("U = θᵀCω is linear in ω: it has no maximiser (bilevel is undefined here)")


def make_matrix(C_or_sigma, seed: int = 0) -> np.ndarray:
    """C itself (2-D), or C = U diag(σ) Vᵀ with Haar-random orthogonal U, V from `seed` (1-D σ)."""
    arr = np.asarray(C_or_sigma, dtype=np.float64)
    if arr.ndim == 2:
        return arr
    if arr.ndim != 1 or arr.size == 0 or (arr < 0).any():
        raise ValueError("give C as a matrix or a non-empty 1-D sequence of singular values >= 0")
    rng = np.random.default_rng(seed)
    k = arr.size
    u, _ = np.linalg.qr(rng.standard_normal((k, k)))
    v, _ = np.linalg.qr(rng.standard_normal((k, k)))
    return u @ np.diag(arr) @ v.T


# ---- the independent oracle: iteration matrices ----------------------------------------------

def field_matrix(C: np.ndarray) -> np.ndarray:
    """J with ξ(z) = (∇_θ U, −∇_ω U) = J z: [[0, C], [−Cᵀ, 0]]."""
    m, n = C.shape
    return np.block([[np.zeros((m, m)), C], [-C.T, np.zeros((n, n))]])


def iteration_matrix(method: str, C: np.ndarray, eta: float, gamma: float | None = None,
                     eta_disc: float | None = None) -> np.ndarray:
    """The linear map z_t ↦ z_{t+1} of `method` on U = θᵀCω (omd: on the pair (z_t, z_{t−1}))."""
    m, n = C.shape
    eta_disc = eta if eta_disc is None else eta_disc
    eye = np.eye(m + n)
    J = field_matrix(C)
    D = np.diag(np.r_[np.full(m, eta), np.full(n, eta_disc)])
    DJ = D @ J
    if method == "sgda":
        return eye - DJ
    if method == "alt":
        return np.block([[np.eye(m) - eta * eta_disc * C @ C.T, -eta * C], [eta_disc * C.T, np.eye(n)]])
    if method == "eg":
        return eye - DJ @ (eye - DJ)
    if method == "pm":
        return eye - gamma * DJ @ (eye - DJ)
    if method == "co":
        return eye - D @ (J + gamma * J.T @ J)
    if method == "omd":
        return np.block([[eye - 2 * DJ, DJ], [eye, np.zeros_like(eye)]])
    raise ValueError(f"{method}: no time-invariant iteration matrix")


def spectral_radius(method: str, C: np.ndarray, eta: float, gamma: float | None = None) -> float:
    """ρ(M) (NaN for ttur, whose map changes every step)."""
    if method == "ttur":
        return math.nan
    return float(np.abs(np.linalg.eigvals(iteration_matrix(method, C, eta, gamma))).max())


def ttur_steps(eta, t: int, decay: float):
    """ttur's step sizes at step t (dynamics.ttur with scheduled=False): η/(1+t/τ), η/(1+t/τ)^{2/3}."""
    slow = 1.0 + t / decay
    return eta / slow, eta * slow ** (-2.0 / 3.0)


def exact_log_ratios(method: str, C: np.ndarray, etas: Sequence[float], gammas: Sequence[float | None],
                     z0: np.ndarray, steps: int, ttur_decay: float) -> np.ndarray:
    """log(‖z_T‖/‖z_0‖) per setting, by iterating the hand-written matrices on z_0 (renormalised)."""
    size = C.shape[0] + C.shape[1]
    games = len(etas)
    if method == "ttur":
        J = field_matrix(C)
        z = np.tile(z0, (games, 1))
        log_scale = np.zeros(games)
        for t in range(1, steps + 1):
            a, b = ttur_steps(np.asarray(etas, dtype=np.float64), t, ttur_decay)
            steps_t = np.concatenate([np.repeat(a[:, None], C.shape[0], 1), np.repeat(b[:, None], C.shape[1], 1)], 1)
            z = z - steps_t * (z @ J.T)  # M_t = I − D_t J, D_t = diag(a_t I, b_t I)
            log_scale, z = _renormalise(log_scale, z)
        return log_scale + np.log(np.linalg.norm(z, axis=1) / np.linalg.norm(z0))
    M = np.stack([iteration_matrix(method, C, eta, gamma) for eta, gamma in zip(etas, gammas)])
    if method == "omd":  # the first step is plain GDA; then the map acts on (z_t, z_{t−1})
        first = np.stack([iteration_matrix("sgda", C, eta) @ z0 for eta in etas])
        z = np.concatenate([first, np.tile(z0, (games, 1))], axis=1)
        steps -= 1
    else:
        z = np.tile(z0, (games, 1))
    log_scale = np.zeros(games)
    for _ in range(steps):
        z = np.einsum("rij,rj->ri", M, z)
        log_scale, z = _renormalise(log_scale, z)
    return log_scale + np.log(np.linalg.norm(z[:, :size], axis=1) / np.linalg.norm(z0))


def _renormalise(log_scale: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    norm = np.linalg.norm(z, axis=1)
    out = (norm > 0) & ((norm > RESCALE) | (norm < 1 / RESCALE)) & np.isfinite(norm)
    if out.any():
        log_scale = log_scale + np.where(out, np.log(np.where(out, norm, 1.0)), 0.0)
        z = np.where(out[:, None], z / np.where(out, norm, 1.0)[:, None], z)
    return log_scale, z


def stated_verdict(method: str, eta: float, gamma: float | None, sigma_max: float, sigma_min: float) -> bool:
    """The closed-form boundaries (module docstring): does `method` converge at (η, γ)?

    A point within a relative MARGINAL of the boundary counts as on it (ρ = 1: not converging)."""
    if sigma_min <= 0:
        return False
    a = eta * sigma_max
    below = lambda x, bound: x < bound * (1 - MARGINAL)  # noqa: E731
    if method in ("sgda", "alt", "ttur"):
        return False
    if method == "eg":
        return below(a, 1.0)
    if method == "omd":
        return below(a, 1.0 / math.sqrt(3.0))
    if method == "pm":
        return below(gamma * (1.0 + a * a), 2.0)
    if method == "co":
        return below(eta * (1.0 + (gamma * sigma_max) ** 2), 2.0 * gamma)
    raise ValueError(f"{method}: no stated boundary")


def stated_critical_eta(method: str, sigma_max: float, gamma: float | None = None) -> float:
    """The η at which the closed-form boundary is crossed (0 for sgda; inf if none; alt: ρ = 1 up to 2/σ)."""
    if method in ("sgda", "ttur"):
        return 0.0
    if method == "alt":
        return 2.0 / sigma_max  # the end of the bounded (ρ = 1) region
    if method == "eg":
        return 1.0 / sigma_max
    if method == "omd":
        return 1.0 / (math.sqrt(3.0) * sigma_max)
    if method == "pm":
        return math.sqrt(2.0 / gamma - 1.0) / sigma_max if gamma < 2.0 else 0.0
    if method == "co":
        return 2.0 * gamma / (1.0 + (gamma * sigma_max) ** 2)
    raise ValueError(method)


def exact_critical_eta(method: str, C: np.ndarray, gamma: float | None = None, hi: float = 100.0,
                       tol: float = 1e-10) -> float:
    """The η where the exact ρ(M(η)) first reaches 1, by bisection (ρ < 1 on (0, η*), ρ ≥ 1 beyond).

    For alt it is where ρ leaves 1 (ρ = 1 on the whole bounded region); sgda returns 0."""
    if method in ("sgda", "ttur"):
        return 0.0
    if method == "alt":
        bad = lambda eta: spectral_radius("alt", C, eta) > 1 + MARGINAL  # noqa: E731
    else:
        bad = lambda eta: spectral_radius(method, C, eta, gamma) >= 1 - MARGINAL  # noqa: E731
    lo = 0.0
    if not bad(hi):
        return math.inf
    while hi - lo > tol * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if bad(mid) else (mid, hi)
    return 0.5 * (lo + hi)


# ---- the measured side -------------------------------------------------------------------------

def _theory(method: str, rho: float) -> str:
    if method == "ttur":
        return "does not converge"
    if rho < 1 - MARGINAL:
        return "converges"
    if rho > 1 + MARGINAL:
        return "diverges"
    return "bounded"


def run_batch(method: str, C: torch.Tensor, etas: torch.Tensor, gammas: torch.Tensor | None, z0: torch.Tensor,
              steps: int, ttur_decay: float) -> torch.Tensor:
    """Run R games of `method` from z0 with dynamics.py's rule; log ‖z_t‖, t = 0..steps, as [steps+1, R]."""
    games, m = etas.shape[0], C.shape[0]
    theta = z0[:m].expand(games, -1).clone()
    omega = z0[m:].expand(games, -1).clone()
    step = get_dynamics(method).step
    if method in GAMMA_METHODS:
        step = functools.partial(step, gamma=gammas)
    elif method == "ttur":
        step = functools.partial(step, decay=ttur_decay, scheduled=False)
    oracle, state = BilinearOracle(C), {}
    log_scale = torch.zeros(games, dtype=C.dtype)
    logs = torch.empty((steps + 1, games), dtype=C.dtype)
    logs[0] = torch.log(torch.sqrt(theta.pow(2).sum(1) + omega.pow(2).sum(1)))
    for t in range(1, steps + 1):
        theta, (omega,) = step(oracle, theta, [omega], etas, etas, state)
        norm = torch.sqrt(theta.pow(2).sum(1) + omega.pow(2).sum(1))
        logs[t] = log_scale + torch.log(norm)
        # The rules are linear in z (and their floating state, omd's last gradients, is linear in z
        # too; ttur's step counter is an integer): rescaling everything is exact, and keeps far
        # converged or diverged games inside the floating range.
        out = torch.isfinite(norm) & (norm > 0) & ((norm > RESCALE) | (norm < 1 / RESCALE))
        if out.any():
            scale = torch.where(out, 1.0 / norm, torch.ones_like(norm))
            log_scale = log_scale + torch.where(out, torch.log(norm), torch.zeros_like(norm))
            theta, omega = theta * scale[:, None], omega * scale[:, None]
            state = {k: (s * scale.reshape(-1, *[1] * (s.dim() - 1)) if s.is_floating_point() else s)
                     for k, s in state.items()}
    return logs


def empirical_rate(logs: np.ndarray) -> float:
    """exp of the least-squares slope of log ‖z_t‖ over the second half of the run (after transients)."""
    t = np.arange(logs.size)
    half = logs.size // 2
    tail_t, tail = t[half:], logs[half:]
    keep = np.isfinite(tail)
    if keep.sum() < 2:
        return math.nan
    slope = np.polyfit(tail_t[keep], tail[keep], 1)[0]
    return float(math.exp(slope))


def convergence_grid(methods: Sequence[str], etas: Sequence[float], gammas: Sequence[float], C,
                     steps: int = 1000, seed: int = 0, tol: float = 1e-4, ttur_decay: float = 100.0) -> pd.DataFrame:
    """Measured convergence of each (method, η, γ) on U = θᵀCω, beside the exact theory.

    `C`: a matrix [m, n], or 1-D singular values (C = U diag(σ) Vᵀ, U, V random from `seed`). γ is
    only used by co (‖ξ‖² weight) and pm (full step = γ·η); other methods get one row per η with
    gamma NaN. Every game starts from the same z_0 = (θ_0, ω_0), a standard normal draw from
    `seed` scaled to ‖z_0‖ = 1, and runs `steps` steps with one η for both players.

    Columns:
      method, eta, gamma, eta_sigma_max (η·σ_max), steps;
      dist_init, dist_final: ‖(θ, ω)‖ at the start and end (distance to the equilibrium (0, 0));
      ratio = dist_final/dist_init; rate: the empirical contraction per step (exp of the
      least-squares slope of log‖z_t‖ over the second half of the run);
      outcome: "converged" if ratio ≤ tol, "diverged" if ratio ≥ 1/tol (or not finite), else
      "bounded"; converged = (outcome == "converged") — the stated criterion;
      rho: the exact spectral radius of the iteration matrix (NaN for ttur);
      theory: "converges" (ρ < 1), "diverges" (ρ > 1), "bounded" (ρ = 1), ttur "does not converge";
      theory_converges: theory == "converges";
      stated: the closed-form boundary's verdict (module docstring; DESIGN §5 for sgda, eg, omd);
      ratio_exact: ‖z_T‖/‖z_0‖ from iterating the hand-written matrices on the same z_0;
      expected: the outcome that ratio_exact gives by the same criterion (what T steps can show);
      agrees: outcome == expected.
    """
    with intra_op_threads(1):  # the tensors are tiny: intra-op threads only add overhead (50x on a busy CPU)
        return _convergence_grid(methods, etas, gammas, C, steps, seed, tol, ttur_decay)


def _convergence_grid(methods, etas, gammas, C, steps, seed, tol, ttur_decay) -> pd.DataFrame:
    if steps < 2 or not 0 < tol < 1 or not ttur_decay > 0:
        raise ValueError("need steps >= 2, 0 < tol < 1 and ttur_decay > 0")
    if not all(e > 0 for e in etas) or not all(g > 0 for g in gammas):
        raise ValueError("step sizes η and weights γ must be > 0")
    C = make_matrix(C, seed)
    sigma = np.linalg.svd(C, compute_uv=False)
    sigma_max = float(sigma.max())
    sigma_min = float(sigma.min()) if C.shape[0] == C.shape[1] else 0.0
    gen = torch.Generator().manual_seed(seed)
    z0 = torch.randn(C.shape[0] + C.shape[1], generator=gen, dtype=torch.float64)
    z0 = z0 / z0.norm()
    C_t = torch.as_tensor(C, dtype=torch.float64)
    rows = []
    for method in methods:
        if method not in BILINEAR_METHODS:
            raise ValueError(f"{method}: not defined on the bilinear game (choose from {', '.join(BILINEAR_METHODS)})")
        grid = [(float(e), float(g)) for e in etas for g in gammas] if method in GAMMA_METHODS \
            else [(float(e), math.nan) for e in etas]
        eta_t = torch.tensor([e for e, _ in grid], dtype=torch.float64)
        gamma_t = torch.tensor([g for _, g in grid], dtype=torch.float64)
        logs = run_batch(method, C_t, eta_t, gamma_t, z0, steps, ttur_decay).numpy()
        gammas_or_none = [None if math.isnan(g) else g for _, g in grid]
        log_exact_all = exact_log_ratios(method, C, [e for e, _ in grid], gammas_or_none, z0.numpy(), steps,
                                         ttur_decay)
        for r, ((eta, gamma), g) in enumerate(zip(grid, gammas_or_none)):
            log_ratio = logs[-1, r] - logs[0, r]
            outcome = _outcome(log_ratio, tol)
            rho = spectral_radius(method, C, eta, g)
            theory = _theory(method, rho)
            log_exact = float(log_exact_all[r])
            expected = _outcome(log_exact, tol)
            rows.append({
                "method": method, "eta": eta, "gamma": gamma, "eta_sigma_max": eta * sigma_max, "steps": steps,
                "dist_init": float(math.exp(logs[0, r])), "dist_final": _exp(logs[-1, r]),
                "ratio": _exp(log_ratio), "rate": empirical_rate(logs[:, r]), "outcome": outcome,
                "converged": outcome == "converged", "rho": rho, "theory": theory,
                "theory_converges": theory == "converges",
                "stated": stated_verdict(method, eta, g, sigma_max, sigma_min),
                "ratio_exact": _exp(log_exact), "expected": expected, "agrees": outcome == expected,
            })
    return pd.DataFrame(rows)


def boundary_table(C, gammas: Sequence[float] = (0.5, 1.0), seed: int = 0) -> pd.DataFrame:
    """Per method (and γ): the critical η of the closed-form boundary vs the exact ρ(M(η)) = 1 crossing."""
    C = make_matrix(C, seed)
    sigma_max = float(np.linalg.svd(C, compute_uv=False).max())
    rows = []
    for method in ("sgda", "alt", "eg", "omd", "pm", "co"):
        for gamma in (gammas if method in GAMMA_METHODS else [None]):
            stated = stated_critical_eta(method, sigma_max, gamma)
            exact = exact_critical_eta(method, C, gamma)
            rows.append({"method": method, "gamma": math.nan if gamma is None else gamma,
                         "eta_critical_stated": stated, "eta_critical_exact": exact,
                         "sigma_max_eta_stated": stated * sigma_max, "sigma_max_eta_exact": exact * sigma_max,
                         "discrepancy": abs(stated - exact)})
    return pd.DataFrame(rows)


def _outcome(log_ratio: float, tol: float) -> str:
    if math.isnan(log_ratio) or log_ratio >= -math.log(tol):
        return "diverged"
    return "converged" if log_ratio <= math.log(tol) else "bounded"


def _exp(x: float) -> float:
    return math.exp(x) if x < 700 else math.inf
