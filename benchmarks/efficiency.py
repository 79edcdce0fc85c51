"""Statistical efficiency: median over seeds of TV(SGDA) / TV(yardstick) at d = 16, n = 1e5.

    python benchmarks/efficiency.py [--steps 750,1500,3000] [--seeds 5] [--dim 16] [--samples 100000]
                                    [--steps-dim N] [--gen-batch B] [--gen-batch-per-dim C] [--seeds-at-once K]

Default settings otherwise (TrainConfig). Only the measured game (sgda/truncated) and the yardstick
(moment inversion) run, on each seed's data: relu's other no-GAN estimators would cost more than the
game at d = 128. K seeds train at once, one game per CPU thread (a game's numbers do not depend on
its batch mates); each seed's data is in memory while it trains (3.8 GB at d = 128, n = 3.7e6).
The step sweep shows what reaching the target costs in steps (base steps: games whose features have
a mean train max(1, d/steps_dim) times as many; "run" says how many) and the latent batch B it used.
"""

import argparse
import statistics
import time

import torch

from sgdagan.activations import get_activation
from sgdagan.config import TrainConfig
from sgdagan.estimators import moment_inversion
from sgdagan.features import make_discriminator
from sgdagan.streams import GameSpec, draws_latent_stats, latent_batch
from sgdagan.trainer import measure, seed_data, train_group


def seed_ratios(config: TrainConfig, seeds: list[int]) -> tuple[list[float], list[float], int]:
    """Per seed TV(sgda/truncated) / TV(moment inversion), the yardstick's TVs and the steps run."""
    activation = get_activation(config.activation, config.leaky_slope)
    data, stars = seed_data(config, seeds, activation, "cpu")
    yardstick = torch.stack([torch.as_tensor(moment_inversion(data[seed], activation)) for seed in seeds])
    sigma_star = torch.stack([torch.as_tensor(stars[seed]) for seed in seeds])
    specs = [GameSpec(seed, config.samples[0], "truncated", "sgda") for seed in seeds]
    rows, final = train_group(specs, config, activation, data, sigma_star, "cpu", torch.float64)
    tv_game = measure(final, sigma_star, seeds, config, activation)["tv"]
    tv_yard = measure(yardstick, sigma_star, seeds, config, activation)["tv"]
    return (tv_game / tv_yard).tolist(), tv_yard.tolist(), max(row["step"] for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activations", default="relu,leaky_relu,tanh,sigmoid")
    parser.add_argument("--steps", default="750,1500,3000")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--steps-dim", type=int, help="override TrainConfig.steps_dim (default: the config's)")
    parser.add_argument("--gen-batch", type=int, help="override TrainConfig.gen_batch (default: the config's)")
    parser.add_argument("--gen-batch-per-dim", type=int, help="override TrainConfig.gen_batch_per_dim")
    parser.add_argument("--seeds-at-once", type=int, default=1, help="seeds trained together (one per thread)")
    args = parser.parse_args()

    print(f"d={args.dim} n={args.samples} seeds=0..{args.seeds - 1}; ratio = TV(sgda/truncated) / TV(moment_inversion)")
    print(f"{'activation':11s} {'steps':>6s} {'run':>6s} {'B':>7s} {'median':>7s}  per-seed ratios"
          f"{'':22s} {'yard TV':>8s} {'wall s':>7s}")
    overrides = {"steps_dim": args.steps_dim, "gen_batch": args.gen_batch, "gen_batch_per_dim": args.gen_batch_per_dim}
    all_seeds = list(range(args.seeds))
    for activation in args.activations.split(","):
        for steps in map(int, args.steps.split(",")):
            config = TrainConfig.from_sources(None, activation=activation, dim=args.dim, samples=[args.samples],
                                              steps=steps, eval_points=1, **overrides)
            start = time.perf_counter()
            ratios, yard, run = [], [], 0
            for first in range(0, len(all_seeds), args.seeds_at_once):
                r, y, run = seed_ratios(config, all_seeds[first : first + args.seeds_at_once])
                ratios, yard = ratios + r, yard + y
            wall = time.perf_counter() - start
            disc = make_discriminator("truncated", get_activation(activation), config.penalty)
            batch = latent_batch(config, args.samples, draws_latent_stats(config, disc))
            print(f"{activation:11s} {steps:6d} {run:6d} {batch:>7d} {statistics.median(ratios):7.3f}  "
                  f"{str([round(r, 3) for r in ratios]):36s} {statistics.median(yard):8.4f} {wall:7.1f}", flush=True)


if __name__ == "__main__":
    main()
