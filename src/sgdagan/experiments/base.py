"""What an experiment declares, once: its config section, how it fans out, its tables, its figures
with their captions, and its section of reports/README.md.

The rules, the report and the notebooks loop over the registry (experiments/__init__.py); adding
an experiment is one module here (with its config section) and one figure function in plots.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from ..choices import ACTIVATIONS
from ..settings import setting

Tables = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Figure:
    name: str  # reports/figures/{notebook}/{name}.png and .svg
    notebook: str  # the notebook that draws it (workflow/notebooks/{notebook}.ipynb)
    caption: str  # shown under it in the notebook, in Snakemake's --report and in the README
    reads_metrics: bool = False  # drawn from results/metrics.parquet as well as from tables


@dataclass(frozen=True)
class Experiment:
    name: str  # its key under `ablations` in the config, and its section's title
    title: str
    tables: Mapping[str, str]  # reports/tables/{name}.csv → what the table holds
    figures: tuple[Figure, ...]
    settings: type | None = None  # its config section (an ablation's; the main sweep's are top-level)
    readme: Callable[[Tables], list[str]] | None = None  # its section of reports/README.md
    # Sweeps only (trained by `python -m sgdagan sweep`): group → variant name → TrainConfig settings,
    # one sweep job per group, activation and d.
    variant_groups: Callable[[Any], dict[str, dict[str, dict]]] | None = None
    variants_key: str = "variants"  # the section's key that names its variants, for error messages
    # Its tables from its section and, for a sweep, the rows of its sweep jobs.
    build_tables: Callable[..., dict[str, pd.DataFrame]] | None = None

    @property
    def is_sweep(self) -> bool:
        return self.variant_groups is not None


def sweep_tables(name: str) -> Callable[[Any, list[pd.DataFrame]], dict[str, pd.DataFrame]]:
    """The tables of a sweep experiment: {name} (final rows over seeds) and {name}_steps (against step)."""
    def build(section, frames: list[pd.DataFrame]) -> dict[str, pd.DataFrame]:
        from ..ablations import steps_table, summary_table, tidy_sweeps

        table = tidy_sweeps(frames)
        return {name: summary_table(table, target_tv=getattr(section, "target_tv", None)),
                f"{name}_steps": steps_table(table)}
    return build


# The fields every sweep section has (each experiment gives its own defaults).
ENABLED = "Run this experiment (its jobs, tables and report section)."


def activations(default):
    return setting(default, "Activations, one sweep job each.", choices=ACTIVATIONS, min_items=1)


def dims(default):
    return setting(default, "Dimensions d, one sweep job each.", minimum=1, min_items=1)


def seeds(default, note: str = ""):
    return setting(default, f"Seeds (runs), trained together in each job; medians are over seeds{note}.",
                   minimum=0, min_items=1)


def samples(default):
    return setting(default, "Sample sizes n, trained together in each job.", minimum=2, min_items=1)


def train(default):
    return setting(default, "Settings (keys of the train section) on top of the train section, for every "
                   "variant of this experiment; each experiment pins the dynamics and discriminators it is "
                   "about, so a preset's train section does not change what it measures.")
