"""Wall time and peak memory of one `sgdagan train` call (relu, d = 16, 8 sample sizes).

    python benchmarks/train_call.py [--activation relu] [--dim 16]

Runs the CLI as a subprocess, exactly as a pipeline job does, and reports its wall time and
peak resident memory (ru_maxrss of the child).
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--samples", default="1000,1931,3728,7197,13895,26827,51795,100000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "sgdagan", "train", "--activation", args.activation, "--dim", str(args.dim),
                   "--seed", "0", "--samples", args.samples, "--out", out]
        start = time.perf_counter()
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{' '.join(command[1:-2])}")
    print(f"wall {wall:.1f} s, peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
