"""What the figures share: the report's style, the notebooks' setup (`read_tables`, `save`) and the
helpers the figure functions draw with."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..choices import DISCRIMINATORS
from ..tables import is_trained

# The report's look; figure functions draw under it whatever the caller's rcParams are, and `save`
# writes under it (hashsalt: the same figure gives the same SVG bytes).
STYLE = {"figure.dpi": 90, "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3,
         "svg.hashsalt": "sgdagan", "font.size": 9}
CELL = ["activation", "dim", "n", "kappa"]  # the keys of one cell of an ablation sweep
FAMILIES = [*DISCRIMINATORS, "wgan_gp"]  # legend order of the discriminator families (wgan_gp: an mlp variant)
OUTCOME_COLORS = {"converged": "tab:green", "bounded": "tab:orange", "diverged": "tab:red"}


@contextlib.contextmanager
def style():
    """STYLE for the duration, restoring only its own keys afterwards. mpl.rc_context restores every
    key: when a notebook's first figure loads IPython's inline backend inside it, the interactive
    mode that backend turns on is reverted, and later figures are no longer shown in the notebook."""
    saved = {key: mpl.rcParams[key] for key in STYLE}
    mpl.rcParams.update(STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


# -- notebook setup ---------------------------------------------------------------------------------


def chdir_to_repository(tables_dir) -> None:
    """Move to the repository root when `tables_dir` (relative to it) is not found from here, as when
    a notebook is opened on its own from workflow/notebooks/."""
    if Path(tables_dir).exists():
        return
    for parent in Path.cwd().resolve().parents:
        if (parent / "Snakefile").exists() and (parent / tables_dir).exists():
            os.chdir(parent)
            return


def read_tables(tables_dir, names) -> dict[str, pd.DataFrame | None]:
    """{name: tables_dir/{name}.csv} for each name, None where the file is absent. Only an empty
    field reads as NaN (the estimators' empty variant), never a name such as 'none' or 'NA'."""
    paths = {name: Path(tables_dir) / f"{name}.csv" for name in names}
    return {name: pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else None
            for name, path in paths.items()}


def save(fig: Figure, figures_dir, name: str) -> None:
    """Write figures_dir/{name}.png and .svg (no timestamps in the files, so reruns give equal bytes)."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(figures_dir / f"{name}.png", bbox_inches="tight", metadata={"Software": None})
        fig.savefig(figures_dir / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})


# -- helpers of the figures -------------------------------------------------------------------------


def set_log(ax, x=True, y=True, xbase=10) -> None:
    """Log scales where the axes hold positive finite data; otherwise say there is none
    (e.g. every game of a panel diverged, or every n_eps is censored)."""
    ax.relim()
    lim = ax.dataLim
    finite = np.all(np.isfinite([lim.x0, lim.x1, lim.y0, lim.y1]))
    if not finite or (x and lim.x0 <= 0) or (y and lim.y0 <= 0):
        ax.text(0.5, 0.5, "no finite data", transform=ax.transAxes, ha="center", va="center")
        return
    if x:
        ax.set_xscale("log", base=xbase)
    if y:
        ax.set_yscale("log")


def label_ticks(axis, values) -> None:
    """Ticks at exactly `values` (the d or κ of the grid) on a log axis, without minor ticks."""
    axis.set_ticks(values, [f"{v:g}" for v in values])
    axis.set_minor_locator(plt.NullLocator())


def legend_entries(axes, first=()) -> tuple[list, list[str]]:
    """(handles, labels) of every label drawn on any of `axes`, once each: a series that only some
    panels hold (wds is ReLU-only) still gets its entry. Labels in `first` lead, in that order; the
    rest follow in the order first drawn."""
    entries = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    labels = sorted(entries, key=lambda label: list(first).index(label) if label in first else len(first))
    return [entries[label] for label in labels], labels


def dim_colors(dims) -> dict:
    cmap = plt.get_cmap("viridis")
    return {d: cmap(i / max(1, len(dims) - 1) * 0.9) for i, d in enumerate(sorted(dims))}


def order(values, first=()) -> list:
    """Distinct values in the order of `first`, then the rest sorted."""
    values = list(dict.fromkeys(values))
    return sorted(values, key=lambda v: (list(first).index(v) if v in first else len(first), str(v)))


def yardstick_last(values, headline_method: str, yardstick: str) -> list:
    """The methods in legend order: the headline method first, the yardstick last."""
    methods = order(values, [headline_method])
    return [m for m in methods if m != yardstick] + ([yardstick] if yardstick in methods else [])


def trained(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["method"].map(is_trained)]


def estimators(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["method"].map(is_trained)]


def cells_of(table: pd.DataFrame, keys=CELL) -> list[tuple]:
    """The distinct cells (values of `keys`) of a table, sorted: one panel each."""
    keys = list(keys)
    return [tuple(r) for r in table[keys].drop_duplicates().sort_values(keys).itertuples(index=False)]


def select(table: pd.DataFrame, cell, keys=CELL) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for key, value in zip(keys, cell):
        mask &= (table[key] == value).to_numpy()
    return table[mask]


def cell_title(cell, table: pd.DataFrame) -> str:
    act, d, n, kappa = cell
    return f"{act}, d={d}, n={n}" + (f", κ={kappa:g}" if table["kappa"].nunique() > 1 else "")


def nums(values) -> str:
    """Sorted distinct numbers as '3, 5, 7' (integers without a decimal point)."""
    vals = sorted({float(v) for v in values if pd.notna(v)})
    return ", ".join(str(int(v)) if v.is_integer() else f"{v:g}" for v in vals)
