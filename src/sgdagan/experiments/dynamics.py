"""Game dynamics on the GAN: final TV and steps to a target TV per method and step-size setting."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..ablations import best_settings
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
    train: dict = base.train({"steps": 1500, "eval_points": 30, "eval_spacing": "linear", "averaging": "none"})
    target_tv: float = setting(0.1, "TV threshold of the steps-to-target measure (first evaluation step at or "
                               "below it).", exclusive_minimum=0, exclusive_maximum=1)
    methods: list[str] = setting(["sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel"],
                                 "Dynamics compared, each over the step-size grid.", choices=DYNAMICS, min_items=1)
    penalties: list[float] = setting(
        [1.0, 0.1, 0.01], "Grid of the discriminator's penalty λ (every method and step size). At λ = 1 and η_V = 1 "
        "the discriminator sits at its best response and the dynamics coincide; a weak λ leaves V far from it "
        "(its time scale is 1/(η_V·λ) steps), where the interaction term ∇_W∇_V U drives the methods apart.",
        exclusive_minimum=0, min_items=1)
    lr_gen: list[float] = setting([1.0], "Grid of lr_gen (η_W·h, every method).", exclusive_minimum=0,
                                  min_items=1)
    lr_disc: list[float] = setting([1.0], "Grid of discriminator step sizes η_V (every method unless "
                                   "method_grids says otherwise).", exclusive_minimum=0, min_items=1)
    method_grids: dict[str, dict[str, list[float]]] = setting(
        {"omd": {"lr_disc": [0.6]}}, "Method → {lr_gen, lr_disc} grids replacing the shared ones for that "
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
    """One group (sweep job) per method, one variant per penalty and point of its step-size grid."""
    groups = {}
    for method in section.methods:
        grid = section.step_size_grid(method)
        groups[method] = {f"{method} penalty={p:g} lr_gen={g:g} lr_disc={d:g}":
                          {"dynamics": [method], "penalty": p, "lr_gen": g, "lr_disc": d}
                          for p in section.penalties for g in grid["lr_gen"] for d in grid["lr_disc"]}
    return groups


def regimes(summary: pd.DataFrame) -> pd.DataFrame:
    """Per method (rows) and penalty λ (columns, strongest first): at the method's best step sizes for
    that λ (lowest final median TV), "final TV / median steps to the target" — where each method's
    behaviour changes across the grid, in one table."""
    keys = ["activation", "dim", "n", "dynamics"]
    best = best_settings(summary, [*keys[:3], "penalty"])
    shown = best.assign(shown=[f"{tv:.3g} / " + (f"{steps:g}" if steps < float("inf") else "never")
                               for tv, steps in zip(best["tv_median"], best["steps_to_target"])])
    wide = shown.pivot_table(index=keys, columns="penalty", values="shown", aggfunc="first")
    wide = wide[sorted(wide.columns, reverse=True)].rename(columns=lambda p: f"λ={p:g}").reset_index()
    wide = wide.assign(rank=wide["dynamics"].map(DYNAMICS.index)).sort_values([*keys[:3], "rank"])
    return wide.drop(columns="rank")


def readme(tables: Tables) -> list[str]:
    t = tables["dynamics"]
    target = t["target_tv"].iloc[0] if len(t) else float("nan")
    shown = t[["activation", "dim", "n", "method", "penalty", "lr_gen", "lr_disc", "tv_median", "steps_to_target",
               "reached", "diverged", "runs"]]
    return [f"Each method at its best step sizes per penalty λ: final median TV / median steps to TV ≤ {target:g} "
            "(never: most runs did not get there; a TV of 1: most runs diverged, counted as TV = 1). Where a "
            "column changes along a row, the method's behaviour changes with the discriminator's regime.", "", markdown_table(regimes(t)), "",
            f"Every method at every penalty λ and step-size setting of the grid (not only the best): final TV "
            f"(median over seeds), steps to reach TV ≤ {target:g} (median over runs, at the evaluation steps; – "
            "where most runs never did) and the fraction of runs that reached it. At λ = 1 the discriminator "
            "is close to its best response and the methods coincide; at λ = 0.1 and 0.01 it lags, and the "
            "interaction term separates them. Rows without step sizes are the no-GAN estimators on the same "
            "data.", "", markdown_table(shown), ""]


EXPERIMENT = Experiment(
    name="dynamics",
    title="Game dynamics on the GAN",
    settings=DynamicsAblation,
    variant_groups=variant_groups,
    variants_key="methods",
    build_tables=base.sweep_tables("dynamics"),
    tables={
        "dynamics": "ablation: final TV, steps to the target TV and reach per method, penalty λ and step-size "
                    "setting",
        "dynamics_steps": "ablation: TV against training step per method, penalty λ and step-size setting",
    },
    figures=(Figure("dynamics", "ablations",
                    "One row of panels per penalty λ of the discriminator (λ = 1: V close to its best "
                    "response; smaller λ: V lags and the interaction term matters). For every method and every "
                    "step-size setting (η_G = `lr_gen`, η_D = `lr_disc`) of the grid — not only the best one — (a) the final median TV over seeds (bar: quartiles; a red "
                    "ring: some runs diverged, counted as TV = 1), with the yardstick's TV dashed black and the "
                    "target TV dotted; (b) the median number of steps to first reach TV ≤ target (an evaluation "
                    "step; they are linearly spaced, so it is resolved to steps/eval_points; runs that never reach "
                    "it count as ∞, so \"never\" — drawn hollow on the grey band at the top — means most runs did not get there within the training budget); (c) TV against "
                    "step for each method at its best setting (lowest final median TV)."),),
    readme=readme,
)
