"""Batched training: R independent GANs — every sample size, seed and method — as one set of tensors.

A game is (seed, n, discriminator, dynamics). Its target and data depend on the seed alone
(targets.py); its initialisation, latent draws and minibatch indices come from its own
torch.Generator keyed by (seed, n, method), drawn in fixed-size blocks, so a game's numbers are
the same whether it trains alone or beside others. Games sharing a method train together; the
yardstick runs on the same data. Metrics are recorded at log-spaced checkpoints.
"""

from __future__ import annotations

import logging
import sys
import time
import zlib
from dataclasses import dataclass
from itertools import product
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import metrics
from .activations import Activation, get_activation
from .config import TrainConfig
from .dynamics import get_dynamics
from .estimators import moment_inversion
from .features import MomentDiscriminator, make_discriminator
from .targets import sample_target, target_weights

log = logging.getLogger(__name__)

GAME_STREAM = 2
# Steps of random draws generated at once per game: amortises the per-generator call overhead.
# Fixed, so that a game's stream never depends on the batch it trains in.
RNG_BLOCK = 16

METRIC_COLUMNS = ["tv", "tv_se", "frob_rel", "frob_white", "frob_abs", "tv_sign_lb"]


@dataclass(frozen=True)
class GameSpec:
    seed: int
    n: int
    discriminator: str
    dynamics: str

    @property
    def method(self) -> str:
        return f"{self.dynamics}/{self.discriminator}"


def game_seed(seed: int, n: int, method: str) -> int:
    """A 63-bit torch seed that depends only on (seed, n, method)."""
    state = np.random.SeedSequence([seed, n, zlib.crc32(method.encode()), GAME_STREAM]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


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


class GameStreams:
    """Each game's own random stream: W_0, then per step its latent batches and minibatch indices."""

    def __init__(self, specs: Sequence[GameSpec], config: TrainConfig, draws: int, device, dtype):
        self.generators = []
        for spec in specs:
            gen = torch.Generator(device=device)
            gen.manual_seed(game_seed(spec.seed, spec.n, spec.method))
            self.generators.append(gen)
        self.sizes = [spec.n for spec in specs]
        self.shape = (RNG_BLOCK, draws, config.gen_batch, config.dim)
        self.data_batch = config.data_batch
        self.device, self.dtype = device, dtype
        self._block_pos = RNG_BLOCK

    def initial_weights(self, dim: int, scale: float) -> torch.Tensor:
        return torch.stack([
            torch.randn((dim, dim), generator=g, device=self.device, dtype=self.dtype) for g in self.generators
        ]) * (scale / dim**0.5)

    def _refill(self) -> None:
        latents, indices = [], []
        for gen, n in zip(self.generators, self.sizes):
            latents.append(torch.randn(self.shape, generator=gen, device=self.device, dtype=self.dtype))
            if self.data_batch:
                u = torch.rand((RNG_BLOCK, self.data_batch), generator=gen, device=self.device, dtype=torch.float64)
                indices.append((u * n).long().clamp_(max=n - 1))
        self._latents = torch.stack(latents, dim=1)  # [BLOCK, R, draws, B, d]
        self._indices = torch.stack(indices, dim=1) if indices else None  # [BLOCK, R, Bd]
        self._block_pos = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self._block_pos == RNG_BLOCK:
            self._refill()
        pos = self._block_pos
        self._block_pos += 1
        return self._latents[pos], None if self._indices is None else self._indices[pos]


class StepOracle:
    """The game at one step: fixed real-side moments and latent batches, gradients by autograd."""

    def __init__(self, disc: MomentDiscriminator, real: list[torch.Tensor], latents: torch.Tensor):
        self.disc, self.real, self.latents = disc, real, latents

    def _fake_moments(self, w: torch.Tensor, draw: int) -> list[torch.Tensor]:
        z = torch.matmul(self.latents[:, draw], w.transpose(-1, -2))
        return self.disc.moments(self.disc.generator_transform(z))

    def grads(self, w, v, draw: int = 0):
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            v = [p.detach().requires_grad_(True) for p in v]
            payoff = self.disc.payoff(v, self.real, self._fake_moments(w, draw))
            grads = torch.autograd.grad(payoff.sum(), [w, *v])
        return grads[0], list(grads[1:])

    def best_response(self, w, draw: int = 0):
        return self.disc.best_response(self.real, self._fake_moments(w, draw))


def learning_rate(base: float, step: int, config: TrainConfig) -> float:
    if config.lr_schedule == "inverse_time":
        return base / (1.0 + step / config.lr_decay)
    return base


def measure(sigma: torch.Tensor, sigma_star: torch.Tensor, seeds: Sequence[int], config: TrainConfig,
            activation: Activation) -> dict[str, np.ndarray]:
    """Metrics per game (NaN for a non-finite Σ). TV draws are keyed by each game's seed, so all
    methods and sample sizes of a seed share them (common random numbers)."""
    games = sigma.shape[0]
    out = {name: np.full(games, np.nan) for name in METRIC_COLUMNS}
    finite = torch.isfinite(sigma).flatten(1).all(dim=1).cpu().numpy()
    seeds = np.asarray(seeds)
    for seed in np.unique(seeds):
        rows = np.flatnonzero(finite & (seeds == seed))
        if rows.size == 0:
            continue
        index = torch.as_tensor(rows, device=sigma.device)
        s, s_star = sigma[index].double(), sigma_star[index].double()
        tv, se = metrics.tv_gaussian_mc(s, s_star, config.tv_samples, seed=int(seed))
        out["tv"][rows], out["tv_se"][rows] = tv.cpu().numpy(), se.cpu().numpy()
        for name, value in metrics.frobenius_errors(s, s_star).items():
            out[name][rows] = value.cpu().numpy()
        if not activation.injective:
            out["tv_sign_lb"][rows] = metrics.sign_pattern_tv_lb(s, s_star).cpu().numpy()
    return out


def _rows(specs, step, final, values, status, wall_s, config) -> list[dict]:
    return [
        {
            "activation": config.activation, "dim": config.dim, "seed": spec.seed, "kappa": config.kappa,
            "n": spec.n, "method": spec.method, "discriminator": spec.discriminator,
            "dynamics": spec.dynamics, "step": step, "final": final,
            **{name: float(values[name][g]) for name in METRIC_COLUMNS},
            "wall_s": wall_s, "status": status[g],
        }
        for g, spec in enumerate(specs)
    ]


def train_group(specs: list[GameSpec], config: TrainConfig, activation: Activation, data: dict[int, torch.Tensor],
                sigma_star: torch.Tensor, device, dtype, progress: bool) -> tuple[list[dict], torch.Tensor]:
    """Train games that share one method, batched. Returns metric rows and the final Σ [R, d, d]."""
    start = time.perf_counter()
    disc = make_discriminator(specs[0].discriminator, activation, config.penalty)
    dynamics = get_dynamics(specs[0].dynamics)
    games, dim = len(specs), config.dim
    seeds = [spec.seed for spec in specs]

    transformed = {seed: disc.data_transform(y).to(dtype) for seed, y in data.items()}
    if config.data_batch == 0:
        per_game = [disc.moments(transformed[spec.seed][None, : spec.n]) for spec in specs]
        real_full = [torch.cat(parts) for parts in zip(*per_game)]
    else:
        order = sorted(transformed)
        stacked = torch.stack([transformed[seed] for seed in order])  # [S, n_max, d]
        seed_index = torch.tensor([order.index(seed) for seed in seeds], device=device)[:, None]

    streams = GameStreams(specs, config, dynamics.draws, device, dtype)
    w = streams.initial_weights(dim, config.init_scale)
    v = disc.init_params(games, dim, dtype, device)
    alive = torch.ones(games, dtype=torch.bool, device=device)
    sigma_avg = torch.zeros((games, dim, dim), dtype=dtype, device=device)
    averaged = 0
    average_start = int(config.average_from * config.steps) if config.averaging == "tail" else config.steps + 1
    checkpoints = set(metrics.checkpoint_steps(config.steps, config.checkpoints))

    rows: list[dict] = []
    bar = tqdm(range(1, config.steps + 1), desc=specs[0].method, disable=not progress, leave=False)
    for step in bar:
        latents, indices = streams.next()
        real = real_full if indices is None else disc.moments(stacked[seed_index, indices])
        oracle = StepOracle(disc, real, latents)
        lr_gen = learning_rate(config.lr_gen, step, config)
        lr_disc = learning_rate(config.lr_disc, step, config)
        w_new, v_new = dynamics.step(oracle, w, v, lr_gen, lr_disc)

        # A game that leaves the finite range is frozen at zero and reported diverged; the
        # others are untouched (every operation above is per game).
        ok = torch.isfinite(w_new).flatten(1).all(1) & (w_new.abs().flatten(1).amax(1) < config.diverge_threshold)
        for p in v_new:
            ok &= torch.isfinite(p).flatten(1).all(1)
        alive &= ok
        keep = alive[:, None, None]
        w = torch.where(keep, w_new, torch.zeros_like(w_new))
        v = [torch.where(alive.view(-1, *[1] * (p.dim() - 1)), p, torch.zeros_like(p)) for p in v_new]

        sigma = torch.matmul(w, w.transpose(-1, -2))
        if step >= average_start:
            averaged += 1
            sigma_avg += (sigma - sigma_avg) / averaged
        if step in checkpoints:
            estimate = sigma_avg if averaged else sigma
            estimate = torch.where(alive[:, None, None], estimate, torch.full_like(estimate, float("nan")))
            status = np.where(alive.cpu().numpy(), "ok", "diverged")
            values = measure(estimate, sigma_star, seeds, config, activation)
            rows += _rows(specs, step, step == config.steps, values, status, time.perf_counter() - start, config)
    return rows, estimate


def train(config: TrainConfig, seeds: Sequence[int] | None = None, progress: bool | None = None) -> TrainResult:
    """Run the yardstick and every configured method on every (seed, n); seeds default to config.seed."""
    seeds = list(seeds) if seeds is not None else [config.seed]
    progress = sys.stderr.isatty() if progress is None else progress
    device = resolve_device(config.device)
    dtype = getattr(torch, config.dtype)
    activation = get_activation(config.activation, config.leaky_slope)
    n_max = max(config.samples)

    data, star = {}, {}
    for seed in seeds:
        w_star = target_weights(config.dim, config.kappa, seed)
        star[seed] = w_star @ w_star.T
        data[seed] = sample_target(activation, w_star, n_max, seed).to(device)

    rows: list[dict] = []
    sigmas: dict[tuple[int, str, int], np.ndarray] = {}

    baseline = [GameSpec(seed, n, "", "") for seed in seeds for n in config.samples]
    for spec in baseline:
        start = time.perf_counter()
        estimate = torch.as_tensor(moment_inversion(data[spec.seed][: spec.n], activation), device=device)
        values = measure(estimate[None], torch.as_tensor(star[spec.seed], device=device)[None], [spec.seed],
                         config, activation)
        row = _rows([spec], 0, True, values, ["ok"], time.perf_counter() - start, config)[0]
        row.update(method="moment_inversion", discriminator="", dynamics="")
        rows.append(row)
        sigmas[(spec.seed, "moment_inversion", spec.n)] = estimate.cpu().numpy()

    for disc_name, dyn_name in product(config.discriminators, config.dynamics):
        specs = [GameSpec(seed, n, disc_name, dyn_name) for seed in seeds for n in config.samples]
        log.info("training %d games of %s (d=%d, %s) on %s", len(specs), specs[0].method, config.dim,
                 config.activation, device)
        sigma_star = torch.stack([torch.as_tensor(star[spec.seed], device=device, dtype=dtype) for spec in specs])
        group_rows, final = train_group(specs, config, activation, data, sigma_star, device, dtype, progress)
        rows += group_rows
        for spec, sigma in zip(specs, final.cpu().numpy()):
            sigmas[(spec.seed, spec.method, spec.n)] = sigma

    return TrainResult(pd.DataFrame(rows), star, sigmas, str(device))
