"""Tests of the activation registry (sgdagan.activations) against independent routes: Monte Carlo
through each entry's own forward map, the arc-cosine kernel of DESIGN §3, adaptive 1-D
integration, and exact properties (symmetry, monotonicity in Σ_ij, round trips, validation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from sgdagan.activations import ACTIVATIONS, get_activation, quadrature_pair_moment

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
    """Strictly increasing φ ⇒ E[φ(z_i)φ(z_j)] strictly increasing in Σ_ij (Price's theorem)."""
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
    closed = name in ("relu", "leaky_relu", "identity")
    rng = np.random.default_rng(3)
    hi = 5.0 if closed else 1.0
    a, b = rng.uniform(0.05, hi, 50), rng.uniform(0.05, hi, 50)
    c = rng.uniform(-1, 1, 50) * np.sqrt(a * b)
    act = get_activation(name)
    tol = 1e-14 if closed else 1e-6
    np.testing.assert_allclose(act.pair_moment(a, b, c), act.pair_moment(b, a, c), rtol=tol, atol=tol)


# Round-trip tolerances on |t| ≤ 5 in float64: the inverse amplifies the rounding of φ(t) by
# |dt/dy|, at most 1/(1 − tanh²5) ≈ 5.5e3 for tanh, 1/(σ(5)(1 − σ(5))) ≈ 150 for sigmoid.
ROUND_TRIP_ATOL = {"relu": 0.0, "identity": 0.0, "leaky_relu": 1e-15, "tanh": 2e-12, "sigmoid": 1e-13, "softplus": 1e-13}


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
        assert act.injective == (name != "relu")
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


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_autograd_and_central_differences(name):
    """φ' against autograd of the forward map to rounding (also at t = 0, where relu / leaky_relu
    take the left slope, as autograd does; exactly equal for the piecewise-linear ones), and
    against a central difference away from the kink (error ≤ 1e-7)."""
    act = get_activation(name)
    t = torch.cat([torch.linspace(-6, 6, 1201, dtype=F64), torch.zeros(1, dtype=F64)]).requires_grad_(True)
    (expected,) = torch.autograd.grad(act.forward(t).sum(), t)
    torch.testing.assert_close(act.derivative(t.detach()), expected, rtol=1e-12, atol=1e-15)
    away = t.detach()[t.detach().abs() > 1e-3]
    h = 1e-6
    numeric = (act.forward(away + h) - act.forward(away - h)) / (2 * h)
    assert torch.allclose(act.derivative(away), numeric, atol=1e-7, rtol=0)
