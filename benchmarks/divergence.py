"""Divergence sweep: does any game diverge at the default step rule, over the cluster preset's range?

    python benchmarks/divergence.py [--dims 2,4,8,16,32,64,128] [--steps 400] [--n-cap 1000000]

For every activation × d: the smallest, middle and largest n of config/cluster.yaml's sample grid
(the largest capped at --n-cap), both moment discriminators × sgda/alt/bilevel, seeds 0 and 1,
default settings but `steps` unstretched (steps_dim 0: the step sizes cover the same range as in
the stretched schedule's first steps, where divergence happens). Prints per (activation, d) the
diverged games and each method's median final TV.
"""

import argparse
import time

from sgdagan.pipeline_config import Samples
from sgdagan.tables import is_trained
from sgdagan.config import TrainConfig
from sgdagan.trainer import train

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "softplus", "identity"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", default="2,4,8,16,32,64,128")
    parser.add_argument("--activations", default=",".join(ACTIVATIONS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--n-cap", type=int, default=1_000_000)
    args = parser.parse_args()
    for dim in map(int, args.dims.split(",")):
        for activation in args.activations.split(","):
            grid = Samples(tv_max=0.4, tv_min=0.02, points=12, tv_constant=0.3, n_min=10).grid(dim)
            sizes = sorted({grid[0], grid[len(grid) // 2], min(grid[-1], args.n_cap)})
            config = TrainConfig.from_sources(None, activation=activation, dim=dim, samples=sizes, steps=args.steps,
                                              steps_dim=0, tv_samples=1000, eval_points=4,
                                              discriminators=["quadratic", "truncated"],
                                              dynamics=["sgda", "alt", "bilevel"])
            start = time.perf_counter()
            metrics = train(config, seeds=[0, 1], progress=False).metrics
            final = metrics[metrics.final & metrics.method.map(is_trained)]
            diverged = final[final.status != "ok"]
            tv = final.groupby("method").tv.median().round(2).to_dict()
            print(f"d={dim} {activation} n={sizes} diverged={len(diverged)}"
                  f" {list(zip(diverged.method, diverged.n, diverged.seed))} median TV {tv}"
                  f" {time.perf_counter() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
