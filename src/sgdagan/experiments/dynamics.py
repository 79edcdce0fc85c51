"""Game dynamics on the GAN: final TV and steps to a target TV per method and step-size setting."""

from __future__ import annotations

from dataclasses import dataclass

from ..choices import DYNAMICS
from ..markdown import markdown_table
from ..settings import ConfigError, check_as, setting
from . import base
from .base import Experiment, Figure, Tables


@dataclass
class DynamicsAblation:
    """Game dynamics on the GAN problem: steps to reach TV ≤ target_tv and final TV per method and
    step-size setting; one sweep job per method (tables dynamics.csv, dynamics_steps.csv)."""

    enabled: bool = setting(True, base.ENABLED)
    activations: list[str] = base.activations(["relu"])
    dims: list[int] = base.dims([4])
    seeds: list[int] = base.seeds([0, 1, 2])
    samples: list[int] = base.samples([10000])
    train: dict = base.train({"steps": 1500, "eval_points": 24, "averaging": "none"})
    target_tv: float = setting(0.1, "TV threshold of the steps-to-target measure (first checkpoint at or below "
                               "it).", exclusive_minimum=0, exclusive_maximum=1)
    methods: list[str] = setting(["sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel"],
                                 "Dynamics compared, each over the step-size grid.", choices=DYNAMICS, min_items=1)
    lr_gen: list[float] = setting([0.3, 1.0], "Grid of lr_gen (η_W·h, every method).", exclusive_minimum=0,
                                  min_items=1)
    lr_disc: list[float] = setting([0.3, 1.0], "Grid of discriminator step sizes η_V (every method unless "
                                   "method_grids says otherwise).", exclusive_minimum=0, min_items=1)
    method_grids: dict[str, dict[str, list[float]]] = setting(
        {"omd": {"lr_disc": [0.3, 0.6]}}, "Method → {lr_gen, lr_disc} grids replacing the shared ones for that "
        "method (OGDA needs η_V·λ < 2/3 on the discriminator's concave part).")

    def check(self) -> None:
        for method, grid in self.method_grids.items():
            check_as(DynamicsAblation, "methods", [method], f"method_grids.{method}")
            for key, values in grid.items():
                if key not in ("lr_gen", "lr_disc"):
                    raise ConfigError(f"method_grids.{method}.{key}: unknown setting; allowed: lr_gen, lr_disc")
                grid[key] = check_as(DynamicsAblation, key, values, f"method_grids.{method}.{key}")

    def step_size_grid(self, method: str) -> dict[str, list[float]]:
        """{lr_gen, lr_disc}: the grids `method` is trained over."""
        return {"lr_gen": self.lr_gen, "lr_disc": self.lr_disc, **self.method_grids.get(method, {})}


def variant_groups(section: DynamicsAblation) -> dict[str, dict[str, dict]]:
    """One group (sweep job) per method, one variant per point of its step-size grid."""
    groups = {}
    for method in section.methods:
        grid = section.step_size_grid(method)
        groups[method] = {f"{method} lr_gen={g:g} lr_disc={d:g}": {"dynamics": [method], "lr_gen": g, "lr_disc": d}
                          for g in grid["lr_gen"] for d in grid["lr_disc"]}
    return groups


def readme(tables: Tables) -> list[str]:
    t = tables["dynamics"]
    target = t["target_tv"].iloc[0] if len(t) else float("nan")
    shown = t[["activation", "dim", "n", "method", "lr_gen", "lr_disc", "tv_median", "steps_to_target",
               "reached", "diverged", "runs"]]
    return [f"Every method at every step-size setting of the grid (not only the best): final TV (median over "
            f"seeds), steps to reach TV ≤ {target:g} (median over runs, at the log-spaced evaluation steps; – where "
            "most runs never did) and the fraction of runs that reached it. Rows without step sizes are "
            "the no-GAN estimators on the same data.", "", markdown_table(shown), ""]


EXPERIMENT = Experiment(
    name="dynamics",
    title="Game dynamics on the GAN",
    settings=DynamicsAblation,
    variant_groups=variant_groups,
    variants_key="methods",
    build_tables=base.sweep_tables("dynamics"),
    tables={
        "dynamics": "ablation: final TV, steps to the target TV and reach per method and step-size setting",
        "dynamics_steps": "ablation: TV against training step per method and step-size setting",
    },
    figures=(Figure("dynamics", "ablations",
                    "For every method and every step-size setting (η_G = `lr_gen`, η_D = `lr_disc`) of the "
                    "grid — not only the best one — (a) the final median TV over seeds (bar: quartiles; a red "
                    "ring: some runs diverged, counted as TV = 1), with the yardstick's TV dashed black and the "
                    "target TV dotted; (b) the median number of steps to first reach TV ≤ target (a checkpoint "
                    "step; runs that never reach it count as ∞, so \"never\" — drawn hollow on the grey band at "
                    "the top — means most runs did not get there within the training budget); (c) TV against "
                    "step for each method at its best setting (lowest final median TV)."),),
    readme=readme,
)
