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
