"""Statistical efficiency: median over seeds of TV(SGDA) / TV(yardstick) at d = 16, n = 1e5.

    python benchmarks/efficiency.py [--steps 750,1500,3000] [--seeds 5] [--dim 16] [--samples 100000]
                                    [--steps-dim N] [--gen-batch B]

Default settings otherwise (TrainConfig); the seeds train one after another (a game's numbers do not
depend on its batch mates, and one seed's data is all that is in memory: 3.8 GB at d = 128, n = 3.7e6). The
step sweep shows what reaching the target costs in steps (base steps: games whose features have
a mean train max(1, d/steps_dim) times as many; "steps run" says how many).
"""

import argparse
import time

import pandas as pd

from sgdagan.config import TrainConfig
from sgdagan.trainer import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activations", default="relu,leaky_relu,tanh,sigmoid")
    parser.add_argument("--steps", default="750,1500,3000")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--steps-dim", type=int, help="override TrainConfig.steps_dim (default: the config's)")
    parser.add_argument("--gen-batch", type=int, help="override TrainConfig.gen_batch (default: the config's)")
    args = parser.parse_args()

    print(f"d={args.dim} n={args.samples} seeds=0..{args.seeds - 1}; ratio = TV(sgda/truncated) / TV(moment_inversion)")
    print(f"{'activation':11s} {'steps':>6s} {'run':>6s} {'median':>7s}  per-seed ratios                      "
          f"{'yard TV':>8s} {'wall s':>7s}")
    overrides = {key: value for key, value in (("steps_dim", args.steps_dim), ("gen_batch", args.gen_batch))
                 if value is not None}
    for activation in args.activations.split(","):
        for steps in map(int, args.steps.split(",")):
            config = TrainConfig.from_sources(None, activation=activation, dim=args.dim, samples=[args.samples],
                                              steps=steps, **overrides)
            start = time.perf_counter()
            metrics = pd.concat([train(config, seeds=[seed], progress=False).metrics for seed in range(args.seeds)])
            wall = time.perf_counter() - start
            run = int(metrics[metrics.method == "sgda/truncated"].step.max())
            final = metrics[metrics.final].pivot_table(index="seed", columns="method", values="tv")
            ratio = final["sgda/truncated"] / final["moment_inversion"]
            print(f"{activation:11s} {steps:6d} {run:6d} {ratio.median():7.3f}  {str(ratio.round(3).tolist()):35s}"
                  f" {final['moment_inversion'].median():8.4f} {wall:7.1f}", flush=True)


if __name__ == "__main__":
    main()
