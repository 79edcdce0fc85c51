"""Tests of the activation registry (sgdagan.activations) against independent routes: Monte Carlo
through each entry's own forward map, the arc-cosine kernel of DESIGN §3, adaptive 1-D
integration, and exact properties (symmetry, monotonicity in Σ_ij, round trips, validation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from sgdagan.activations import (
    ACTIVATIONS,
    bivariate_normal_cdf,
    clip_pair_moment,
    get_activation,
    quadrature_pair_moment,
    truncated_first_moment,
    truncated_pair_moment,
)

F64 = torch.float64

# (Σ_ii, Σ_jj, ρ): near ±1, exactly ±1, independent, unequal variances.
CONFIGS = [
    (1.0, 1.0, 0.5),
    (1.0, 1.0, 0.0),
    (1.0, 1.0, 0.999),
    (1.0, 1.0, -0.999),
    (0.5, 2.0, 0.6),
    (2.0, 0.3, -0.7),
    (0.04, 3.0, 1.0),
    (3.0, 0.25, -1.0),
]


def moment_args(configs):
    a, b, rho = (np.array(v, dtype=np.float64) for v in zip(*configs))
    return a, b, rho * np.sqrt(a * b)


def arccos_kernel(a, b, c):
    """DESIGN §3: E[relu(z_i) relu(z_j)] = s_i s_j (sin θ + (π − θ) cos θ)/(2π), θ = arccos ρ."""
    s = np.sqrt(a * b)
    theta = np.arccos(np.clip(c / s, -1.0, 1.0))
    return s * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)


@pytest.fixture(scope="module")
def normals():
    rng = np.random.default_rng(2024)
    n = 2_000_000
    return torch.from_numpy(rng.standard_normal(n)), torch.from_numpy(rng.standard_normal(n))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_pair_moment_matches_monte_carlo(name, normals):
    """2·10⁶ draws of (z_i, z_j) pushed through the entry's own forward map; the closed form or
    quadrature must lie within 5 Monte Carlo standard errors, plus 1e-8·√(Σ_iiΣ_jj) for the cases
    with no Monte Carlo error (identity; relu at ρ = −1), where the closed form's
    √(Σ_iiΣ_jj − Σ_ij²) turns the rounding of Σ_ij² into an error of order √eps."""
    act = get_activation(name)
    xi1, xi2 = normals
    a, b, c = moment_args(CONFIGS)
    closed = act.pair_moment(a, b, c)
    for k, (ak, bk, rho) in enumerate(CONFIGS):
        zi = math.sqrt(ak) * xi1
        zj = math.sqrt(bk) * (rho * xi1 + math.sqrt(max(1 - rho * rho, 0.0)) * xi2)
        prod = (act.forward(zi) * act.forward(zj)).numpy()
        mean, se = prod.mean(), prod.std() / math.sqrt(prod.size)
        slack = 1e-8 * math.sqrt(ak * bk)
        assert abs(closed[k] - mean) <= 5 * se + slack, (name, CONFIGS[k], closed[k], mean, se)


@pytest.mark.parametrize("slope", [0.05, 0.2, 0.5])
def test_leaky_relu_pair_moment_matches_monte_carlo_for_other_slopes(slope, normals):
    act = get_activation("leaky_relu", leaky_slope=slope)
    xi1, xi2 = normals
    zi, zj = 1.5 * xi1, 0.8 * (-0.3 * xi1 + math.sqrt(1 - 0.09) * xi2)
    prod = (act.forward(zi) * act.forward(zj)).numpy()
    closed = act.pair_moment(2.25, 0.64, 1.5 * 0.8 * -0.3)
    assert abs(closed - prod.mean()) <= 5 * prod.std() / math.sqrt(prod.size)


def test_identity_pair_moment_is_exactly_the_covariance():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.01, 5, 100), rng.uniform(0.01, 5, 100)
    c = rng.uniform(-1, 1, 100) * np.sqrt(a * b)
    assert np.array_equal(get_activation("identity").pair_moment(a, b, c), c)


def test_relu_closed_form_matches_design_formula_and_quadrature():
    """The registry's piecewise-linear formula vs (a) the arc-cosine kernel written independently
    from DESIGN §3 (1e-14) and (b) 2-D Gauss–Hermite quadrature of relu with 200 nodes per axis.
    Gauss–Hermite converges only like O(1/order) for the kink of relu (≈ 3e-4 at 200 nodes), so
    (b) is held to 1e-3."""
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 3, 40), rng.uniform(0.1, 3, 40)
    c = rng.uniform(-0.999, 0.999, 40) * np.sqrt(a * b)
    relu = get_activation("relu").pair_moment(a, b, c)
    np.testing.assert_allclose(relu, arccos_kernel(a, b, c), rtol=1e-14, atol=1e-14)
    quad = quadrature_pair_moment(a, b, c, fn=lambda t: np.maximum(t, 0.0), order=200)
    np.testing.assert_allclose(relu, quad, rtol=0, atol=1e-3)


@pytest.mark.parametrize("slope", [0.05, 0.2, 0.7])
def test_leaky_relu_matches_arccos_kernel_decomposition(slope):
    """φ(t) = relu(t) − α relu(−t), and (−z_i, z_j) has correlation −ρ, so
    E[φφ] = (1 + α²) K(ρ) − 2α K(−ρ) with K the arc-cosine kernel: a route independent of the
    DESIGN §3 piecewise-linear formula that the registry implements. Tolerance 1e-13."""
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.1, 3, 40), rng.uniform(0.1, 3, 40)
    c = rng.uniform(-1, 1, 40) * np.sqrt(a * b)
    expected = (1 + slope**2) * arccos_kernel(a, b, c) - 2 * slope * arccos_kernel(a, b, -c)
    got = get_activation("leaky_relu", leaky_slope=slope).pair_moment(a, b, c)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)


def _expect(fn, var):
    """E[fn(z)], z ~ N(0, var), by adaptive 1-D quadrature over [−40, 40] standard deviations."""
    s = math.sqrt(var)
    f = lambda x: fn(s * x) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    return integrate.quad(f, -40, 40, epsabs=1e-14, epsrel=1e-13, limit=500, points=[0.0])[0]


SMOOTH = {
    "tanh": math.tanh,
    "sigmoid": lambda t: 0.5 * (1 + math.tanh(t / 2)),
    "softplus": lambda t: max(t, 0.0) + math.log1p(math.exp(-abs(t))),
}


# The accuracy activations.py documents for its Gauss–Hermite rule, times 10:
# Σ_ii → (tolerance for tanh, tolerance for sigmoid and softplus).
DOCUMENTED_ACCURACY = {0.25: (1e-11, 1e-11), 1.0: (1e-11, 1e-11), 3.0: (1e-6, 1e-11), 10.0: (2e-3, 3e-7)}


@pytest.mark.parametrize("var", sorted(DOCUMENTED_ACCURACY))
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_quadrature_accuracy_against_adaptive_integration(name, var):
    """Checked against the accuracy activations.py documents, at ρ = 1 (E[φ(z)²]), ρ = −1
    (E[φ(z)φ(−z)]) and ρ = 0 ((E φ(z))²), where the moment reduces to a 1-D integral that adaptive
    quadrature gets to ~1e-13. Tolerance: the documented error times 10."""
    fn = SMOOTH[name]
    act = get_activation(name)
    oracles = {
        1.0: _expect(lambda t: fn(t) ** 2, var),
        -1.0: _expect(lambda t: fn(t) * fn(-t), var),
        0.0: _expect(fn, var) ** 2,
    }
    errors = {rho: abs(act.pair_moment(var, var, rho * var) - o) / max(abs(o), 1e-3) for rho, o in oracles.items()}
    tolerance = DOCUMENTED_ACCURACY[var][0 if name == "tanh" else 1]
    assert max(errors.values()) <= tolerance, f"{name} at Σ_ii = {var}: relative errors {errors}"


RHO_GRID = np.linspace(-0.999, 0.999, 400)


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "relu"])
def test_pair_moment_strictly_increasing_in_covariance(name):
    """∂E[φ(z_i)φ(z_j)]/∂Σ_ij = E[φ'(z_i)φ'(z_j)] (Price's theorem) > 0 for a strictly increasing φ,
    and for hardtanh, whose slope is 1 on (−1, 1): P(|z_i| < 1, |z_j| < 1) > 0."""
    act = get_activation(name)
    for a, b in [(1.0, 1.0), (0.3, 2.5)]:
        m = act.pair_moment(a, b, RHO_GRID * math.sqrt(a * b))
        assert np.all(np.diff(m) > 0), name


def test_relu_pair_moment_monotone_with_vanishing_derivative_at_minus_one():
    """For relu, ∂E[relu(z_i)relu(z_j)]/∂Σ_ij = P(z_i > 0, z_j > 0) = 1/4 + arcsin(ρ)/(2π) (Price's
    theorem and the orthant formula): positive on (−1, 1], 0 at ρ = −1."""
    act = get_activation("relu")
    a, b = 0.7, 1.8
    s = math.sqrt(a * b)
    rho = np.linspace(-1.0, 1.0, 2001)
    m = act.pair_moment(a, b, rho * s)
    assert np.all(np.diff(m) >= 0)
    assert np.all(np.diff(m)[rho[:-1] >= -0.99] > 0)
    # Central differences in Σ_ij against the orthant probability (error O(h²) ≈ 1e-7 here).
    h = 1e-4
    inner = rho[(rho > -0.99) & (rho < 0.99)]
    fd = (act.pair_moment(a, b, inner * s + h) - act.pair_moment(a, b, inner * s - h)) / (2 * h)
    np.testing.assert_allclose(fd, 0.25 + np.arcsin(inner) / (2 * np.pi), atol=1e-6)
    # At ρ = −1 the one-sided derivative vanishes: it is O(√δ) over a step δ in ρ.
    for delta in (1e-4, 1e-6, 1e-8):
        slope = (act.pair_moment(a, b, (-1 + delta) * s) - act.pair_moment(a, b, -s)) / (delta * s)
        assert 0 <= slope <= math.sqrt(delta)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_pair_moment_symmetric_in_variances(name):
    """E[φ(z_i)φ(z_j)] is symmetric in (Σ_ii, Σ_jj). The closed forms are symmetric to rounding
    (1e-14) for any variances; the Gauss–Hermite moments only to their quadrature error, so they
    are checked on Σ_ii ≤ 1 (the targets' range) at 1e-6 (tanh's error there is ~5e-8; see
    test_quadrature_accuracy_against_adaptive_integration for larger variances)."""
    closed = name in ("relu", "leaky_relu", "identity", "hardtanh")
    rng = np.random.default_rng(3)
    hi = 5.0 if closed else 1.0
    a, b = rng.uniform(0.05, hi, 50), rng.uniform(0.05, hi, 50)
    c = rng.uniform(-1, 1, 50) * np.sqrt(a * b)
    act = get_activation(name)
    tol = 1e-14 if closed else 1e-6
    np.testing.assert_allclose(act.pair_moment(a, b, c), act.pair_moment(b, a, c), rtol=tol, atol=tol)


# Round-trip tolerances on |t| ≤ 5 in float64: the inverse amplifies the rounding of φ(t) by
# |dt/dy|, at most 1/(1 − tanh²5) ≈ 5.5e3 for tanh, 1/(σ(5)(1 − σ(5))) ≈ 150 for sigmoid.
ROUND_TRIP_ATOL = {"relu": 0.0, "identity": 0.0, "hardtanh": 0.0, "leaky_relu": 1e-15, "tanh": 2e-12, "sigmoid": 1e-13, "softplus": 1e-13}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_inverse_of_forward_on_preimage(name):
    act = get_activation(name)
    t = torch.linspace(-5, 5, 20_001, dtype=F64)
    t = t[act.in_preimage(t)]
    assert t.numel() > 0
    err = (act.inverse(act.forward(t)) - t).abs()
    assert err.max().item() <= ROUND_TRIP_ATOL[name] * max(1.0, t.abs().max().item())


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_region_is_image_of_preimage(name):
    """in_region(φ(t)) ⇔ in_preimage(t), on |t| ≤ 15 (beyond ≈ 19 tanh saturates to ±1 in float64)."""
    act = get_activation(name)
    t = torch.cat([torch.linspace(-15, 15, 30_001, dtype=F64), torch.tensor([0.0, -0.0, 1e-300, -1e-300], dtype=F64)])
    assert torch.equal(act.in_region(act.forward(t)), act.in_preimage(t))


def test_registry_entries():
    for name in ACTIVATIONS:
        act = get_activation(name)
        assert act.name == name
        assert act.injective == (name not in ("relu", "hardtanh"))
    assert get_activation("leaky_relu", leaky_slope=0.1).forward(torch.tensor([-1.0], dtype=F64)).item() == -0.1


@pytest.mark.parametrize("slope", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_bad_leaky_slope_names_the_argument(slope):
    with pytest.raises(ValueError, match="leaky_slope"):
        get_activation("leaky_relu", leaky_slope=slope)


def test_unknown_activation_lists_choices():
    with pytest.raises(ValueError) as info:
        get_activation("swish")
    assert "swish" in str(info.value)
    assert all(name in str(info.value) for name in ACTIVATIONS)


KINKS = {"relu": (0.0,), "leaky_relu": (0.0,), "hardtanh": (-1.0, 1.0)}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_autograd_and_central_differences(name):
    """φ' against autograd of the forward map to rounding (also at the kinks, where relu /
    leaky_relu take the left slope at 0 and hardtanh the slope 0 at ±1, as autograd does; exactly
    equal for the piecewise-linear ones), and against a central difference away from the kinks
    (error ≤ 1e-7)."""
    act = get_activation(name)
    kinks = torch.tensor((0.0, -1.0, 1.0) + KINKS.get(name, ()), dtype=F64)
    t = torch.cat([torch.linspace(-6, 6, 1201, dtype=F64), kinks]).requires_grad_(True)
    (expected,) = torch.autograd.grad(act.forward(t).sum(), t)
    torch.testing.assert_close(act.derivative(t.detach()), expected, rtol=1e-12, atol=1e-15)
    near = torch.zeros_like(t, dtype=torch.bool)
    for kink in KINKS.get(name, ()):
        near |= (t.detach() - kink).abs() <= 1e-3
    away = t.detach()[~near]
    h = 1e-6
    numeric = (act.forward(away + h) - act.forward(away - h)) / (2 * h)
    assert torch.allclose(act.derivative(away), numeric, atol=1e-7, rtol=0)


# --- hardtanh and the bivariate normal integrals behind it -------------------------------------

def _phi2_by_quad(h, k, rho):
    """Φ₂(h, k; ρ) = ∫_{−∞}^h φ(x) Φ((k − ρx)/s) dx by adaptive quadrature, split where the inner
    Φ turns (x = k/ρ, within a few s)."""
    s = math.sqrt(1 - rho * rho)
    f = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi) * 0.5 * math.erfc(-(k - rho * x) / (s * math.sqrt(2)))
    turn = k / rho if rho else h
    cuts = sorted({-40.0, h, *(c for c in (turn - 5 * s, turn, turn + 5 * s) if -40 < c < h)})
    return sum(integrate.quad(f, lo, hi, epsabs=1e-15, epsrel=1e-13, limit=500)[0] for lo, hi in zip(cuts, cuts[1:]))


def test_bivariate_normal_cdf_matches_quadrature_and_exact_identities():
    """Owen's-T Φ₂ against adaptive 1-D quadrature on a grid that includes h or k = 0 and |ρ| near 1
    (measured ≤ 3e-14, the quadrature's own error: against 30-digit mpmath quadrature it is
    ≤ 2.3e-16), and against the exact values at ρ ∈ {−1, 0, 1} and at h = k = 0 (1e-15)."""
    grid = (-3.0, -1.0, -0.3, 0.0, 0.5, 2.0)
    for h in grid:
        for k in grid:
            for rho in (-0.999, -0.5, 0.3, 0.9, 0.9999):
                assert abs(bivariate_normal_cdf(h, k, rho) - _phi2_by_quad(h, k, rho)) <= 1e-13, (h, k, rho)
    from scipy.stats import norm

    h, k = np.meshgrid(np.array(grid), np.array(grid))
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, 0.0), norm.cdf(h) * norm.cdf(k), rtol=0, atol=1e-15)
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, 1.0), norm.cdf(np.minimum(h, k)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(bivariate_normal_cdf(h, k, -1.0), np.clip(norm.cdf(h) - norm.cdf(-k), 0, None),
                               rtol=0, atol=1e-15)
    rho = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(bivariate_normal_cdf(0.0, 0.0, rho), 0.25 + np.arcsin(rho) / (2 * np.pi), rtol=0, atol=1e-15)


def _standard_pieces(a, b, rho, lo, hi):
    """The plane of (x, w) ~ N(0, I), z_i = √a x, z_j = √b (ρx + s w), cut by z_i, z_j ∈ {lo, hi}
    into 9 pieces on which clip(z_i)clip(z_j) is smooth: [(x0, x1, w_lo(x), w_hi(x))]. Each piece's
    x-range is cut further where a slanted edge w = (e/√b − ρx)/s crosses the bulk of N(0, 1) in w
    (x ≈ e/(√b ρ), over a width of a few s/|ρ|): at |ρ| near 1 the inner integral turns sharply
    there, and an adaptive rule that has not sampled the turn misses it. The plane is cut off at
    ±40 on each axis (the mass beyond is below e⁻⁸⁰⁰): quad on a semi-infinite range whose finite
    end lies far from the bulk maps the bulk to a sliver it can miss."""
    sa, sb, s = math.sqrt(a), math.sqrt(b), math.sqrt(1 - rho * rho)
    xs = [-40.0, min(max(lo / sa, -40.0), 40.0), min(max(hi / sa, -40.0), 40.0), 40.0]
    line = lambda end: (lambda x: min(max((end / sb - rho * x) / s, -40.0), 40.0))
    ws = [lambda x: -40.0, line(lo), line(hi), lambda x: 40.0]
    turns = [] if rho == 0 else [(e / sb + j * s) / rho for e in (lo, hi) for j in range(-8, 9)]
    pieces = []
    for p in range(3):
        cuts = sorted({xs[p], xs[p + 1], *(t for t in turns if xs[p] < t < xs[p + 1])})
        for x0, x1 in zip(cuts, cuts[1:]) if xs[p] < xs[p + 1] else ():
            pieces += [(x0, x1, ws[q], ws[q + 1]) for q in range(3)]
    return pieces


def _clip_moment_by_dblquad(a, b, rho, lo, hi):
    sa, sb, s = math.sqrt(a), math.sqrt(b), math.sqrt(1 - rho * rho)
    f = lambda w, x: (min(max(sa * x, lo), hi) * min(max(sb * (rho * x + s * w), lo), hi)
                      * math.exp(-(x * x + w * w) / 2) / (2 * math.pi))
    return sum(integrate.dblquad(f, x0, x1, w0, w1, epsabs=1e-14, epsrel=1e-13)[0]
               for x0, x1, w0, w1 in _standard_pieces(a, b, rho, lo, hi))


def _truncated_moment_by_dblquad(a, b, rho, lo, hi):
    """Only the middle piece (lo < z_i < hi, lo < z_j < hi) carries z_i z_j; the others are 0."""
    sa, sb, s = math.sqrt(a), math.sqrt(b), math.sqrt(1 - rho * rho)
    f = lambda w, x: sa * x * sb * (rho * x + s * w) * math.exp(-(x * x + w * w) / 2) / (2 * math.pi)
    sa_lo, sa_hi = lo / sa, hi / sa
    middle = [(x0, x1, w0, w1) for k, (x0, x1, w0, w1) in enumerate(_standard_pieces(a, b, rho, lo, hi))
              if k % 3 == 1 and sa_lo <= x0 and x1 <= sa_hi]
    return sum(integrate.dblquad(f, x0, x1, w0, w1, epsabs=1e-14, epsrel=1e-13)[0] for x0, x1, w0, w1 in middle)


# (Σ_ii, Σ_jj, ρ): unit scale, unequal variances, large variance (clipping dominates), |ρ| near 1.
HARDTANH_POINTS = [(1.0, 1.0, 0.5), (0.3, 2.0, -0.7), (4.0, 9.0, 0.95), (100.0, 50.0, 0.3),
                   (0.04, 3.0, 0.2), (2.0, 2.0, -0.999), (25.0, 25.0, 0.9999)]


@pytest.mark.parametrize("a, b, rho", HARDTANH_POINTS)
def test_hardtanh_pair_moment_matches_dblquad(a, b, rho):
    """The closed form against scipy's dblquad over the 9 pieces cut by the kinks (each smooth, so
    dblquad converges to ~1e-14): measured ≤ 4e-14 on these points; held to 1e-10. Also for
    clip to [0, 6] (relu6) and to [−0.5, 2] through the same helper."""
    c = rho * math.sqrt(a * b)
    assert abs(get_activation("hardtanh").pair_moment(a, b, c) - _clip_moment_by_dblquad(a, b, rho, -1, 1)) <= 1e-10
    for lo, hi in ((0.0, 6.0), (-0.5, 2.0)):
        assert abs(clip_pair_moment(a, b, c, lo, hi) - _clip_moment_by_dblquad(a, b, rho, lo, hi)) <= 1e-10, (lo, hi)


@pytest.mark.parametrize("a, b, rho", HARDTANH_POINTS)
def test_truncated_pair_moment_matches_dblquad(a, b, rho):
    """E[z_i 1{|z_i| < 1} z_j 1{|z_j| < 1}] (and on (0, 6)) against dblquad over the middle piece
    (measured ≤ 5e-14); held to 1e-10."""
    c = rho * math.sqrt(a * b)
    for lo, hi in ((-1.0, 1.0), (0.0, 6.0)):
        got = truncated_pair_moment(a, b, c, lo, hi)
        assert abs(got - _truncated_moment_by_dblquad(a, b, rho, lo, hi)) <= 1e-10, (lo, hi)


def test_truncated_pair_moment_with_infinite_ends():
    """(0, ∞) is relu's truncation: z 1{z > 0} = relu(z), so the arc-cosine kernel (1e-14); (−∞, ∞)
    is no truncation: exactly Σ_ij. One-sided (−∞, 1) against dblquad on its pieces (1e-10)."""
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.05, 4, 30), rng.uniform(0.05, 4, 30)
    c = rng.uniform(-1, 1, 30) * np.sqrt(a * b)
    np.testing.assert_allclose(truncated_pair_moment(a, b, c, 0.0, math.inf), arccos_kernel(a, b, c), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(truncated_pair_moment(a, b, c, -math.inf, math.inf), c, rtol=1e-15, atol=0)
    # E[z_i 1{z_i < 1} z_j 1{z_j < 1}] = E[(−z_i) 1{−z_i > −1} (−z_j) 1{−z_j > −1}]: the (−1, ∞) moment.
    np.testing.assert_allclose(truncated_pair_moment(a, b, c, -math.inf, 1.0), truncated_pair_moment(a, b, c, -1.0, math.inf),
                               rtol=1e-13, atol=1e-14)
    sa, sb = math.sqrt(0.7), math.sqrt(1.9)
    rho, s = 0.4, math.sqrt(1 - 0.16)
    f = lambda w, x: sa * x * sb * (rho * x + s * w) * math.exp(-(x * x + w * w) / 2) / (2 * math.pi)
    want = integrate.dblquad(f, -np.inf, 1 / sa, -np.inf, lambda x: (1 / sb - rho * x) / s, epsabs=1e-14, epsrel=1e-13)[0]
    assert abs(truncated_pair_moment(0.7, 1.9, rho * sa * sb, -math.inf, 1.0) - want) <= 1e-10


# Large variances and |ρ| near or at 1 (Monte Carlo has no trouble there).
MC_POINTS = [(25.0, 25.0, 0.999), (100.0, 4.0, -0.99), (9.0, 0.5, 1.0), (16.0, 16.0, -1.0), (0.3, 64.0, 0.6)]


def test_hardtanh_and_truncated_moments_match_monte_carlo(normals):
    """2·10⁶ draws through hardtanh's own forward map, and through z·1{|z| < 1}: within 5 standard
    errors (plus 1e-12 where the product has no spread)."""
    act = get_activation("hardtanh")
    xi1, xi2 = normals
    for a, b, rho in MC_POINTS:
        zi = math.sqrt(a) * xi1
        zj = math.sqrt(b) * (rho * xi1 + math.sqrt(max(1 - rho * rho, 0.0)) * xi2)
        c = rho * math.sqrt(a * b)
        for closed, prod in ((act.pair_moment(a, b, c), act.forward(zi) * act.forward(zj)),
                             (truncated_pair_moment(a, b, c, -1, 1), zi * (zi.abs() < 1) * zj * (zj.abs() < 1))):
            prod = prod.numpy()
            mean, se = prod.mean(), prod.std() / math.sqrt(prod.size)
            assert abs(closed - mean) <= 5 * se + 1e-12, ((a, b, rho), closed, mean, se)


def test_clip_moments_at_zero_variance_and_first_moment():
    """A zero variance makes that coordinate the constant clip(0): E = clip(0)·E[clip(z_j)]; the
    first moment E[z 1{lo < z < hi}] = σ(φ(lo/σ) − φ(hi/σ)) against 1-D quadrature."""
    assert clip_pair_moment(0.0, 2.0, 0.0, -1.0, 1.0) == 0.0
    assert truncated_pair_moment(0.0, 2.0, 0.0, -1.0, 1.0) == 0.0
    # clip to [0.5, 2]: clip(0) = 0.5, E[clip(z)] by quadrature.
    mean = _expect(lambda t: min(max(t, 0.5), 2.0), 3.0)
    assert abs(clip_pair_moment(0.0, 3.0, 0.0, 0.5, 2.0) - 0.5 * mean) <= 1e-12
    assert abs(clip_pair_moment(3.0, 0.0, 0.0, 0.5, 2.0) - 0.5 * mean) <= 1e-12
    assert clip_pair_moment(0.0, 0.0, 0.0, 0.5, 2.0) == 0.25
    for var, lo, hi in ((1.0, -1.0, 1.0), (2.0, 0.0, 6.0), (0.5, -0.3, math.inf)):
        want = _expect(lambda t: t if lo < t < hi else 0.0, var)
        assert abs(truncated_first_moment(var, lo, hi) - want) <= 1e-12
    with pytest.raises(ValueError, match="lo < hi"):
        clip_pair_moment(1.0, 1.0, 0.0, 1.0, -1.0)
    with pytest.raises(ValueError, match="finite"):
        clip_pair_moment(1.0, 1.0, 0.0, 0.0, math.inf)


def test_hardtanh_pair_moment_derivative_is_the_inside_probability():
    """Price's theorem: ∂E[clip(z_i)clip(z_j)]/∂Σ_ij = P(|z_i| < 1, |z_j| < 1), from Φ₂ by
    inclusion–exclusion. Central differences, h = 1e-5: error O(h²) plus rounding ≈ 1e-10."""
    act = get_activation("hardtanh")
    a, b = 0.8, 2.5
    sa, sb = math.sqrt(a), math.sqrt(b)
    rho = np.linspace(-0.98, 0.98, 50)
    c, h = rho * sa * sb, 1e-5
    fd = (act.pair_moment(a, b, c + h) - act.pair_moment(a, b, c - h)) / (2 * h)
    inside = sum(si * sj * bivariate_normal_cdf(ei / sa, ej / sb, rho)
                 for ei, si in ((1.0, 1), (-1.0, -1)) for ej, sj in ((1.0, 1), (-1.0, -1)))
    np.testing.assert_allclose(fd, inside, rtol=0, atol=1e-8)


def test_truncated_pair_moment_increasing_in_covariance_but_not_in_variance():
    """The map Σ → E[uuᵀ], u = z·1{|z| < 1}, the truncated hardtanh game matches. Off the diagonal
    it is strictly increasing in Σ_ij on every (Σ_ii, Σ_jj) of a log grid over [1e-2, 1e2]², ρ
    from −1 to 1 (a fact measured here, not a theorem: Price's derivative carries negative
    boundary terms −δ(z ∓ 1); for Σ_ii = Σ_jj the Hermite expansion of an odd u proves it). On the
    diagonal it is NOT monotone: E[z² 1{|z| < 1}] = a((2Φ(t) − 1) − 2tφ(t)), t = 1/√a, peaks at
    a ≈ 0.534 (value ≈ 0.2140) and falls back towards 0, so the diagonal moments alone leave two
    candidate variances (e.g. a = 1 and a ≈ 0.33 give the same moment)."""
    rho = np.concatenate([np.linspace(-1, -0.99, 201), np.linspace(-0.99, 0.99, 2001)[1:-1], np.linspace(0.99, 1, 201)])
    for a in np.geomspace(1e-2, 1e2, 9):
        for b in np.geomspace(1e-2, 1e2, 9):
            m = truncated_pair_moment(a, b, rho * math.sqrt(a * b), -1.0, 1.0)
            assert np.all(np.diff(m) > 0), (a, b)
    from scipy.stats import norm

    a = np.linspace(0.01, 5, 4000)
    t = 1 / np.sqrt(a)
    diag = truncated_pair_moment(a, a, a, -1.0, 1.0)
    np.testing.assert_allclose(diag, a * ((2 * norm.cdf(t) - 1) - 2 * t * norm.pdf(t)), rtol=1e-12, atol=1e-15)
    peak = int(np.argmax(diag))
    assert 0.52 < a[peak] < 0.55 and abs(diag[peak] - 0.2140) < 1e-4
    assert np.all(np.diff(diag[: peak + 1]) > 0) and np.all(np.diff(diag[peak:]) < 0)
    low = a[: peak + 1][np.argmin(np.abs(diag[: peak + 1] - truncated_pair_moment(1.0, 1.0, 1.0, -1.0, 1.0)))]
    assert 0.3 < low < 0.36


def test_hardtanh_registry_entry():
    act = get_activation("hardtanh")
    assert not act.injective and act.region == (-1.0, 1.0) and act.preimage == (-1.0, 1.0)
    t = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.999, 1.0, 7.0], dtype=F64)
    assert torch.equal(act.forward(t), t.clamp(-1, 1))
    assert torch.equal(act.derivative(t), torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], dtype=F64))
    assert torch.equal(act.in_preimage(t), torch.tensor([False, False, True, True, True, False, False]))


def test_truncated_hardtanh_moments_do_not_identify_sigma():
    """The consequence of the diagonal's maximum: for the d = 8, seed 0 target (κ = 4), moving each
    Σ*_ii above the maximum (a ≈ 0.534) to its other preimage and solving each Σ_ij by bisection
    (the map is increasing in Σ_ij) gives a positive definite Σ ≠ Σ* with the same E[uuᵀ],
    u = z·1{|z| < 1}, to rounding: the truncated game has more than one solution for hardtanh."""
    from scipy.optimize import brentq

    from sgdagan.targets import target_weights

    w = target_weights(8, 4.0, 0)
    sigma_star = w @ w.T
    d = np.diag(sigma_star)
    moments = truncated_pair_moment(d[:, None], d[None, :], sigma_star, -1.0, 1.0)
    diag_map = lambda a: float(truncated_pair_moment(a, a, a, -1.0, 1.0))  # noqa: E731
    peak = 0.5338
    assert (d > peak).any() and (d < peak).any()
    var = np.array([brentq(lambda x: diag_map(x) - moments[i, i], 1e-3, peak, xtol=1e-15) if a > peak else a
                    for i, a in enumerate(d)])
    other = np.diag(var)
    for i in range(8):
        for j in range(i + 1, 8):
            bound = math.sqrt(var[i] * var[j])
            other[i, j] = other[j, i] = brentq(
                lambda c: float(truncated_pair_moment(var[i], var[j], c, -1.0, 1.0)) - moments[i, j], -bound, bound,
                xtol=1e-15)
    assert np.linalg.eigvalsh(other).min() > 0.1
    assert np.linalg.norm(other - sigma_star) / np.linalg.norm(sigma_star) > 0.3
    np.testing.assert_allclose(truncated_pair_moment(var[:, None], var[None, :], other, -1.0, 1.0), moments,
                               rtol=0, atol=1e-12)
