"""Throughput: the batched trainer against a plain per-game loop, side by side in one run.

    python benchmarks/throughput.py [--games 32] [--dim 16] [--steps 1000] [--repeats 3] [--pairs 4]
                                    [--device cpu|cuda]

The per-game loop is the same mathematics written the way GAN code usually is: one game at a
time, nn.Parameter players, torch.optim.SGD, loss.backward(). Both run the same number of
SGDA steps on the same 32 games (4 seeds × 8 sample sizes) with the default batch sizes, and
both evaluate each game's final Σ once with the trainer's metrics (`trainer.measure`); the
batched side is `trainer.train_group`, what `train` runs for each method. The figure of merit
is game-steps per second and the ratio between the two.

Side by side: a shared machine's speed drifts over seconds, so each repeat splits the loop's
games into `--pairs` parts and times each part right after a whole batched run; a pair's ratio
compares the two rates measured within seconds of each other. Reported: the median over all
pairs, with the smallest and largest.

Achieved FLOP/s counts the step's four batched products (W x, u uᵀ, S u, g xᵀ: 8·d²·B per
game-step); the plain reference is torch.matmul of the first one's shapes, timed in the same run.
"""

import argparse
import statistics
import time

import torch

from sgdagan.activations import get_activation
from sgdagan.config import TrainConfig
from sgdagan.features import make_discriminator
from sgdagan.streams import LATENT_DTYPE, GameSpec
from sgdagan.trainer import generator_step_scale, measure, seed_data, train_group


def per_game_loop(config, activation, data, stars, specs, device, dtype) -> None:
    """SGDA one game after another, in the usual nn.Parameter / optimizer style; each game is
    evaluated (TV etc. by the trainer's `measure`) when it finishes, as the trainer evaluates its own.
    Its η_W is the trainer's for that game (`generator_step_scale`), so both run the same mathematics."""
    disc = make_discriminator("truncated", activation, config.penalty)
    for spec in specs:
        gen = torch.Generator(device=device).manual_seed(spec.seed * 100_003 + spec.n)
        u = disc.data_transform(data[spec.seed][: spec.n])
        real = [m[0] for m in disc.moments(u[None])]
        w = torch.nn.Parameter(config.init_scale * torch.randn(config.dim, config.dim, generator=gen, device=device,
                                                               dtype=dtype) / config.dim**0.5)
        v = [torch.nn.Parameter(torch.zeros_like(m)) for m in real]
        eta_w = config.lr_gen * generator_step_scale(disc, data[spec.seed][: spec.n], real, config.latent_vectors(), config)
        opt_g = torch.optim.SGD([w], lr=eta_w)
        opt_d = torch.optim.SGD(v, lr=config.lr_disc, maximize=True)
        for _ in range(config.steps):
            x = torch.randn(config.latent_vectors(), config.dim, generator=gen, device=device, dtype=LATENT_DTYPE).to(dtype)
            fake = [m[0] for m in disc.moments(disc.generator_transform(x @ w.T)[None])]
            payoff = disc.payoff([p[None] for p in v], [m[None] for m in real], [m[None] for m in fake]).sum()
            opt_g.zero_grad()
            opt_d.zero_grad()
            payoff.backward()
            opt_g.step()
            opt_d.step()
        with torch.no_grad():
            measure((w @ w.T)[None], stars[spec.seed][None], [spec.seed], config, activation)


def build_games(activation_name: str, dim: int, games: int, steps: int, device: torch.device, **settings):
    """The benchmarks' games: sgda/truncated on seeds × up to 8 sample sizes (10³…10⁵, log-spaced),
    `steps` steps exactly (no stretching by steps_dim), evaluated once at the end; `settings`
    override the defaults. Returns (config, activation, data, stars, specs, sigma_star)."""
    sizes = [int(x) for x in torch.logspace(3, 5, min(8, games)).round().tolist()]
    seeds = range(max(1, games // len(sizes)))
    config = TrainConfig.from_sources(None, activation=activation_name, dim=dim, samples=sizes, steps=steps,
                                      steps_dim=0, eval_points=1, device=device.type, **settings)
    activation = get_activation(activation_name)
    data, stars = seed_data(config, seeds, activation, device)
    stars = {seed: torch.as_tensor(star, device=device) for seed, star in stars.items()}
    specs = [GameSpec(seed, n, "truncated", "sgda") for seed in seeds for n in sizes]
    return config, activation, data, stars, specs, torch.stack([stars[s.seed] for s in specs])


def plain_bmm_seconds(games: int, dim: int, batch: int, products: int, device: torch.device, dtype) -> float:
    """Seconds for `products` plain torch.matmul [games, d, d] @ [games, d, B]: the reference rate."""
    w = torch.randn(games, dim, dim, device=device, dtype=dtype)
    x = torch.randn(games, dim, batch, device=device, dtype=dtype)
    out = torch.empty(games, dim, batch, device=device, dtype=dtype)
    return timed(lambda: [torch.matmul(w, x, out=out) for _ in range(products)], device)


def timed(fn, device: torch.device = torch.device("cpu")) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=32)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=4,
                        help="the loop runs in this many parts per repeat, each timed right after a batched run")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device, dtype = torch.device(args.device), torch.float64
    config, activation, data, stars, specs, sigma_star = build_games(
        "relu", args.dim, args.games, args.steps, device, lr_schedule="constant", averaging="none")

    game_steps = len(specs) * args.steps
    segments = [specs[k::args.pairs] for k in range(args.pairs)]
    ratios, batched_times = [], []
    print(f"{len(specs)} games, d={args.dim}, B={config.latent_vectors()}, {args.steps} steps, device={device}, "
          f"torch threads={torch.get_num_threads()}; {args.repeats} repeats × {args.pairs} pairs")
    for repeat in range(args.repeats):
        looped_total, repeat_ratios = 0.0, []
        for segment in segments:
            batched = timed(lambda: train_group(specs, config, activation, data, sigma_star, device, dtype), device)
            looped = timed(lambda: per_game_loop(config, activation, data, stars, segment, device, dtype), device)
            looped_total += looped
            batched_times.append(batched)
            repeat_ratios.append((looped / len(segment)) / (batched / len(specs)))
        ratios += repeat_ratios
        print(f"repeat {repeat}: batched {game_steps / statistics.median(batched_times[-args.pairs:]):7.0f} "
              f"game-steps/s (median), per-game loop {game_steps / looped_total:6.0f} game-steps/s, "
              f"speed-up median {statistics.median(repeat_ratios):5.1f}x (pairs {min(repeat_ratios):.1f}x–"
              f"{max(repeat_ratios):.1f}x)")
    print(f"median speed-up : {statistics.median(ratios):.1f}x over {len(ratios)} pairs "
          f"(min {min(ratios):.1f}x, max {max(ratios):.1f}x)")

    flops = 8 * args.dim**2 * config.latent_vectors() * game_steps
    products = 4 * args.steps
    matmul = plain_bmm_seconds(len(specs), args.dim, config.latent_vectors(), products, device, dtype)
    print(f"trainer achieved: {flops / statistics.median(batched_times) / 1e9:7.2f} GFLOP/s (median batched run)")
    print(f"plain bmm       : {flops / matmul / 1e9:7.2f} GFLOP/s ({products} × torch.matmul "
          f"{(len(specs), args.dim, args.dim)} @ {(len(specs), args.dim, config.latent_vectors())})")


if __name__ == "__main__":
    main()
