"""SGDA at large d: the curvature step rule keeps games stable, and the sufficient-statistics
path draws the same stochastic gradient as B latent vectors would (its bitwise batch invariance is
in tests/test_trainer.py)."""

import numpy as np
import pytest
import torch

from sgdagan.activations import get_activation
from sgdagan.config import TrainConfig
from sgdagan.features import LatentMoments, make_discriminator
from sgdagan.targets import sample_target, target_weights
from sgdagan.streams import GameSpec, GameStreams, draws_latent_stats, latent_batch
from sgdagan.trainer import GroupRun, game_schedule, train


def trained(result, method="sgda/truncated"):
    return result.metrics[result.metrics.method == method]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_default_step_rule_at_d64_does_not_diverge_and_tv_falls_steadily(activation):
    # The fixed η_W = 0.3 of before diverged here (relu: NaN by step 24–69). Default rule, two seeds,
    # small n and 100 base steps (relu's are stretched ×16 by steps_dim): every game stays finite; its
    # whitened error ‖Σ*^{-1/2}ΣΣ*^{-1/2} − I‖_F, at 8 log-spaced evaluation steps, falls from its peak
    # (relu's first steps overshoot from W_0) without rising by more than 2% and ends below half
    # the peak; its TV (near 1 while the error is large) never rises by more than the TV
    # estimator's noise (0.03 at 2000 draws) and ends lower than it began.
    config = TrainConfig.from_sources(None, activation=activation, dim=64, samples=[5000, 20000], steps=100,
                                      eval_points=8, tv_samples=2000)
    rows = trained(train(config, seeds=[0, 1], progress=False))
    assert (rows.status == "ok").all()
    for _, game in rows.groupby(["seed", "n"]):
        game = game.sort_values("step")
        error, tv = game.frob_white.to_numpy(), game.tv.to_numpy()
        falling = error[int(np.argmax(error)):]
        assert np.all(falling[1:] <= 1.02 * falling[:-1]) and falling[-1] < 0.5 * falling[0], error
        assert np.all(np.diff(tv) <= 0.03) and tv[-1] < tv[0], tv


def test_relu_schedule_stretches_with_d_and_injective_truncation_does_not():
    relu, tanh = get_activation("relu"), get_activation("tanh")
    config = TrainConfig.from_sources(None, dim=64)  # steps_dim 4: relu's schedule is 16 times as long
    stretched = game_schedule(config, make_discriminator("truncated", relu, 1.0))
    assert (stretched.steps, stretched.lr_decay) == (16 * config.steps, 16 * config.lr_decay)
    assert game_schedule(config, make_discriminator("truncated", tanh, 1.0)) is config
    assert game_schedule(TrainConfig.from_sources(None, dim=4), make_discriminator("truncated", relu, 1.0)).steps \
        == config.steps


def gradient_draws(latent_stats: bool, games: int, steps: int) -> np.ndarray:
    """Flattened (∇_W U, ∇_V U) at one fixed point (W, V), one row per game and step: `games`
    independent streams (distinct seeds), each drawing `steps` latent batches."""
    dim, batch = 3, 16
    config = TrainConfig.from_sources(None, activation="tanh", dim=dim, gen_batch=batch, gen_batch_per_dim=0)
    disc = make_discriminator("truncated", get_activation("tanh"), 1.0)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn((dim, dim), generator=gen, dtype=torch.float64).expand(games, dim, dim)
    v = [torch.randn(shape, generator=gen, dtype=torch.float64).expand(games, *shape) for shape in [(dim,), (dim, dim)]]
    real = [torch.zeros_like(p) for p in v]
    specs = [GameSpec(seed, 10, "truncated", "sgda") for seed in range(games)]  # n < B: the batch stays B
    streams = GameStreams(specs, config, 1, "cpu", torch.float64, latent_stats=latent_stats)
    assert not latent_stats or streams.batches == [batch] * games
    rows = []
    for _ in range(steps):
        latents, _ = streams.next()
        batch_ = LatentMoments(latents.mean[:, 0], latents.second[:, 0]) if latent_stats else latents[:, 0]
        grad_w, grad_v = disc.grads(w, v, real, batch_)
        rows.append(torch.cat([grad_w.flatten(1), *(g.flatten(1) for g in grad_v)], dim=1))
    return torch.cat(rows).numpy()


def test_sufficient_statistics_give_the_per_sample_gradients_mean_and_covariance():
    # 8192 gradient draws each way at B = 16 (small, so that the latent noise is large): every mean
    # and every entry of the covariance matrix agree within 4.5 combined standard errors (the
    # standard error of a covariance entry is estimated from the draws' own fourth moments). With
    # 20 coordinates there are 20 + 210 comparisons; a mismatch of the Wishart degrees of freedom by
    # one (B instead of B − 1) shifts the variances by ~6% ≈ 6 standard errors and fails.
    stats, samples = gradient_draws(True, 512, 16), gradient_draws(False, 512, 16)
    count = len(stats)
    mean_s, mean_p = stats.mean(0), samples.mean(0)
    se_mean = np.sqrt((stats.var(0) + samples.var(0)) / count)
    assert np.all(np.abs(mean_s - mean_p) <= 4.5 * se_mean)
    upper = np.triu_indices(stats.shape[1])
    cross_s = ((stats - mean_s)[:, :, None] * (stats - mean_s)[:, None, :])[:, upper[0], upper[1]]
    cross_p = ((samples - mean_p)[:, :, None] * (samples - mean_p)[:, None, :])[:, upper[0], upper[1]]
    se_cov = np.sqrt((cross_s.var(0) + cross_p.var(0)) / count)
    assert np.all(np.abs(cross_s.mean(0) - cross_p.mean(0)) <= 4.5 * se_cov)


def test_a_game_trained_on_sufficient_statistics_reaches_the_same_floor():
    # tanh, d = 8, n = 20000, 3 seeds, 1500 steps: TV(sgda)/TV(yardstick) per seed, median over
    # seeds, within 1.15 both ways and within 8% of each other (the spread across seeds is ~5%).
    # Drawn as statistics the latent batch is n = 20000 (`latent_batch`), else 512: the generator's
    # own noise adds n/(B·750) ≈ 5% to the estimate's variance per-sample and ~0 with statistics.
    ratios = {}
    for latent_stats in (True, False):
        config = TrainConfig.from_sources(None, activation="tanh", dim=8, samples=[20000], steps=1500,
                                          tv_samples=5000, latent_stats=latent_stats)
        final = train(config, seeds=[0, 1, 2], progress=False).metrics.query("final")
        tv = final.pivot_table(index="seed", columns="method", values="tv")
        ratios[latent_stats] = float((tv["sgda/truncated"] / tv["moment_inversion"]).median())
    assert max(ratios.values()) <= 1.15, ratios
    assert abs(ratios[True] - ratios[False]) <= 0.08, ratios


def test_sufficient_statistics_need_more_latent_draws_than_dimensions():
    # Bartlett's Wishart(B − 1, I) factor needs B − 1 ≥ d: at B ≤ d the game draws B latent vectors.
    for gen_batch, drawn_as_stats in ((4, False), (5, True)):
        config = TrainConfig.from_sources(None, activation="tanh", dim=4, samples=[100], steps=16, gen_batch=gen_batch)
        w_star = target_weights(4, config.kappa, 0)
        run = GroupRun([GameSpec(0, 100, "truncated", "sgda")], config, get_activation("tanh"),
                       {0: sample_target(get_activation("tanh"), w_star, 100, 0)},
                       torch.as_tensor(w_star @ w_star.T)[None], "cpu", torch.float64)
        assert run.streams.latent_stats is drawn_as_stats
        run.run(progress=False)
        assert bool(run.alive.all())


def test_the_latent_batch_grows_with_d_where_latent_vectors_are_drawn():
    # B = max(gen_batch, gen_batch_per_dim·d) holds d/B at 1/8 above d = 32 (DESIGN §5): the streams
    # draw that many vectors, and η_W's latent spread (1 + √(d/B))² is taken at it; latent statistics
    # keep B = max(gen_batch, n).
    relu, tanh = get_activation("relu"), get_activation("tanh")
    for dim, expected in ((16, 256), (32, 256), (64, 512), (128, 1024)):
        config = TrainConfig.from_sources(None, activation="relu", dim=dim)
        streams = GameStreams([GameSpec(0, 100, "truncated", "sgda")], config, 1, "cpu", torch.float64)
        assert streams.shape[-1] == expected == latent_batch(config, 10**6, False)
        disc = make_discriminator("truncated", relu, 1.0)
        assert not draws_latent_stats(config, disc)
        stats_config = TrainConfig.from_sources(None, activation="tanh", dim=dim)
        assert draws_latent_stats(stats_config, make_discriminator("truncated", tanh, 1.0))
        assert latent_batch(stats_config, 10**6, True) == 10**6
    assert TrainConfig.from_sources(None, dim=128, gen_batch_per_dim=0).latent_vectors() == 256
