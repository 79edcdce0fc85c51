"""The bilinear game U = θᵀCω: measured convergence of each method against the exact boundaries.

Not a sweep: no samples and no GAN, one job (rule bilinear) runs every method over the η (and γ) grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..choices import BILINEAR_METHODS
from ..markdown import markdown_table
from ..settings import setting
from . import base
from .base import Experiment, Figure, Tables


@dataclass
class BilinearAblation:
    """The bilinear game U = θᵀCω: measured convergence of each method over a grid of η (and γ)
    against the exact spectral radius and the closed-form boundaries (tables bilinear.csv,
    bilinear_boundaries.csv)."""

    enabled: bool = setting(True, base.ENABLED)
    methods: list[str] = setting(list(BILINEAR_METHODS), "Methods on the bilinear game (bilevel has no meaning "
                                 "there).", choices=BILINEAR_METHODS, min_items=1)
    singular_values: list[float] = setting([1.0, 0.7, 0.4], "Singular values of C (square, random singular "
                                           "vectors from seed; σ_max = 1, so η·σ_max = η).", exclusive_minimum=0,
                                           min_items=1, unique=False)
    etas: list[float] = setting([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.05, 1.2, 1.5],
                                "Step sizes η (one for both players).", exclusive_minimum=0, min_items=1)
    gammas: list[float] = setting([0.5, 1.0], "γ of co (weight of ‖ξ‖²) and pm (full step / prediction step).",
                                  exclusive_minimum=0, min_items=1)
    steps: int = setting(2000, "Steps per run.", minimum=2)
    seed: int = setting(0, "Seed of C's singular vectors and of the start z_0.", minimum=0)


def build_tables(section: BilinearAblation) -> dict[str, pd.DataFrame]:
    from ..bilinear import boundary_table, convergence_grid  # torch: only in the job

    sigma = np.asarray(section.singular_values, dtype=float)
    grid = convergence_grid(section.methods, section.etas, section.gammas, sigma, steps=section.steps,
                            seed=section.seed)
    return {"bilinear": grid, "bilinear_boundaries": boundary_table(sigma, gammas=section.gammas, seed=section.seed)}


def readme(tables: Tables) -> list[str]:
    t = tables["bilinear"]
    per = t.groupby("method").agg(runs=("agrees", "size"), agree=("agrees", "sum"),
                                  converged=("converged", "sum"), theory_converges=("theory_converges", "sum"))
    b = tables["bilinear_boundaries"][["method", "gamma", "sigma_max_eta_stated", "sigma_max_eta_exact"]]
    return [f"Measured outcome against the exact prediction: agreement in {int(t['agrees'].sum())} of "
            f"{len(t)} runs. Per method:", "", markdown_table(per.reset_index()), "",
            "Critical η·σ_max, closed form against the exact spectral-radius crossing:", "",
            markdown_table(b), ""]


EXPERIMENT = Experiment(
    name="bilinear",
    title="Game dynamics on the bilinear game θᵀCω",
    settings=BilinearAblation,
    build_tables=build_tables,
    tables={
        "bilinear": "ablation: bilinear game, measured outcome per (method, η, γ) beside the exact spectral radius",
        "bilinear_boundaries": "ablation: bilinear game, critical η of the closed-form boundary vs the exact one",
    },
    figures=(Figure("bilinear", "ablations",
                    "One row per method (and per γ for co and pm), x = η·σ_max (one η for both players); each "
                    "marker is one run from the same z₀ with ‖z₀‖ = 1, coloured by its measured outcome after T "
                    "steps: converged (‖z_T‖/‖z₀‖ ≤ tol), diverged (≥ 1/tol) or bounded (in between). A black "
                    "ring marks a run whose outcome disagrees with the exact prediction (iterating the "
                    "hand-written iteration matrix on the same z₀). The black vertical bar is the exact "
                    "stability boundary, where the spectral radius ρ of the iteration matrix reaches 1 "
                    "(`bilinear_boundaries.csv`, `sigma_max_eta_exact`); a dashed grey bar would mark a "
                    "closed-form boundary that differs from it."),),
    readme=readme,
)
