"""The Wu–Dimakis–Sanghavi estimator for ReLU: norms by truncated-normal MLE, angles from orthants."""

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from sgdagan.activations import get_activation
from sgdagan.estimators import orthant_angles, relu_row_norms_sq, wds
from sgdagan.targets import sample_target, target_weights

RELU = get_activation("relu")
DIM, N_SMALL, N_LARGE, SEEDS = 5, 12_500, 200_000, range(6)


def whitened_sq_error(sigma_hat, sigma_star):
    vals, vecs = np.linalg.eigh(sigma_star)
    root_inv = (vecs / np.sqrt(vals)) @ vecs.T
    return np.sum((root_inv @ sigma_hat @ root_inv - np.eye(len(sigma_star))) ** 2)


@pytest.fixture(scope="module")
def relu_data():
    """Per seed: Σ* and n = 2e5 relu samples (the first N_SMALL rows are the n = 12 500 sample)."""
    out = {}
    for seed in SEEDS:
        w_star = target_weights(DIM, 4.0, seed)
        out[seed] = (w_star @ w_star.T, sample_target(RELU, w_star, N_LARGE, seed))
    return out


def test_recovers_sigma_star_at_the_parametric_rate(relu_data):
    # At n = 2e5 the whitened Frobenius error is ~0.03 (rms over seeds); 0.1 is > 3x that. From
    # n = 12 500 to 2e5 (16x) the mean squared error shrinks ~16x (1/√n in the error): 6 seeds
    # give the ratio to within about ±40% at 2σ, so [8, 32] is a safe band that still rejects a
    # stalled (ratio ~1) or a 1/n^¼ (ratio 4) estimator.
    errors = {n: [] for n in (N_SMALL, N_LARGE)}
    for sigma_star, y in relu_data.values():
        for n in errors:
            errors[n].append(whitened_sq_error(wds(y[:n]), sigma_star))
    assert max(np.sqrt(errors[N_LARGE])) < 0.1, errors[N_LARGE]
    ratio = np.mean(errors[N_SMALL]) / np.mean(errors[N_LARGE])
    assert 8 < ratio < 32, ratio


def test_angle_formula_inverts_the_orthant_probability():
    # Independent oracle: scipy's bivariate normal CDF, P(z_i > 0, z_j > 0) = Φ₂(0, 0; ρ) by
    # symmetry, for ρ across (−1, 1); the angle formula must give back cos θ = ρ.
    rhos = np.array([-0.95, -0.6, -0.2, 0.0, 0.3, 0.7, 0.99])
    both = np.array([multivariate_normal.cdf([0, 0], mean=[0, 0], cov=[[1, r], [r, 1]], abseps=1e-10, releps=1e-10)
                     for r in rhos])
    np.testing.assert_allclose(both, 0.25 + np.arcsin(rhos) / (2 * np.pi), atol=1e-7)  # DESIGN §3's closed form
    np.testing.assert_allclose(np.cos(orthant_angles(both)), rhos, atol=1e-6)
    # Frequencies outside [0, ½] (sampling noise) clip to θ ∈ [0, π] instead of leaving the range.
    assert orthant_angles(np.array([0.6, -0.01])).tolist() == [0.0, np.pi]


def test_row_norms_are_the_half_normal_mle_and_psgd_reaches_it(relu_data):
    sigma_star, y = relu_data[0]
    y = y.numpy()
    closed = relu_row_norms_sq(y)
    positive = y > 0
    expected = np.array([np.mean(y[positive[:, i], i] ** 2) for i in range(DIM)])
    np.testing.assert_allclose(closed, expected, rtol=1e-12)
    # The MLE's relative sd is √(2/m) ≈ 0.45% at m ≈ 1e5 positive samples: 3% is > 6σ.
    np.testing.assert_allclose(closed, np.diag(sigma_star), rtol=0.03)
    # WDS's projected SGD on the same likelihood lands on the closed form, well inside its sd.
    np.testing.assert_allclose(relu_row_norms_sq(y, "psgd"), closed, rtol=0.01)
    with pytest.raises(ValueError, match="norm method"):
        relu_row_norms_sq(y, "newton")


def test_deterministic_psd_and_input_checks(relu_data):
    _, y = relu_data[1]
    y = y[:3000]
    first = wds(y)
    assert np.array_equal(first, wds(y)) and np.array_equal(first, wds(y.numpy()))
    assert np.array_equal(wds(y, "psgd"), wds(y, "psgd"))
    assert first.shape == (DIM, DIM) and np.allclose(first, first.T)
    assert np.linalg.eigvalsh(first).min() >= -1e-12
    tiny = wds(y[:8])  # tiny n: noisy angles, still finite and PSD
    assert np.isfinite(tiny).all() and np.linalg.eigvalsh(tiny).min() >= -1e-12
    with pytest.raises(ValueError, match="relu outputs"):
        wds(torch.randn(10, 3))
    zero_column = wds(np.c_[np.zeros(50), np.abs(np.random.default_rng(0).standard_normal(50))])
    assert np.isfinite(zero_column).all() and zero_column[0, 0] == 0.0
