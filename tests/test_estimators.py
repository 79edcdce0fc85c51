"""The moment-inversion yardstick: the Gaussian MLE rate for injective φ, pair inversion for ReLU."""

import numpy as np
import pytest
import torch

from sgdagan.activations import get_activation
from sgdagan.estimators import invert_pair_moments, moment_inversion, project_psd
from sgdagan.targets import sample_target, target_weights


def whitened_sq_error(sigma_hat, sigma_star):
    vals, vecs = np.linalg.eigh(sigma_star)
    root_inv = (vecs / np.sqrt(vals)) @ vecs.T
    return np.sum((root_inv @ sigma_hat @ root_inv - np.eye(len(sigma_star))) ** 2)


@pytest.mark.parametrize("name", ["leaky_relu", "tanh", "sigmoid", "softplus", "identity"])
def test_injective_yardstick_attains_gaussian_mle_rate(name):
    # For injective φ the yardstick is the covariance of φ⁻¹(y), whose whitened squared error
    # has mean exactly d(d+1)/n. 40 seeds: the mean of the squared error has a relative standard
    # deviation of about √(2/40·…) ≲ 0.15 here, so ±35% is a > 2σ band.
    dim, n, seeds = 4, 2000, range(40)
    act = get_activation(name)
    errors = []
    for seed in seeds:
        w_star = target_weights(dim, 4.0, seed)
        errors.append(whitened_sq_error(moment_inversion(sample_target(act, w_star, n, seed), act), w_star @ w_star.T))
    assert np.mean(errors) == pytest.approx(dim * (dim + 1) / n, rel=0.35)


@pytest.mark.parametrize("name", ["relu", "hardtanh"])
def test_pair_inversion_yardstick_converges_at_the_parametric_rate(name):
    # ReLU and hardtanh are not injective: pair-moment inversion loses information but keeps the 1/n
    # rate, so the mean squared error shrinks ~16x when n grows 16x, and sits within a constant
    # factor of d(d+1)/n (measured for hardtanh: 15x, and 1.3x d(d+1)/n at n = 32000).
    dim, act = 4, get_activation(name)
    mean_error = {}
    for n in (2000, 32000):
        errs = []
        for seed in range(30):
            w_star = target_weights(dim, 4.0, seed)
            errs.append(whitened_sq_error(moment_inversion(sample_target(act, w_star, n, seed), act), w_star @ w_star.T))
        mean_error[n] = np.mean(errs)
    assert 8 < mean_error[2000] / mean_error[32000] < 32
    assert 1 <= mean_error[32000] / (dim * (dim + 1) / 32000) < 10


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softplus", "leaky_relu", "hardtanh"])
def test_pair_inversion_inverts_the_exact_moment_map(name):
    # Feed the exact population moments E[φ(z)φ(z)ᵀ] of a known Σ: inversion must return Σ.
    act = get_activation(name)
    w_star = target_weights(5, 9.0, 3)
    sigma = w_star @ w_star.T
    d = np.diag(sigma)
    moments = act.pair_moment(d[:, None], d[None, :], sigma)
    np.testing.assert_allclose(invert_pair_moments(moments, act), sigma, atol=1e-8)


def test_psd_projection_is_the_nearest_psd_matrix():
    a = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    p = project_psd(a)
    assert np.linalg.eigvalsh(p).min() >= -1e-12
    np.testing.assert_allclose(p, 1.5 * np.ones((2, 2)))  # 3·vvᵀ with v = (1, 1)/√2


def test_yardstick_is_psd_even_when_pairwise_estimates_are_not():
    act = get_activation("relu")
    w_star = target_weights(6, 25.0, 0)
    sigma_hat = moment_inversion(sample_target(act, w_star, 20, 0), act)  # tiny n: noisy pairs
    assert np.linalg.eigvalsh(sigma_hat).min() >= -1e-10
    assert torch.isfinite(torch.as_tensor(sigma_hat)).all()
