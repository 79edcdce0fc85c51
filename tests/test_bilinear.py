"""The bilinear game θᵀCω: each rule of dynamics.py against its exact iteration matrix and boundary."""

import math

import numpy as np
import pytest
import torch

from sgdagan import bilinear
from sgdagan.bilinear import BilinearOracle, convergence_grid, iteration_matrix, spectral_radius
from sgdagan.dynamics import get_dynamics

SIGMA = [0.5, 0.8, 1.0]  # σ_max = 1, so η = η·σ_max below
STEPS = 1000
TOL = 1e-4  # the grid's criterion: converged iff ‖z_T‖/‖z_0‖ ≤ 1e-4, diverged iff ≥ 1e4


@pytest.fixture(scope="module")
def grid():
    etas = [0.02, 0.1, 0.5, 0.56, 0.6, 0.65, 0.7, 0.9, 1.1, 1.6, 1.9, 2.1]
    return convergence_grid(["sgda", "alt", "ttur", "omd", "eg", "pm", "co"], etas, [0.5, 1.0], SIGMA,
                            steps=STEPS, seed=3, tol=TOL)


def outcome(grid, method, eta, gamma=None):
    rows = grid[(grid.method == method) & np.isclose(grid.eta, eta)]
    if gamma is not None:
        rows = rows[np.isclose(rows.gamma, gamma)]
    assert len(rows) == 1
    return rows.iloc[0]


# Both sides of each boundary (σ_max = 1): (method, γ, η·σ_max, measured outcome).
SIDES = [
    ("eg", None, 0.9, "converged"), ("eg", None, 1.1, "diverged"),  # EG iff ησ_max < 1
    ("omd", None, 0.5, "converged"), ("omd", None, 0.56, "converged"),  # OGDA iff ησ_max < 1/√3 = 0.577
    ("omd", None, 0.6, "diverged"), ("omd", None, 0.65, "diverged"),
    ("alt", None, 1.9, "bounded"), ("alt", None, 2.1, "diverged"),  # ρ = 1 up to ησ_max = 2
    ("pm", 1.0, 0.9, "converged"), ("pm", 1.0, 1.1, "diverged"),  # pm iff γ(1 + (ησ_max)²) < 2
    ("pm", 0.5, 1.6, "converged"), ("pm", 0.5, 1.9, "diverged"),  # boundary √3 = 1.732 at γ = 1/2
    ("co", 1.0, 0.9, "converged"), ("co", 1.0, 1.1, "diverged"),  # co iff η(1 + γ²σ_max²) < 2γ: 1.0
    ("co", 0.5, 0.7, "converged"), ("co", 0.5, 0.9, "diverged"),  # 0.8 at γ = 1/2
]


@pytest.mark.parametrize("method, gamma, eta, expected", SIDES)
def test_measured_outcome_on_both_sides_of_the_boundary(grid, method, gamma, eta, expected):
    row = outcome(grid, method, eta, gamma)
    assert row.outcome == expected, row.to_dict()
    assert row.converged == (expected == "converged")
    assert row.theory_converges == (expected == "converged") and row.stated == row.theory_converges


def test_gda_grows_at_every_step_size_and_ttur_never_converges(grid):
    sgda = grid[grid.method == "sgda"]
    assert (sgda.rate > 1).all() and (sgda.ratio > 1).all() and (sgda.theory == "diverges").all()
    assert sgda.rho.to_numpy() == pytest.approx(np.sqrt(1 + sgda.eta.to_numpy() ** 2), rel=1e-12)
    # Even at ησ_max = 0.1 (ρ = 1.005) GDA crosses the divergence threshold, given the steps.
    long = convergence_grid(["sgda"], [0.1], [1.0], SIGMA, steps=3000, seed=3, tol=TOL)
    assert long.outcome.item() == "diverged" and long.theory.item() == "diverges"
    ttur = grid[grid.method == "ttur"]
    assert not ttur.converged.any() and (ttur.ratio > 1).all() and (ttur.theory == "does not converge").all()


def test_contraction_rate_matches_the_exact_spectral_radius(grid):
    # rate = exp(least-squares slope of log‖z_t‖ over the second half of 1000 steps). With distinct
    # singular values a sub-dominant mode can still be dying there when the modes' rates are close
    # (small η: the gap seen is up to 4.6e-4): tolerance 1e-3 absolute.
    timed = grid[grid.method != "ttur"]
    assert np.isfinite(timed.rate).all()
    assert np.abs(timed.rate - timed.rho).max() < 1e-3
    # The whole trajectory matches the hand-written matrices on the same z_0 (not only the rate).
    finite = np.isfinite(grid.ratio_exact) & (grid.ratio_exact > 0)
    assert np.allclose(np.log(grid.ratio[finite]), np.log(grid.ratio_exact[finite]), atol=1e-8)
    assert grid.agrees.all()


def test_contraction_rate_with_one_singular_value_is_rho():
    # C = σ·(orthogonal): every mode has the same |λ|, so no other mode's transient biases the
    # slope (omd's second root per mode decays much faster): equal to ρ to 1e-12. alt's map is not
    # normal (ρ = 1, ‖z_t‖ runs round an ellipse), so its slope carries that wobble: 5e-5.
    df = convergence_grid(["sgda", "alt", "omd", "eg", "pm", "co"], [0.05, 0.3, 0.55, 0.8, 0.95, 1.2],
                          [0.5, 1.0], [0.9, 0.9, 0.9], steps=600, seed=5)
    gap = (df.rate - df.rho).abs()
    assert gap[df.method != "alt"].max() < 1e-12
    assert gap[df.method == "alt"].max() < 5e-5


def test_closed_form_boundaries_match_the_exact_spectral_radius():
    table = bilinear.boundary_table(SIGMA, gammas=(0.25, 0.5, 1.0, 1.5))
    assert np.allclose(table.eta_critical_stated, table.eta_critical_exact, atol=1e-7)
    by_method = table.set_index("method")
    assert by_method.loc["eg", "sigma_max_eta_exact"] == pytest.approx(1.0, abs=1e-7)
    assert by_method.loc["omd", "sigma_max_eta_exact"] == pytest.approx(1 / math.sqrt(3), abs=1e-7)
    assert by_method.loc["sgda", "eta_critical_exact"] == 0.0
    # A different, non-unit spectrum: the constants are in units of σ_max.
    table = bilinear.boundary_table([0.3, 2.0, 2.5], gammas=(0.7,))
    assert np.allclose(table.eta_critical_stated, table.eta_critical_exact, atol=1e-7)


@pytest.mark.parametrize("method", ["sgda", "alt", "eg", "pm", "co"])
def test_one_step_of_each_rule_is_its_iteration_matrix(method):
    # R = 3 games, each its own η (and γ): the per-game scales broadcast along the right axis.
    C = bilinear.make_matrix([0.4, 1.0, 1.3], seed=1)[:, :2]  # a non-square C (3 × 2)
    etas = torch.tensor([0.1, 0.4, 0.7], dtype=torch.float64)
    gammas = torch.tensor([0.3, 1.0, 2.0], dtype=torch.float64)
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    step = get_dynamics(method).step
    kwargs = {"gamma": gammas} if method in ("pm", "co") else {}
    theta, (omega,) = step(BilinearOracle(torch.as_tensor(C)), z[:, :3], [z[:, 3:]], etas, etas, {}, **kwargs)
    assert not theta.requires_grad and not omega.requires_grad
    for r in range(3):
        M = iteration_matrix(method, C, float(etas[r]), float(gammas[r]))
        assert np.allclose(np.r_[theta[r].numpy(), omega[r].numpy()], M @ z[r].numpy(), atol=1e-13)


def test_omd_starts_with_gda_then_uses_the_previous_gradient():
    C = bilinear.make_matrix([0.5, 1.0], seed=2)
    z0 = np.array([1.0, -0.5, 0.25, 2.0])
    step, oracle, state = get_dynamics("omd").step, BilinearOracle(torch.as_tensor(C)), {}
    theta, omega = torch.as_tensor(z0[:2])[None], torch.as_tensor(z0[2:])[None]
    pair = np.r_[iteration_matrix("sgda", C, 0.3) @ z0, z0]
    M = iteration_matrix("omd", C, 0.3)
    theta, (omega,) = step(oracle, theta, [omega], 0.3, 0.3, state)
    assert np.allclose(np.r_[theta[0], omega[0]], pair[:4], atol=1e-14)
    for _ in range(3):
        theta, (omega,) = step(oracle, theta, [omega], 0.3, 0.3, state)
        pair = M @ pair
        assert np.allclose(np.r_[theta[0], omega[0]], pair[:4], atol=1e-13)


def test_pm_and_co_are_the_same_map_with_roles_swapped():
    C = bilinear.make_matrix(SIGMA, seed=0)
    # pm (half step η, full step γη) ≡ co (step γη, weight η) on a bilinear game.
    assert np.allclose(iteration_matrix("pm", C, 0.6, 0.5), iteration_matrix("co", C, 0.3, 0.6))
    assert spectral_radius("pm", C, 1.0, 1.0) == pytest.approx(spectral_radius("eg", C, 1.0))


def test_rows_gammas_and_invalid_methods():
    df = convergence_grid(["eg", "co"], [0.1, 0.2], [0.5, 1.0, 2.0], SIGMA, steps=20)
    assert len(df) == 2 + 2 * 3
    assert df[df.method == "eg"].gamma.isna().all() and df.dist_init.to_numpy() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="bilevel"):
        convergence_grid(["bilevel"], [0.1], [1.0], SIGMA, steps=5)
    with pytest.raises(NotImplementedError):
        BilinearOracle(torch.eye(2)).best_response(torch.zeros(1, 2))
