"""The ablation tables: sweep metrics (sweep.py) → one summary and one trajectory table per experiment.

A sweep's rows hold every trained variant and, repeated in each variant, the no-GAN estimators on
the same data; the estimators are kept once per (activation, dim, κ, n, seed) with an empty
variant. Diverged games count as TV = 1 and ‖Σ − Σ*‖_F = ∞ in every median, as in analysis.py.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from .tables import DIVERGED_TV, diverged, is_trained

# Does convergence of the family's objective give convergence in distribution (DESIGN §5)?
IDENTIFIES_SIGMA = {
    "linear": "no: first moments do not identify Σ",
    "quadratic": "yes: E[yyᵀ] identifies Σ",
    "truncated": "yes: E[uuᵀ] = Σ on the invertible region",
    "mlp": "no guarantee: not a concave inner problem",
}

STEP_SETTINGS = ["penalty", "lr_gen", "lr_disc"]  # a trained variant's game and step sizes; none for an estimator
KEYS = ["activation", "dim", "width", "kappa", "n", "variant", "method", "discriminator", "dynamics", *STEP_SETTINGS]


def tidy_sweeps(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One table of every sweep job's rows, estimators deduplicated (variant '' for them)."""
    table = pd.concat(list(frames), ignore_index=True)
    trained = table["method"].map(is_trained)
    estimators = table[~trained].copy()
    estimators["variant"] = ""
    estimators[STEP_SETTINGS] = np.nan
    estimators = estimators.drop_duplicates(["activation", "dim", "width", "kappa", "n", "seed", "method", "step"])
    table = pd.concat([table[trained], estimators], ignore_index=True)
    failed = table["diverged"] = diverged(table)
    table["tv"] = table["tv"].where(~failed, DIVERGED_TV)
    table["frob_abs"] = table["frob_abs"].where(~failed, np.inf)
    return table.sort_values(KEYS + ["seed", "step"], na_position="first", ignore_index=True)


def _q(p: float):
    """The p-quantile as an order statistic (lower for p < ½, higher above): no interpolation, so a
    quartile between a finite value and ∞ (a diverged game's ‖Σ − Σ*‖_F) is one of the two."""
    def quantile(x: pd.Series) -> float:
        return float(np.quantile(x, p, method="lower" if p < 0.5 else "higher"))
    quantile.__name__ = f"q{int(p * 100)}"
    return quantile


def _spread(grouped, column: str) -> pd.DataFrame:
    out = grouped[column].agg(["median", _q(0.25), _q(0.75)])
    return out.rename(columns={"median": f"{column}_median", "q25": f"{column}_q25", "q75": f"{column}_q75"})


def summary_table(table: pd.DataFrame, target_tv: float | None = None) -> pd.DataFrame:
    """Final rows per (KEYS) over seeds: runs, diverged, TV and ‖Σ − Σ*‖_F median and quartiles;
    with `target_tv`, steps to reach it (first evaluation step with TV ≤ target; ∞ if never, so the
    median is ∞ when most games never get there) and the fraction of games that did."""
    final = table[table["final"]]
    grouped = final.groupby(KEYS, dropna=False, sort=True)
    out = pd.concat([grouped["seed"].size().rename("runs"),
                     grouped["diverged"].sum().astype("int64"),
                     _spread(grouped, "tv"), _spread(grouped, "frob_abs"),
                     grouped["frob_rel"].median().rename("frob_rel_median")], axis=1).reset_index()
    if target_tv is not None:
        first_hit = table["step"].where(table["tv"] <= target_tv, np.inf).astype(float)
        per_game = first_hit.groupby([table[k] for k in KEYS + ["seed"]], dropna=False).min()
        per_cell = per_game.groupby(level=KEYS, dropna=False)
        reached = pd.concat([per_cell.median().rename("steps_to_target"),
                             per_cell.agg(lambda s: float(np.isfinite(s).mean())).rename("reached")], axis=1)
        out = out.merge(reached.reset_index(), on=KEYS, how="left")
        trained = out["method"].map(is_trained)
        out.loc[~trained, ["steps_to_target", "reached"]] = np.nan  # estimators have no steps
        out.insert(out.columns.get_loc("steps_to_target"), "target_tv", target_tv)
    out["identifies_sigma"] = out["discriminator"].map(IDENTIFIES_SIGMA).fillna("")
    return out


def best_settings(summary: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """Of a summary's trained rows, each dynamics' best setting per `keys`: its row with the lowest
    final median TV, ties going to fewer steps to the target."""
    trained = summary[summary["method"].map(is_trained)]
    return trained.sort_values(["tv_median", "steps_to_target"]).drop_duplicates([*keys, "dynamics"])


def steps_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per (KEYS, step) of the trained methods: TV and ‖Σ − Σ*‖_F median and quartiles over seeds."""
    trained = table[table["method"].map(is_trained)]
    grouped = trained.groupby(KEYS + ["step"], dropna=False, sort=True)
    return pd.concat([grouped["seed"].size().rename("runs"), _spread(grouped, "tv"),
                      _spread(grouped, "frob_abs")], axis=1).reset_index()
