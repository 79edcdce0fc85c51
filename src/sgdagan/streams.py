"""Each game's own random stream: W_0, then per step its latent batches (or their sufficient
statistics) and minibatch indices, keyed by (seed, n, method) alone and drawn in fixed-size blocks,
so a game's numbers are the same whether it trains alone or beside others."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .config import TrainConfig
from .features import Discriminator, LatentMoments, game_matmul
from .tables import method_name

GAME_STREAM = 2
INIT_STREAM = "init"  # in place of a method name: W_0 is shared by all methods of a (seed, n)
# Steps of random draws generated at once per game: amortises the per-generator call overhead.
# Fixed, so that a game's stream never depends on the batch it trains in.
RNG_BLOCK = 16
# Latents are drawn and kept in float32 and used in the training dtype: the CPU's float32 normal
# sampler is vectorised (~5× faster than float64's, which dominated a step), and rounding a N(0, 1)
# draw to 24 bits is far below the Monte Carlo error of a latent batch.
LATENT_DTYPE = torch.float32


@dataclass(frozen=True)
class GameSpec:
    seed: int
    n: int
    discriminator: str
    dynamics: str

    @property
    def method(self) -> str:
        return method_name(self.dynamics, self.discriminator)


def game_seed(seed: int, n: int, method: str) -> int:
    """A 63-bit torch seed that depends only on (seed, n, method)."""
    state = np.random.SeedSequence([seed, n, zlib.crc32(method.encode()), GAME_STREAM]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


def draws_latent_stats(config: TrainConfig, disc: Discriminator) -> bool:
    """Whether a game draws its latent batches as `LatentMoments` (`latent_stats`): where it is linear
    in the latents, and B − 1 ≥ d, the degrees of freedom Bartlett's factor needs (else B vectors)."""
    return config.latent_stats and disc.linear_in_latents and config.gen_batch > config.latent_dim


def latent_batch(config: TrainConfig, n: int, latent_stats: bool) -> int:
    """A game's latent batch B: `config.latent_vectors()`, or max(gen_batch, n) where it is drawn as sufficient
    statistics — Lei et al.'s m = n, which costs nothing there (a step is O(d³) whatever B is) and
    keeps the generator's own sampling noise below the data's (DESIGN §5)."""
    return max(config.gen_batch, n) if latent_stats else config.latent_vectors()


class GameStreams:
    """Each game's own random stream: W_0, then per step its latent batches and minibatch indices."""

    def __init__(self, specs: Sequence[GameSpec], config: TrainConfig, draws: int, device, dtype,
                 latent_stats: bool = False):
        self.generators = []
        for spec in specs:
            gen = torch.Generator(device=device)
            gen.manual_seed(game_seed(spec.seed, spec.n, spec.method))
            self.generators.append(gen)
        self.sizes = [spec.n for spec in specs]
        self.shape = (RNG_BLOCK, draws, config.latent_dim, config.latent_vectors())  # feature-major latents [k, B]
        self.dim = config.dim
        self.data_batch = config.data_batch
        self.device, self.dtype = torch.device(device), dtype
        self.latent_stats = latent_stats
        if latent_stats:  # x̄ and S = XXᵀ/B drawn directly (`_stats_from_draws`); no latent vectors
            self._stats = None
            dim = config.latent_dim
            self._tril = torch.tril_indices(dim, dim, -1, device=device)
            self.batches = batches = [latent_batch(config, spec.n, latent_stats) for spec in specs]
            self._batch = torch.tensor(batches, device=device, dtype=dtype).view(-1, 1, 1, 1)  # [R, 1, 1, 1]
            # Bartlett: diagonal i of the Wishart(B − 1, I) factor is √χ²(B − 1 − i) = √(2 Γ((B − 1 − i)/2)).
            self._gamma_shapes = [((batch - 1 - torch.arange(dim, device=device, dtype=dtype)) / 2).expand(
                RNG_BLOCK, draws, dim).contiguous() for batch in batches]
            # Per game and step: x̄'s d normals, then the factor's d(d − 1)/2 below its diagonal.
            self._normals = torch.empty((len(specs), RNG_BLOCK, draws, dim + len(self._tril[0])), device=device,
                                        dtype=LATENT_DTYPE)
        else:
            # [R, BLOCK, draws, d, B] in float32: each game's block contiguous, refilled in place from its
            # generator; a step's slice is converted to the training dtype when it is used.
            self._latents = torch.empty((len(specs), *self.shape), device=device, dtype=LATENT_DTYPE)
        self._indices = None
        self._block_pos = RNG_BLOCK

    def initial_weights(self, specs: Sequence[GameSpec], scale: float) -> torch.Tensor:
        """W_0 from (seed, n) alone: every method of a cell starts from the same point, so method
        comparisons are not confounded by initialisation (common random numbers)."""
        weights = []
        for spec in specs:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(game_seed(spec.seed, spec.n, INIT_STREAM))
            weights.append(torch.randn((self.dim, self.shape[-2]), generator=gen, device=self.device,
                                       dtype=self.dtype))
        return torch.stack(weights) * (scale / self.dim**0.5)

    def _stats_from_draws(self, chi2: torch.Tensor) -> LatentMoments:
        """Every game's block of latent batches as (x̄, S = XXᵀ/B) [BLOCK, R, draws, …] from its normals
        (`_normals`) and χ² draws [R, BLOCK, draws, d], exact in distribution for X with i.i.d. N(0, I)
        columns: x̄ ~ N(0, I/B) and the scatter about it C ~ Wishart(B − 1, I), independent of x̄
        (Cochran), by the Bartlett decomposition C = AAᵀ (A lower triangular, √χ² on its diagonal,
        N(0, 1) below it); then S = C/B + x̄x̄ᵀ. Every operation is per game (`game_matmul`)."""
        dim = self.shape[-2]
        normals = self._normals.to(self.dtype)
        factor = torch.diag_embed(chi2.sqrt())
        factor[..., self._tril[0], self._tril[1]] = normals[..., dim:]
        mean = normals[..., :dim] / self._batch.sqrt()
        flat = factor.flatten(0, 2)
        scatter = game_matmul(flat, flat.transpose(-1, -2)).view_as(factor)
        second = scatter / self._batch[..., None] + mean[..., :, None] * mean[..., None, :]
        return LatentMoments(mean.transpose(0, 1).contiguous(), second.transpose(0, 1).contiguous())

    def _refill(self) -> None:
        """Draw the next block of every game (float32 latents or latent statistics, then minibatch indices)."""
        indices, chi2 = [], []
        for k, (gen, n) in enumerate(zip(self.generators, self.sizes)):
            if self.latent_stats:  # float32 normals (vectorised, as the latents), χ² = 2·Γ(shape) in float64
                self._normals[k].normal_(generator=gen)
                chi2.append(2.0 * torch._standard_gamma(self._gamma_shapes[k], generator=gen))
            else:
                self._latents[k].normal_(generator=gen)
            if self.data_batch:
                u = torch.rand((RNG_BLOCK, self.data_batch), generator=gen, device=self.device, dtype=torch.float64)
                indices.append((u * n).long().clamp_(max=n - 1))
        self._indices = torch.stack(indices, dim=1) if self.data_batch else None  # [BLOCK, R, Bd]
        if self.latent_stats:  # [BLOCK, R, draws, d] and [BLOCK, R, draws, d, d]
            self._stats = self._stats_from_draws(torch.stack(chi2))
        self._block_pos = 0

    def at_block_boundary(self) -> bool:
        return self._block_pos == RNG_BLOCK

    def generator_states(self) -> list[torch.Tensor]:
        return [gen.get_state() for gen in self.generators]

    def set_generator_states(self, states: list[torch.Tensor]) -> None:
        for gen, state in zip(self.generators, states):
            gen.set_state(state)

    def next(self) -> tuple[torch.Tensor | LatentMoments, torch.Tensor | None]:
        """The step's latent batches ([R, draws, d, B], or their LatentMoments) and minibatch indices."""
        if self._block_pos == RNG_BLOCK:
            self._refill()
        pos = self._block_pos
        self._block_pos += 1
        indices = None if self._indices is None else self._indices[pos]
        if self.latent_stats:
            return LatentMoments(self._stats.mean[pos], self._stats.second[pos]), indices
        return self._latents[:, pos].to(self.dtype), indices
