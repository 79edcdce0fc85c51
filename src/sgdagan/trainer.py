"""Batched training: R independent GANs — every sample size, seed and method — as one set of tensors.

A game is (seed, n, discriminator, dynamics). Its target and data depend on the seed alone
(targets.py) and its initial W on (seed, n), shared by all methods; its latent draws and minibatch
indices come from its own torch.Generator keyed by (seed, n, method), drawn in fixed-size blocks,
so a game's numbers are the same whether it trains alone or beside others. Games sharing a method
train together (`train_group`: on a multi-threaded CPU, as one shard per thread); the no-GAN
estimators run on the same data (`run_estimators`). The games' random streams are in streams.py,
the resume file in checkpoint.py. Metrics are recorded at log- or linearly spaced evaluation steps.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # a terminal bar (the CLI); tqdm.auto would warn in notebooks that import the package

from . import metrics
from .activations import Activation, get_activation
from .checkpoint import Checkpoint, fingerprint, to_device
from .config import TrainConfig
from .dynamics import get_dynamics
from .estimators import moment_inversion
from .features import Discriminator, LatentMoments, game_matmul, make_discriminator, same_game_as
from .relu_likelihood import pairwise_mle
from .streams import GameSpec, GameStreams, draws_latent_stats, latent_batch
from .tables import MEASURES
from .targets import sample_target, target_weights
from .wds import wds, wds_known_bias

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda requested but torch.cuda.is_available() is False")
    return torch.device(name)


@dataclass
class TrainResult:
    metrics: pd.DataFrame
    sigma_star: dict[int, np.ndarray]
    sigmas: dict[tuple[int, str, int], np.ndarray]  # (seed, method, n) → final Σ
    device: str


class StepOracle:
    """The game at one step: fixed real-side moments and latent batches ([R, draws, d, B]). Gradients in closed form
    for the moment discriminators (`MomentDiscriminator.grads`), by autograd for the mlp and for
    rules that differentiate the field (`create_graph`)."""

    def __init__(self, disc: Discriminator, real: list[torch.Tensor], latents: torch.Tensor):
        self.disc, self.real, self.latents = disc, real, latents

    def _batch(self, draw: int) -> torch.Tensor | LatentMoments:
        if isinstance(self.latents, LatentMoments):
            return LatentMoments(self.latents.mean[:, draw], self.latents.second[:, draw])
        return self.latents[:, draw]

    def _fake_moments(self, w: torch.Tensor, draw: int) -> list[torch.Tensor]:
        batch = self._batch(draw)
        if isinstance(batch, LatentMoments):
            return self.disc.moments_from_stats(w, batch)
        z = game_matmul(batch.transpose(-1, -2), w.transpose(-1, -2))
        return self.disc.moments(self.disc.generator_transform(z))

    def grads(self, w, v, draw: int = 0, create_graph: bool = False):
        """(∇_W L_gen, ∇_V U): the generator's loss L_gen is U itself for a zero-sum discriminator,
        `disc.generator_loss` otherwise (the mlp's non-saturating loss). With `create_graph`,
        differentiable in the caller's w, v (which then must require grad) — for rules that
        differentiate the field itself (consensus optimisation)."""
        if self.disc.zero_sum and not create_graph:
            return self.disc.grads(w, v, self.real, self._batch(draw))
        with torch.enable_grad():
            if not create_graph:
                w = w.detach().requires_grad_(True)
                v = [p.detach().requires_grad_(True) for p in v]
            fake = self._fake_moments(w, draw)
            payoff = self.disc.payoff(v, self.real, fake)
            if self.disc.zero_sum:
                grads = torch.autograd.grad(payoff.sum(), [w, *v], create_graph=create_graph)
                return grads[0], list(grads[1:])
            grad_v = torch.autograd.grad(payoff.sum(), v, retain_graph=True, create_graph=create_graph)
            (grad_w,) = torch.autograd.grad(self.disc.generator_loss(v, fake).sum(), w, create_graph=create_graph)
        return grad_w, list(grad_v)

    def best_response(self, w, draw: int = 0):
        return self.disc.best_response(self.real, self._fake_moments(w, draw))


def learning_rate(base: float, step: int, config: TrainConfig) -> float:
    if config.lr_schedule == "inverse_time":
        return base / (1.0 + step / config.lr_decay)
    return base


def game_schedule(config: TrainConfig, disc: Discriminator) -> TrainConfig:
    """The config a method's games train with: where the features have a mean, `steps` and
    `lr_decay` stretched by max(1, d / steps_dim) (DESIGN §5: the mean mode's curvature grows like
    d, so η_W falls like 1/d and the other modes need d-times more steps); else `config` itself."""
    if not (config.steps_dim and disc.features_have_mean and config.dim > config.steps_dim):
        return config
    stretch = config.dim / config.steps_dim
    return dataclasses.replace(config, steps=math.ceil(config.steps * stretch), lr_decay=config.lr_decay * stretch)


def group_discriminator(name: str, config: TrainConfig, activation: Activation) -> Discriminator:
    """The discriminator family `name` with the config's settings for it."""
    return make_discriminator(name, activation, config.penalty, mlp_hidden=config.mlp_hidden,
                              mlp_loss=config.mlp_loss, mlp_gp_weight=config.mlp_gp_weight)


def generator_step_scale(disc: Discriminator, y: torch.Tensor, real: list[torch.Tensor], batch: int,
                         config: TrainConfig) -> float:
    """η_W / lr_gen for a game on real sample y with moments `real` and latent batch `batch`: 1/h
    under `lr_scale: curvature`, else 1.

    h = `disc.curvature(y, real)` (a bound on the generator's Gauss–Newton curvature near the target)
    times (1 + √(d/B))², the largest eigenvalue a latent batch's second moment XXᵀ/B reaches
    (Bai–Yin): the stochastic gradient carries it where the exact one has I. The mlp has no
    such bound and keeps η_W = lr_gen. docs/DESIGN.md §5 says why this keeps SGDA stable.
    """
    curvature = disc.curvature(y, real) if config.lr_scale == "curvature" else None
    if curvature is None:
        return 1.0
    latent_spread = (1.0 + math.sqrt(config.latent_dim / batch)) ** 2
    return 1.0 / (curvature * latent_spread)


def measure(sigma: torch.Tensor, sigma_star: torch.Tensor, seeds: Sequence[int], config: TrainConfig,
            activation: Activation) -> dict[str, np.ndarray]:
    """Metrics per game (NaN for a non-finite Σ). TV draws are keyed by each game's seed, so all
    methods and sample sizes of a seed share them (common random numbers). Where the width k is below
    d, Σ* has rank k: TV, the whitened error and the sign bound are undefined (NaN)."""
    games = sigma.shape[0]
    out = {name: np.full(games, np.nan) for name in MEASURES}
    finite = torch.isfinite(sigma).flatten(1).all(dim=1).cpu().numpy()
    seeds = np.asarray(seeds)
    full_rank = config.latent_dim == config.dim
    for seed in np.unique(seeds):
        rows = np.flatnonzero(finite & (seeds == seed))
        if rows.size == 0:
            continue
        index = torch.as_tensor(rows, device=sigma.device)
        s, s_star = sigma[index].double(), sigma_star[index].double()
        if full_rank:
            tv, se = metrics.tv_gaussian_mc(s, s_star, config.tv_samples, seed=int(seed))
            out["tv"][rows], out["tv_se"][rows] = tv.cpu().numpy(), se.cpu().numpy()
        for name, value in metrics.frobenius_errors(s, s_star, whitened=full_rank).items():
            out[name][rows] = value.cpu().numpy()
        if full_rank and not activation.injective:
            out["tv_sign_lb"][rows] = metrics.sign_pattern_tv_lb(s, s_star).cpu().numpy()
    return out


def _row(config: TrainConfig, seed: int, n: int, method: str, discriminator: str, dynamics: str, step: int,
         final: bool, values: dict[str, np.ndarray], game: int, status: str, wall_s: float) -> dict:
    """One row of the metrics table (tables.METRICS_COLUMNS and more): game `game` of `values`."""
    return {"activation": config.activation, "dim": config.dim, "width": config.latent_dim, "seed": seed,
            "kappa": config.kappa, "n": n,
            "method": method, "discriminator": discriminator, "dynamics": dynamics, "step": step, "final": final,
            **{name: float(values[name][game]) for name in MEASURES}, "wall_s": wall_s, "status": status}


class GroupRun:
    """Games that share one method, trained as one batch; resumable at RNG-block boundaries.

    Everything that determines the rest of the run — parameters, the dynamics' own state, the
    tail average, the divergence mask, each game's generator state and the rows so far — is in
    `state_dict()`, so a run restored from it continues bit for bit as if never stopped.
    """

    def __init__(self, specs: list[GameSpec], config: TrainConfig, activation: Activation,
                 data: dict[int, torch.Tensor], sigma_star: torch.Tensor, device, dtype):
        self.specs, self.activation, self.sigma_star = specs, activation, sigma_star
        self.disc = group_discriminator(specs[0].discriminator, config, activation)
        self.config = config = game_schedule(config, self.disc)
        self.dynamics = get_dynamics(specs[0].dynamics, config)
        self.seeds = [spec.seed for spec in specs]
        games, dim = len(specs), config.dim

        transformed = {seed: self.disc.data_transform(data[seed]).to(dtype) for seed in sorted(set(self.seeds))}
        # Each game's data moments: its real side when it uses the full sample, and its curvature.
        per_game = [self.disc.moments(transformed[spec.seed][None, : spec.n]) for spec in specs]
        latent_stats = draws_latent_stats(config, self.disc)
        # η_W per game: lr_gen / h, h from the game's own sample (`generator_step_scale`).
        # Lei et al.'s projection: each row of W held at the target's norm ‖w*_i‖ = √Σ*_ii.
        self.row_norms = sigma_star.diagonal(dim1=-2, dim2=-1).sqrt() if config.project_rows else None
        self.gen_scale = torch.tensor(
            [generator_step_scale(self.disc, data[spec.seed][: spec.n], [m[0] for m in moments],
                                  latent_batch(config, spec.n, latent_stats), config)
             for spec, moments in zip(specs, per_game)], dtype=dtype, device=device)
        if config.data_batch == 0:
            self.real_full = [torch.cat(parts) for parts in zip(*per_game)]
        else:
            order = sorted(transformed)
            self.stacked = torch.stack([transformed[seed] for seed in order])  # [S, n_max, d]
            self.seed_index = torch.tensor([order.index(seed) for seed in self.seeds], device=device)[:, None]

        self.streams = GameStreams(specs, config, self.dynamics.draws, device, dtype, latent_stats)
        self.step = 0
        self.w = self.streams.initial_weights(specs, config.init_scale)
        # The mlp draws its V_0 from each game's own stream, before the first latent block.
        self.v = self.disc.init_params(games, dim, dtype, device, generators=self.streams.generators)
        self.dyn_state: dict[str, torch.Tensor] = {}
        self.alive = torch.ones(games, dtype=torch.bool, device=device)
        self.sigma_avg = torch.zeros((games, dim, dim), dtype=dtype, device=device)
        self.averaged = 0
        self.rows: list[dict] = []
        self.elapsed = 0.0  # seconds of training before this process (a resumed run adds to it)

    def state_dict(self) -> dict:
        assert self.streams.at_block_boundary(), "state is saved only where no drawn block is pending"
        # Rows are never changed once written: a tuple of them is a snapshot without copying each row.
        return {"step": self.step, "w": self.w, "v": self.v, "dyn_state": self.dyn_state, "alive": self.alive,
                "sigma_avg": self.sigma_avg, "averaged": self.averaged, "rows": tuple(self.rows),
                "elapsed": self.elapsed, "generators": self.streams.generator_states()}

    def load_state_dict(self, state: dict) -> None:
        for key in ("step", "w", "v", "dyn_state", "alive", "sigma_avg", "averaged", "elapsed"):
            setattr(self, key, state[key])
        self.rows = list(state["rows"])
        self.streams.set_generator_states(state["generators"])

    def run(self, progress: bool, on_block=None, stop: threading.Event | None = None
            ) -> tuple[list[dict], torch.Tensor]:
        """Train to config.steps; `on_block(self)` is called at each RNG-block boundary (to save the resume checkpoint).
        A set `stop` ends the run after the current step (the caller is abandoning it)."""
        config = self.config
        resumed_at, started = self.elapsed, time.perf_counter()
        average_start = int(config.average_from * config.steps) if config.averaging == "tail" else config.steps + 1
        eval_steps = set(metrics.eval_steps(config.steps, config.eval_points, config.eval_spacing))
        bar = tqdm(total=config.steps, initial=self.step, desc=self.specs[0].method, disable=not progress, leave=False)
        while self.step < config.steps and not (stop is not None and stop.is_set()):
            self.step += 1
            step = self.step
            latents, indices = self.streams.next()
            real = self.real_full if indices is None else self.disc.moments(self.stacked[self.seed_index, indices])
            oracle = StepOracle(self.disc, real, latents)
            lr_gen = learning_rate(config.lr_gen, step, config) * self.gen_scale
            lr_disc = learning_rate(config.lr_disc, step, config)
            w_new, v_new = self.dynamics.step(oracle, self.w, self.v, lr_gen, lr_disc, self.dyn_state)
            if self.row_norms is not None:
                w_new = w_new * (self.row_norms / torch.linalg.vector_norm(w_new, dim=-1).clamp_min(1e-300))[..., None]

            self.w, self.v = w_new, v_new
            if step in eval_steps or self.streams.at_block_boundary():
                self._freeze_diverged()

            if step >= average_start or step in eval_steps:
                sigma = game_matmul(self.w, self.w.transpose(-1, -2))
            if step >= average_start:
                self.averaged += 1
                self.sigma_avg += (sigma - self.sigma_avg) / self.averaged
            self.elapsed = resumed_at + time.perf_counter() - started
            if step in eval_steps:
                estimate = self.estimate(sigma)
                status = ["ok" if a else "diverged" for a in self.alive.tolist()]
                values = measure(estimate, self.sigma_star, self.seeds, config, self.activation)
                self.rows += [_row(config, spec.seed, spec.n, spec.method, spec.discriminator, spec.dynamics, step,
                                   step == config.steps, values, g, status[g], self.elapsed)
                              for g, spec in enumerate(self.specs)]
            bar.update()
            if on_block is not None and self.streams.at_block_boundary():
                on_block(self)
        bar.close()
        return self.rows, self.estimate(game_matmul(self.w, self.w.transpose(-1, -2)))

    def _freeze_diverged(self) -> None:
        """A game that has left the finite range is frozen at zero and reported diverged; the others
        are untouched (every operation of a step is per game). Checked once per RNG block (every
        RNG_BLOCK steps, before any checkpoint) and at evaluation steps, not every step: the check
        is a dozen small operations, and a diverging game harms no batch mate in between."""
        ok = _bounded(self.w, self.config.diverge_threshold)
        for p in self.v:
            ok &= _bounded(p, math.inf)
        self.alive &= ok
        if not bool(self.alive.all()):
            self.w = _where_alive(self.alive, self.w)
            self.v = [_where_alive(self.alive, p) for p in self.v]
            self.dyn_state = {k: _where_alive(self.alive, t) for k, t in self.dyn_state.items()}

    def estimate(self, sigma: torch.Tensor) -> torch.Tensor:
        """The current Σ estimate per game: the tail average once it has started; NaN if diverged."""
        estimate = self.sigma_avg if self.averaged else sigma
        return torch.where(self.alive[:, None, None], estimate, torch.full_like(estimate, float("nan")))


def _bounded(tensor: torch.Tensor, bound: float) -> torch.Tensor:
    """Per game: every entry finite and below `bound` in magnitude (NaN compares False)."""
    return tensor.abs().flatten(1).amax(dim=1) < bound


def _where_alive(alive: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    return torch.where(alive.view(-1, *[1] * (tensor.dim() - 1)), tensor, torch.zeros_like(tensor))


def shard_games(games: int, device: torch.device, latent_stats: bool) -> list[list[int]]:
    """The games of a group split over the CPU's threads, interleaved: one shard per torch intra-op
    thread, each trained single-threaded in its own Python thread (see `train_group`); one shard
    on a GPU, and where the games draw latent statistics (`draws_latent_stats`)."""
    sharded = device.type == "cpu" and not latent_stats
    workers = max(1, min(games, torch.get_num_threads())) if sharded else 1
    return [list(range(k, games, workers)) for k in range(workers)]


@contextmanager
def intra_op_threads(count: int):
    """torch's intra-op thread count set to `count` inside the block, restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_group(specs: list[GameSpec], config: TrainConfig, activation: Activation, data: dict[int, torch.Tensor],
                sigma_star: torch.Tensor, device, dtype, progress: bool = False,
                checkpoint: Checkpoint | None = None) -> tuple[list[dict], torch.Tensor]:
    """Train one method's games: (rows, final Σ per game), rows in the order of one `GroupRun`.

    On a CPU with several intra-op threads, games that draw latent vectors are split into shards
    (`shard_games`), each a `GroupRun` on one thread, all shards at once: one shard's random draws
    overlap another's products. Every GroupRun runs single-threaded, so that a game's numbers do not
    depend on the thread count (a multi-threaded reduction would sum in another order), nor on its
    shard (each game is computed independently of the others, bit for bit on the CPU). Games that
    draw latent statistics train as one shard: their steps are O(d³) small operations, and shards
    would contend for the interpreter. Measured on 2 cores, side by side, game-steps/s of 2 shards
    against one single-threaded GroupRun: relu (B = 256) 1.00× at d = 16 (32 games) and 1.38× at
    d = 64 (8 games); tanh's statistics 0.62× at d = 16 and 1.03× at d = 64; and against one
    two-threaded GroupRun (not bitwise thread-invariant), relu at d = 128 (12 games, B = 512) 1.3–1.5×.
    """
    device = torch.device(device)
    method = specs[0].method
    saved = checkpoint.in_progress(method) if checkpoint is not None else None
    latent_stats = draws_latent_stats(config, group_discriminator(specs[0].discriminator, config, activation))
    shards = saved["shards"] if saved is not None else shard_games(len(specs), device, latent_stats)
    with intra_op_threads(1):  # the real moments too: a reduction over n rows sums per thread
        runs = [GroupRun([specs[i] for i in shard], config, activation, data, sigma_star[shard], device, dtype)
                for shard in shards]
    if saved is not None:
        for run, state in zip(runs, saved["states"]):
            run.load_state_dict(to_device(state, device))
        log.info("%s: resuming at step %s of %d", method, "/".join(str(r.step) for r in runs), config.steps)
    if checkpoint is not None:
        checkpoint.start_group(method, shards, runs)

    def train_shard(k: int, stop: threading.Event | None = None):
        on_block = checkpoint.on_block(k) if checkpoint is not None else None
        # OpenMP's thread count is per thread: a worker thread starts at the default, not at 1.
        with intra_op_threads(1):
            return runs[k].run(progress and k == 0, on_block=on_block, stop=stop)

    if len(runs) == 1:
        results = [train_shard(0)]
    else:
        stop = threading.Event()
        with ThreadPoolExecutor(len(runs)) as pool:
            futures = [pool.submit(train_shard, k, stop) for k in range(len(runs))]
            try:
                results = [future.result() for future in futures]
            except BaseException:  # an error or Ctrl-C: the other shards stop after their current step
                stop.set()
                raise

    position = {(spec.seed, spec.n): i for i, spec in enumerate(specs)}
    rows = sorted((row for shard_rows, _ in results for row in shard_rows),
                  key=lambda row: (row["step"], position[(row["seed"], row["n"])]))
    final = torch.empty((len(specs), *results[0][1].shape[1:]), dtype=results[0][1].dtype, device=device)
    for shard, (_, shard_final) in zip(shards, results):
        final[shard] = shard_final
    if checkpoint is not None:
        checkpoint.finish_group(method, rows, final)
    return rows, final


def run_estimators(config: TrainConfig, seeds: Sequence[int], data: dict[int, torch.Tensor],
                   star: dict[int, np.ndarray], activation: Activation, device: torch.device
                   ) -> tuple[list[dict], dict[tuple[int, str, int], np.ndarray]]:
    """The no-GAN estimators on the games' data (choices.ESTIMATORS: the yardstick, and for ReLU
    Wu–Dimakis–Sanghavi as published and with the bias known, and the pairwise censored likelihood)
    at every (seed, n): their metrics rows (step 0, final) and their estimates by (seed, method, n)."""
    estimators = {"moment_inversion": lambda y: moment_inversion(y, activation)}
    if activation.name == "relu":
        estimators |= {"wds": wds, "wds_known_bias": wds_known_bias, "pairwise_mle": pairwise_mle}
    rows, sigmas = [], {}
    with intra_op_threads(1):  # estimates and their TV independent of the thread count, as the games'
        for seed, n in product(seeds, config.samples):
            for method, estimator in estimators.items():
                start = time.perf_counter()
                estimate = torch.as_tensor(estimator(data[seed][:n]), device=device)
                values = measure(estimate[None], torch.as_tensor(star[seed], device=device)[None], [seed], config,
                                 activation)
                rows.append(_row(config, seed, n, method, "", "", 0, True, values, 0, "ok",
                                 time.perf_counter() - start))
                sigmas[(seed, method, n)] = estimate.cpu().numpy()
    return rows, sigmas


def seed_data(config: TrainConfig, seeds: Sequence[int], activation: Activation, device
              ) -> tuple[dict[int, torch.Tensor], dict[int, np.ndarray]]:
    """Each seed's real sample (its first max(samples) rows, on `device`) and Σ* = W*W*ᵀ (numpy)."""
    data, star = {}, {}
    for seed in seeds:
        w_star = target_weights(config.dim, config.kappa, seed, config.latent_dim)
        star[seed] = w_star @ w_star.T
        data[seed] = sample_target(activation, w_star, max(config.samples), seed).to(device)
    return data, star


def train(config: TrainConfig, seeds: Sequence[int] | None = None, progress: bool | None = None,
          checkpoint: str | Path | None = None, checkpoint_every: float = 60.0) -> TrainResult:
    """Run the yardstick and every configured method on every (seed, n); seeds default to config.seed.
    A method whose game is one already trained (`features.same_game_as`: relu's truncated and
    quadratic) gets that game's rows under its own name instead of a second run.

    With `checkpoint`, the run saves its state there every `checkpoint_every` seconds and, if the
    file already holds a matching run, resumes from it; the result equals an uninterrupted run.
    """
    seeds = list(seeds) if seeds is not None else [config.seed]
    progress = sys.stderr.isatty() if progress is None else progress
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    activation = get_activation(config.activation, config.leaky_slope)
    saved = Checkpoint(checkpoint, fingerprint(config, seeds), checkpoint_every) if checkpoint else None

    data, star = seed_data(config, seeds, activation, device)
    rows, sigmas = run_estimators(config, seeds, data, star, activation, device)
    trained: dict[tuple[str, str], tuple[list[dict], torch.Tensor]] = {}  # (game, dynamics) → its rows, final Σ
    for disc_name, dyn_name in product(config.discriminators, config.dynamics):
        specs = [GameSpec(seed, n, disc_name, dyn_name) for seed in seeds for n in config.samples]
        method = specs[0].method
        game = (same_game_as(disc_name, activation), dyn_name)
        if game in trained:  # relu's truncated and quadratic games are one game: trained once, reported as both
            log.info("%s is the same game as one already trained for %s: its rows are reused", method,
                     config.activation)
            group_rows = [{**row, "method": method, "discriminator": disc_name} for row in trained[game][0]]
            final = trained[game][1]
        elif saved is not None and method in saved.finished:
            group_rows, final = saved.finished[method]["rows"], saved.finished[method]["final"]
        else:
            log.info("training %d games of %s (d=%d, %s) on %s", len(specs), method, config.dim,
                     config.activation, device)
            sigma_star = torch.stack([torch.as_tensor(star[spec.seed], device=device, dtype=dtype) for spec in specs])
            group_rows, final = train_group(specs, config, activation, data, sigma_star, device, dtype, progress,
                                            checkpoint=saved)
        trained.setdefault(game, (group_rows, final))
        rows += group_rows
        for spec, sigma in zip(specs, final.cpu().numpy()):
            sigmas[(spec.seed, spec.method, spec.n)] = sigma

    return TrainResult(pd.DataFrame(rows), star, sigmas, str(device))


