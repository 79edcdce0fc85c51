"""What a training job asks its executor for: memory and wall time per (activation, d) cell.

Pure functions of the config's `resources.train` block (the rules call them; no Snakemake here).
The cost of a cell grows steeply with d, and for relu also with the steps, which stretch with d
(`steps_dim`): one flat request either starves the largest cells or over-asks for the rest, so
`overrides` raise it where it was measured to be needed.
"""

from __future__ import annotations

from typing import Mapping

REQUESTS = ("mem_mb", "runtime")


def train_resources(resources: Mapping, activation: str, dim: int) -> dict[str, int]:
    """{"mem_mb", "runtime"} of the training job of one (activation, d) cell.

    The first entry of `resources["overrides"]` whose `activations` and `dims` both contain the
    cell (an absent list matches every cell) replaces the requests it names; the others keep
    `resources["mem_mb"]` and `resources["runtime"]`.
    """
    values = {key: int(resources[key]) for key in REQUESTS}
    for override in resources.get("overrides", []):
        if activation in override.get("activations", [activation]) and int(dim) in override.get("dims", [int(dim)]):
            values.update({key: int(override[key]) for key in REQUESTS if key in override})
            break
    return values


# Calibrated on the cluster preset's largest jobs (README, "Running on a Slurm cluster"): relu at
# d = 64 (n up to 9.4e5) peaked at 1.8 GB and at d = 128 (n up to 3.7e6) at 12.0 GB, where this
# estimate gives 2.2 and 12.5 GB. The sample dominates: y, its transform and one n × d temporary.
BASE_MB = 500  # the interpreter, torch and the tables
SAMPLE_COPIES = 3
GAME_MATRICES = 6  # W, V, Σ's running average, the dynamics' state, updates: d × d each
TV_COPIES = 2  # the TV estimator's Monte Carlo draws and their transform, per game


def estimated_peak_mb(dim: int, n_max: int, games: int, tv_samples: int, latent_batch: int) -> int:
    """An upper estimate of a training job's peak memory in MB: `games` games of one method group
    at a time (a job trains its groups one after another) on a sample of n_max rows in dimension d."""
    sample = SAMPLE_COPIES * 8 * n_max * dim
    per_game = GAME_MATRICES * 8 * dim * dim + TV_COPIES * 8 * tv_samples * dim + 16 * 2 * dim * latent_batch * 4
    return BASE_MB + (sample + games * per_game) // 10**6


def available_mb() -> int | None:
    """Memory this process may still use, in MB: the smaller of the machine's available memory and
    the cgroup's limit (a Slurm job's allocation); None where neither can be read."""
    limits = []
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) // 1024)
    except OSError:
        pass
    try:
        text = open("/sys/fs/cgroup/memory.max").read().strip()
        if text != "max":
            used = int(open("/sys/fs/cgroup/memory.current").read())
            limits.append((int(text) - used) // 2**20)
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None
