"""What every table agrees on (torch-free): the metrics table's columns, how a trained method is
named, and what a diverged game counts as."""

from __future__ import annotations

import numpy as np

# The measures of one Σ estimate (trainer.measure), one column each.
MEASURES = ("tv", "tv_se", "frob_rel", "frob_white", "frob_abs", "tv_sign_lb")

# The columns every metrics.parquet written by `sgdagan train` carries (the CLI contract), in the
# order the aggregated table puts first.
METRICS_COLUMNS = (
    "activation", "dim", "width", "seed", "kappa", "n", "method", "step", "final",
    "tv", "tv_se", "frob_rel", "frob_white", "tv_sign_lb", "wall_s", "status",
)

# A diverged game counts as the largest TV there is in every median, and as ‖Σ − Σ*‖_F = ∞.
DIVERGED_TV = 1.0


def method_name(dynamics: str, discriminator: str) -> str:
    """A trained method's name in every table; the no-GAN estimators have plain names."""
    return f"{dynamics}/{discriminator}"


def is_trained(method: str) -> bool:
    return "/" in method


def diverged(rows) -> np.ndarray:
    """Per row of a metrics table: did the game diverge (status not ok, or a Σ that is not finite:
    frob_rel, defined for every game — TV is not where Σ* is singular — is then NaN)?"""
    return ((rows["status"] != "ok") | ~np.isfinite(rows["frob_rel"].astype(float))).to_numpy()


def effective_tv(rows) -> np.ndarray:
    """TV per row, DIVERGED_TV where the game diverged."""
    return np.where(diverged(rows), DIVERGED_TV, rows["tv"].astype(float))
