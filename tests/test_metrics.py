"""Tests of sgdagan.metrics against independent oracles (scipy integration, numpy closed forms,
plain Monte Carlo of the sign law) and against exact properties (batch invariance, NaN isolation,
invariance under a change of basis, the Devroye–Mehrabian–Reddad bounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from sgdagan import metrics
from sgdagan.metrics import (
    eval_steps,
    frobenius_errors,
    sign_pattern_tv_lb,
    tv_gaussian_1d,
    tv_gaussian_mc,
    whitened_eigvals,
)

F64 = torch.float64


def random_spd(d: int, rng: np.random.Generator, jitter: float = 0.1) -> np.ndarray:
    w = rng.standard_normal((d, d)) / math.sqrt(d)
    return w @ w.T + jitter * np.eye(d)


def batch(*mats) -> torch.Tensor:
    return torch.tensor(np.stack(mats), dtype=F64)


# ---------------------------------------------------------------- exact 1-D formula (the oracle)


@pytest.mark.parametrize("v1, v2", [(1.0, 4.0), (2.0, 0.5), (1.0, 1.001), (0.01, 3.0), (7.0, 7.0)])
def test_tv_1d_matches_numerical_integration(v1, v2):
    """½∫|p − q| by adaptive quadrature (split at the crossing points) agrees to 1e-10."""
    p, q = stats.norm(scale=math.sqrt(v1)).pdf, stats.norm(scale=math.sqrt(v2)).pdf
    half = lambda a, b: integrate.quad(lambda x: abs(p(x) - q(x)), a, b, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
    if v1 == v2:
        oracle = 0.0
    else:
        lo, hi = sorted((v1, v2))
        x_star = math.sqrt(lo * hi * math.log(hi / lo) / (hi - lo))
        oracle = half(0.0, x_star) + half(x_star, np.inf)  # ½ · 2 · ∫_0^∞ by symmetry
    assert abs(tv_gaussian_1d(v1, v2) - oracle) <= 1e-10
    assert tv_gaussian_1d(v2, v1) == tv_gaussian_1d(v1, v2)


def test_tv_1d_vectorized_and_edge_cases():
    v1 = np.array([1.0, 1.0, 0.0, 0.0, 2.0])
    v2 = np.array([4.0, 1.0, 3.0, 0.0, 2.0 * (1 + 1e-12)])
    out = tv_gaussian_1d(v1, v2)
    assert out.shape == (5,)
    assert out[1] == 0.0 and out[2] == 1.0 and out[3] == 0.0
    assert 0.0 < out[4] < 1e-11  # accurate for nearly equal variances, no cancellation to 0 or NaN
    assert out[0] == pytest.approx(tv_gaussian_1d(1.0, 4.0))


# ---------------------------------------------------------------- Monte Carlo TV


@pytest.mark.parametrize("d", [1, 3])
def test_mc_tv_matches_exact_1d(d):
    """Λ differs from I in one coordinate only: TV equals the 1-D formula. Within 4 se + 1e-12."""
    ratios = [1.05, 1.5, 4.0, 0.25, 25.0, 1e-3]
    rng = np.random.default_rng(0)
    star = random_spd(d, rng)
    l = np.linalg.cholesky(star)
    sigmas = []
    for r in ratios:
        scale = np.ones(d)
        scale[0] = r
        sigmas.append(l @ np.diag(scale) @ l.T)  # whitened eigenvalues (r, 1, …, 1)
    tv, se = tv_gaussian_mc(batch(*sigmas), torch.tensor(star), num_samples=200_000, seed=1)
    exact = tv_gaussian_1d(np.array(ratios), 1.0)
    err = np.abs(tv.numpy() - exact)
    assert np.all(err <= 4 * se.numpy() + 1e-12), (tv, exact, se)
    assert np.all(se.numpy() > 0)


def test_mc_tv_equal_covariances_is_exactly_zero():
    rng = np.random.default_rng(1)
    stars = [random_spd(4, rng) for _ in range(3)]
    tv, se = tv_gaussian_mc(batch(*stars), batch(*stars), num_samples=10_000, seed=0)
    assert torch.equal(tv, torch.zeros(3, dtype=F64)) and torch.equal(se, torch.zeros(3, dtype=F64))
    assert torch.equal(whitened_eigvals(batch(*stars), batch(*stars)), torch.ones(3, 4, dtype=F64))
    # A perturbation at the level of rounding error gives a TV at that level, not noise.
    tv, _ = tv_gaussian_mc(batch(stars[0] * (1 + 1e-12)), torch.tensor(stars[0]), 10_000, 0)
    assert 0.0 <= tv.item() < 1e-9


def _generalized_chi2_sf(coef, t: float) -> float:
    """P(Σ_i coef_i z_i² > t), z standard normal: nested adaptive quadrature over z_0, z_1, … (even
    in each, so over [0, 12]), with the last coordinate's conditional probability in closed form."""
    a = coef[0]
    if len(coef) == 1:  # P(a z² > t)
        if a > 0:
            return 1.0 if t <= 0 else special.erfc(math.sqrt(t / a / 2))
        if a < 0:
            return 0.0 if t >= 0 else special.erf(math.sqrt(t / a / 2))
        return float(t < 0)
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    inner = lambda x: phi(x) * _generalized_chi2_sf(coef[1:], t - a * x * x)
    return 2 * integrate.quad(inner, 0, 12, epsabs=1e-10, limit=200)[0]


@pytest.mark.parametrize("lam", [(0.5, 2.0), (1.7, 3.0), (0.2, 0.9, 1.6)])
def test_mc_tv_matches_numerical_integration(lam):
    """p = N(0, I), q = N(0, Λ): TV = P_p(p > q) − P_q(p > q), and {p > q} = {Σ(1/λ_i − 1) x_i² >
    −Σ log λ_i}; under p and q the left side is a generalized χ², whose tail is integrated
    numerically. Independent of the mixture estimator. Within 4 se + 1e-6."""
    lam = np.array(lam)
    t = -np.log(lam).sum()
    oracle = _generalized_chi2_sf(1 / lam - 1, t) - _generalized_chi2_sf(1 - lam, t)
    tv, se = tv_gaussian_mc(batch(np.diag(lam)), torch.eye(len(lam), dtype=F64), 400_000, seed=3)
    assert abs(tv.item() - oracle) <= 4 * se.item() + 1e-6, (tv.item(), oracle, se.item())


def test_mc_tv_invariant_under_change_of_basis():
    """TV(AΣAᵀ, AΣ*Aᵀ) = TV(Σ, Σ*): with the same seed the whitened eigenvalues agree to rounding,
    so the estimates agree far below their standard error."""
    rng = np.random.default_rng(2)
    d = 4
    star, sigma = random_spd(d, rng), random_spd(d, rng)
    a = rng.standard_normal((d, d)) + 2 * np.eye(d)
    tv1, se1 = tv_gaussian_mc(batch(sigma), torch.tensor(star), 50_000, seed=5)
    tv2, se2 = tv_gaussian_mc(batch(a @ sigma @ a.T), torch.tensor(a @ star @ a.T), 50_000, seed=5)
    assert abs(tv1.item() - tv2.item()) <= 1e-8 and abs(se1.item() - se2.item()) <= 1e-8
    assert se1.item() > 1e-4  # the agreement is not an artefact of a degenerate case


def test_mc_tv_depends_only_on_whitened_eigenvalues_bitwise():
    """A permutation of a diagonal Σ (Σ* = I) has bitwise the same sorted eigenvalues, hence the
    same TV bitwise for the same seed; a different seed gives a different estimate."""
    lam = torch.tensor([0.3, 2.0, 1.5, 0.7], dtype=F64)
    perm = torch.eye(4, dtype=F64)[[2, 0, 3, 1]]
    s1, s2 = torch.diag(lam)[None], (perm @ torch.diag(lam) @ perm.T)[None]
    eye = torch.eye(4, dtype=F64)
    assert torch.equal(whitened_eigvals(s1, eye), whitened_eigvals(s2, eye))
    r1, r2 = tv_gaussian_mc(s1, eye, 20_000, 9), tv_gaussian_mc(s2, eye, 20_000, 9)
    assert torch.equal(r1[0], r2[0]) and torch.equal(r1[1], r2[1])
    assert not torch.equal(r1[0], tv_gaussian_mc(s1, eye, 20_000, 10)[0])


def test_mc_se_shrinks_like_inverse_sqrt_m():
    rng = np.random.default_rng(3)
    star, sigma = random_spd(3, rng), random_spd(3, rng)
    _, se_small = tv_gaussian_mc(batch(sigma), torch.tensor(star), 4_000, seed=0)
    _, se_large = tv_gaussian_mc(batch(sigma), torch.tensor(star), 64_000, seed=1)
    assert 4 * 0.85 <= (se_small / se_large).item() <= 4 * 1.15


def test_mc_se_is_calibrated():
    """se against the spread of the estimate over 400 seeds (that spread is known to ~4%).
    se pools both halves of the mixture, so it may overstate the error a little (≈1% here)."""
    sigma, eye = torch.diag(torch.tensor([0.5, 2.0], dtype=F64))[None], torch.eye(2, dtype=F64)
    runs = [tv_gaussian_mc(sigma, eye, 2_000, seed) for seed in range(400)]
    tv = np.array([r[0].item() for r in runs])
    se = np.array([r[1].item() for r in runs])
    assert 0.9 <= se.mean() / tv.std(ddof=1) <= 1.15
    # The average of the 400 independent estimates is unbiased: within 4 of its se of the oracle.
    lam = np.array([0.5, 2.0])
    t = -np.log(lam).sum()
    oracle = _generalized_chi2_sf(1 / lam - 1, t) - _generalized_chi2_sf(1 - lam, t)
    assert abs(tv.mean() - oracle) <= 4 * se.mean() / math.sqrt(len(runs))


def test_mc_tv_singular_sigma_gives_one():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2))
    tv, se = tv_gaussian_mc(batch(w @ w.T, np.zeros((3, 3))), torch.eye(3, dtype=F64), 10_000, 0)
    assert torch.all(tv <= 1) and torch.all(torch.isfinite(se))
    # Rank 2 in floating point: the smallest whitened eigenvalue is ~1e-16, not 0, and the TV is
    # 1 − O(√λ_min); Σ = 0 hits the eigenvalue floor (1e-30).
    assert tv[0] >= 1 - 1e-6 and tv[1] >= 1 - 1e-12


@settings(max_examples=12, deadline=None, derandomize=True)
@given(d=st.integers(1, 4), seed=st.integers(0, 2**31 - 1), log_eps=st.floats(-3.0, 1.0))
def test_mc_tv_within_devroye_mehrabian_reddad_bounds(d, seed, log_eps):
    """TV / min(1, ‖Λ − I‖_F) ∈ [1/100, 3/2] (Devroye, Mehrabian, Reddad 2018), with ‖Λ − I‖_F from
    a numpy Cholesky whitening, and the estimate allowed 4 se either way."""
    rng = np.random.default_rng(seed)
    star = random_spd(d, rng)
    b = np.eye(d) + 10.0**log_eps * rng.standard_normal((d, d)) / math.sqrt(d)
    sigma = b @ star @ b.T
    l_inv = np.linalg.inv(np.linalg.cholesky(star))
    frob = np.linalg.norm(l_inv @ sigma @ l_inv.T - np.eye(d))
    scale = min(1.0, frob)
    tv, se = tv_gaussian_mc(batch(sigma), torch.tensor(star), 20_000, seed=seed)
    tv, se = tv.item(), se.item()
    assert tv + 4 * se >= scale / 100
    assert tv - 4 * se <= 1.5 * scale


# ---------------------------------------------------------------- batch invariance, NaN games


def _all_metrics(sigma, star, num_samples=30_001):
    tv, se = tv_gaussian_mc(sigma, star, num_samples, seed=11)
    out = {"tv": tv, "se": se, "eig": whitened_eigvals(sigma, star), "sign": sign_pattern_tv_lb(sigma, star)}
    out.update(frobenius_errors(sigma, star))
    return out


@pytest.mark.parametrize(
    "num_samples, chunk_rows",
    [
        (30_001, None),
        (30_001, 1000),  # several chunks, the last one partial
        (40, None),  # so few draws that a last-bit difference in any log-ratio would show in tv
    ],
)
@pytest.mark.parametrize("shared_star", [True, False])
def test_game_alone_equals_game_in_batch_bitwise(monkeypatch, num_samples, chunk_rows, shared_star):
    if chunk_rows is not None:
        monkeypatch.setattr(metrics, "CHUNK_ROWS", chunk_rows)
    rng = np.random.default_rng(5)
    d, r = 6, 5
    sigmas = batch(*[random_spd(d, rng, jitter=0.05) for _ in range(r)])
    stars = batch(*[random_spd(d, rng) for _ in range(r)])
    star_of = (lambda g: stars[0]) if shared_star else (lambda g: stars[g : g + 1])
    together = _all_metrics(sigmas, stars[0] if shared_star else stars, num_samples)
    for g in range(r):
        alone = _all_metrics(sigmas[g : g + 1].clone(), star_of(g).clone(), num_samples)
        for key, value in alone.items():
            assert torch.equal(value[0], together[key][g]), (key, g)


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(6)
    sigmas = batch(*[random_spd(5, rng) for _ in range(3)])
    star = torch.tensor(random_spd(5, rng))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = tv_gaussian_mc(sigmas, star, 50_000, seed=2)
        torch.set_num_threads(2)
        two = tv_gaussian_mc(sigmas, star, 50_000, seed=2)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


def test_nan_game_is_isolated():
    rng = np.random.default_rng(7)
    d = 4
    good = [random_spd(d, rng) for _ in range(3)]
    bad_nan = random_spd(d, rng)
    bad_nan[1, 2] = np.nan
    bad_inf = random_spd(d, rng)
    bad_inf[0, 0] = np.inf
    star = torch.tensor(random_spd(d, rng))
    mixed = _all_metrics(batch(good[0], bad_nan, good[1], bad_inf, good[2]), star)
    clean = _all_metrics(batch(*good), star)
    for key, value in mixed.items():
        assert torch.all(torch.isnan(value[[1, 3]])), key
        assert torch.equal(value[[0, 2, 4]], clean[key]), key
    # Finite but overflowing when whitened: no exception, NaN TV, the other games untouched.
    huge = _all_metrics(batch(good[0], 1e308 * np.eye(d)), star)
    assert torch.isnan(huge["tv"][1]) and torch.isnan(huge["eig"][1]).all()
    assert torch.equal(huge["tv"][0], clean["tv"][0])


# ---------------------------------------------------------------- Frobenius errors


@pytest.mark.parametrize("shared_star", [True, False])
def test_frobenius_errors_match_numpy(shared_star):
    rng = np.random.default_rng(8)
    d, r = 5, 4
    sigmas = [random_spd(d, rng) for _ in range(r)]
    stars = [random_spd(d, rng) for _ in range(r)]
    if shared_star:
        stars = [stars[0]] * r
    got = frobenius_errors(batch(*sigmas), torch.tensor(stars[0]) if shared_star else batch(*stars))
    for g in range(r):
        l_inv = np.linalg.inv(np.linalg.cholesky(stars[g]))  # a different square root from the code's
        white = np.linalg.norm(l_inv @ sigmas[g] @ l_inv.T - np.eye(d))
        absolute = np.linalg.norm(sigmas[g] - stars[g])
        assert got["frob_white"][g].item() == pytest.approx(white, rel=1e-10)
        assert got["frob_abs"][g].item() == pytest.approx(absolute, rel=1e-12)
        assert got["frob_rel"][g].item() == pytest.approx(absolute / np.linalg.norm(stars[g]), rel=1e-12)
    zero = frobenius_errors(batch(stars[0]), torch.tensor(stars[0]))
    assert all(v.item() == 0.0 for v in zero.values())


# ---------------------------------------------------------------- sign-pattern lower bound


def _corr(rho: float, var=(1.0, 1.0)) -> np.ndarray:
    s = np.sqrt(var)
    return np.array([[var[0], rho * s[0] * s[1]], [rho * s[0] * s[1], var[1]]])


@pytest.mark.parametrize("rho, rho_star", [(0.6, -0.2), (-0.9, 0.3), (0.95, 0.99)])
def test_sign_bound_matches_pair_sign_law_d2(rho, rho_star):
    """d = 2: the bound is the exact TV of the sign law. Oracles: (a) scipy's bivariate normal CDF
    for the orthant probability, TV = 2|P(++) − P*(++)| (tolerance 1e-6); (b) plug-in TV of the
    four cells from 10⁶ draws of each law (each cell frequency has sd ≤ 5·10⁻⁴; tolerance 4·10⁻³)."""
    sigma, star = _corr(rho, (2.0, 0.5)), _corr(rho_star, (1.0, 3.0))
    got = sign_pattern_tv_lb(batch(sigma), torch.tensor(star)).item()

    orthant = lambda c: stats.multivariate_normal(mean=[0, 0], cov=c).cdf([0.0, 0.0])
    assert got == pytest.approx(2 * abs(orthant(sigma) - orthant(star)), abs=1e-6)

    rng = np.random.default_rng(9)
    n = 1_000_000
    cells = lambda c: np.bincount(
        (rng.multivariate_normal([0, 0], c, size=n) > 0) @ np.array([1, 2]), minlength=4
    ) / n
    assert got == pytest.approx(0.5 * np.abs(cells(sigma) - cells(star)).sum(), abs=4e-3)


def test_sign_bound_below_gaussian_tv():
    """Data processing: TV of the sign pattern ≤ TV of the Gaussians (estimate + 4 se)."""
    rng = np.random.default_rng(10)
    for d in (2, 3, 5):
        sigmas = [random_spd(d, rng, jitter=0.02) for _ in range(4)]
        star = torch.tensor(random_spd(d, rng))
        lb = sign_pattern_tv_lb(batch(*sigmas), star)
        tv, se = tv_gaussian_mc(batch(*sigmas), star, 20_000, seed=d)
        assert torch.all(lb <= tv + 4 * se)
        assert torch.all(lb > 0)


def test_sign_bound_exact_zeros():
    rng = np.random.default_rng(11)
    d = 5
    star = random_spd(d, rng)
    eye = torch.eye(d, dtype=F64)
    assert sign_pattern_tv_lb(batch(star), torch.tensor(star)).item() == 0.0
    # Σ = DΣ*D: same correlations, same sign law. With D a power of 2 the rescaling is exact in
    # floating point, so the bound is exactly 0; with a generic D, zero to rounding.
    pow2 = np.diag(2.0 ** rng.integers(-4, 5, size=d))
    assert sign_pattern_tv_lb(batch(pow2 @ star @ pow2), torch.tensor(star)).item() == 0.0
    generic = np.diag(rng.uniform(0.1, 10, size=d))
    assert sign_pattern_tv_lb(batch(generic @ star @ generic), torch.tensor(star)).item() <= 1e-14
    # d = 1: one sign, always a fair coin.
    assert sign_pattern_tv_lb(torch.tensor([[[5.0]]], dtype=F64), torch.eye(1, dtype=F64)).item() == 0.0
    # A dead unit (Var z_0 = 0, so 1{z_0 > 0} ≡ 0 against a fair coin): the bound is ½.
    dead = np.eye(d)
    dead[0, 0] = 0.0
    assert sign_pattern_tv_lb(batch(dead), eye).item() == 0.5


def test_sign_bound_is_max_over_pairs():
    """d = 4 equals the largest of its 2×2 sub-problems, each checked against the orthant formula."""
    rng = np.random.default_rng(12)
    sigma, star = random_spd(4, rng), random_spd(4, rng)
    pair_tv = []
    for i in range(4):
        for j in range(i + 1, 4):
            corr = lambda c: c[i, j] / math.sqrt(c[i, i] * c[j, j])
            pair_tv.append(abs(math.asin(corr(sigma)) - math.asin(corr(star))) / math.pi)
    assert sign_pattern_tv_lb(batch(sigma), torch.tensor(star)).item() == pytest.approx(max(pair_tv), abs=1e-14)


# ---------------------------------------------------------------- evaluation steps and validation


@pytest.mark.parametrize("total, count", [(1, 5), (10, 3), (1000, 10), (10**6, 7), (50, 200), (7, 1)])
def test_checkpoint_steps(total, count):
    steps = eval_steps(total, count)
    assert all(isinstance(s, int) for s in steps)
    assert steps == sorted(set(steps))
    assert steps[-1] == total and steps[0] >= 1
    assert len(steps) <= max(count, 2)
    if count >= 2:
        assert steps[0] == 1
    if (total, count) == (50, 200):  # every step collides into 1 … 50
        assert steps == list(range(1, 51))
    if (total, count) == (10**6, 7):
        assert steps == [1, 10, 100, 1000, 10**4, 10**5, 10**6]
    if total >= 1000 and count >= 3:  # log-spaced: consecutive ratios roughly constant (past rounding)
        ratios = np.diff(np.log([s for s in steps if s >= 10]))
        assert ratios.max() - ratios.min() < 0.1


@pytest.mark.parametrize("total, count", [(1500, 30), (1000, 7), (10, 3), (5, 20)])
def test_linear_eval_steps_are_evenly_spaced_and_end_at_the_last_step(total, count):
    steps = eval_steps(total, count, "linear")
    assert steps[-1] == total and steps[0] >= 1 and steps == sorted(set(steps))
    if count <= total:
        assert len(steps) == count
        gaps = np.diff([0, *steps])
        assert gaps.max() - gaps.min() <= 1  # every gap is total/count, rounded
    else:
        assert steps == list(range(1, total + 1))
    with pytest.raises(ValueError, match="spacing"):
        eval_steps(total, count, "cubic")


def test_bad_arguments_raise():
    eye = torch.eye(2, dtype=F64)
    with pytest.raises(ValueError, match="num_samples"):
        tv_gaussian_mc(eye[None], eye, 1, 0)
    with pytest.raises(ValueError, match="sigma must have shape"):
        whitened_eigvals(eye, eye)
    with pytest.raises(ValueError, match="sigma_star must have shape"):
        whitened_eigvals(eye[None], torch.eye(3, dtype=F64))
    with pytest.raises(ValueError, match="positive definite"):
        whitened_eigvals(eye[None], torch.zeros(2, 2, dtype=F64))
    with pytest.raises(ValueError, match="total_steps"):
        eval_steps(0, 3)
    with pytest.raises(ValueError, match="count"):
        eval_steps(10, 0)
