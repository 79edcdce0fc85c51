"""Statistical efficiency: median over seeds of TV(SGDA) / TV(yardstick) at d = 16, n = 1e5.

    python benchmarks/efficiency.py [--steps 750,1500,3000] [--seeds 5]

Default settings otherwise (TrainConfig); the seeds of one activation train as one batch. The
step sweep shows what reaching the target costs in steps.
"""

import argparse
import time

from sgdagan.config import TrainConfig
from sgdagan.trainer import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activations", default="relu,leaky_relu,tanh,sigmoid")
    parser.add_argument("--steps", default="750,1500,3000")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args()

    print(f"d={args.dim} n={args.samples} seeds=0..{args.seeds - 1}; ratio = TV(sgda/truncated) / TV(moment_inversion)")
    print(f"{'activation':11s} {'steps':>6s} {'median':>7s}  per-seed ratios                      {'yard TV':>8s} {'wall s':>7s}")
    for activation in args.activations.split(","):
        for steps in map(int, args.steps.split(",")):
            config = TrainConfig.from_sources(None, activation=activation, dim=args.dim, samples=[args.samples],
                                              steps=steps)
            start = time.perf_counter()
            result = train(config, seeds=range(args.seeds), progress=False)
            wall = time.perf_counter() - start
            final = result.metrics[result.metrics.final].pivot_table(index="seed", columns="method", values="tv")
            ratio = final["sgda/truncated"] / final["moment_inversion"]
            print(f"{activation:11s} {steps:6d} {ratio.median():7.3f}  {str(ratio.round(3).tolist()):35s}"
                  f" {final['moment_inversion'].median():8.4f} {wall:7.1f}", flush=True)


if __name__ == "__main__":
    main()
