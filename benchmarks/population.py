"""The optimisation's own error: relu SGDA on its data's moments and on the population moments, side by side.

    python benchmarks/population.py [--dim 128] [--samples 3700000] [--seed 0] [--gen-batch 512]
                                    [--gen-batch-per-dim 8] [--steps-dim 4]

Two games of sgda/truncated train at once (one per thread) from the same W₀ and latent stream:
one on the real sample's moments, one with them replaced by their closed forms under Σ*
(E relu(z_i) = √(Σ_ii/2π) by `truncated_first_moment`, and the exact pair moments), so that its
TV is the optimisation's error alone: the latent noise and whatever the schedule has not yet
averaged out. Printed beside the yardstick's TV on the same sample. DESIGN §5 ("The latent batch
grows with d") used it at d = 128, n = 3.7e6 with B = 512, with --steps-dim 2, and with B = 1024.
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from sgdagan.activations import get_activation, truncated_first_moment
from sgdagan.config import TrainConfig
from sgdagan.estimators import moment_inversion
from sgdagan.streams import GameSpec
from sgdagan.trainer import GroupRun, intra_op_threads, measure, seed_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--samples", type=int, default=3_700_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gen-batch", type=int, default=512)
    parser.add_argument("--gen-batch-per-dim", type=int, help="override TrainConfig.gen_batch_per_dim")
    parser.add_argument("--steps-dim", type=int, help="override TrainConfig.steps_dim")
    args = parser.parse_args()

    config = TrainConfig.from_sources(None, activation="relu", dim=args.dim, samples=[args.samples],
                                      gen_batch=args.gen_batch, gen_batch_per_dim=args.gen_batch_per_dim,
                                      steps_dim=args.steps_dim, eval_points=8)
    relu = get_activation("relu")
    data, stars = seed_data(config, [args.seed], relu, "cpu")
    star = stars[args.seed]
    sigma_star = torch.as_tensor(star)[None]
    yardstick = torch.as_tensor(moment_inversion(data[args.seed], relu))[None]
    tv_yard = measure(yardstick, sigma_star, [args.seed], config, relu)["tv"][0]

    spec = [GameSpec(args.seed, args.samples, "truncated", "sgda")]
    with intra_op_threads(1):
        runs = {kind: GroupRun(spec, config, relu, data, sigma_star, "cpu", torch.float64)
                for kind in ("data", "population")}
    variance = np.diag(star)  # the truncated game's u = relu(z) under Σ*: its exact first and pair moments
    runs["population"].real_full = [torch.as_tensor(truncated_first_moment(variance, *relu.preimage))[None],
                                    torch.as_tensor(relu.pair_moment(variance[:, None], variance[None, :], star))[None]]
    run_config = runs["data"].config
    print(f"relu d={args.dim} n={args.samples} seed={args.seed}: {run_config.steps} steps, "
          f"B={config.latent_vectors()}; yardstick TV {tv_yard:.4f}")

    def train(kind: str):
        with intra_op_threads(1):
            start = time.perf_counter()
            rows, _ = runs[kind].run(progress=False)
            return kind, rows, time.perf_counter() - start

    with ThreadPoolExecutor(len(runs)) as pool:
        for kind, rows, wall in pool.map(train, list(runs)):
            trajectory = ", ".join(f"{row['step']}: {row['tv']:.4f}" for row in rows)
            print(f"  {kind:10s} final TV {rows[-1]['tv']:.4f} (/{tv_yard:.4f} = {rows[-1]['tv'] / tv_yard:.3f})"
                  f"  {wall:.0f} s;  TV by step {trajectory}", flush=True)


if __name__ == "__main__":
    main()
