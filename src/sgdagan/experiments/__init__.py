"""The registry of experiments: the main sweep and the related papers' ablations, each declared once
in its own module (base.Experiment says what a declaration holds).

The config's `ablations` section, the rules' fan-out and targets, the README and the notebooks
all loop over these entries. No Snakemake here: the rules call these functions.
"""

from __future__ import annotations

from typing import Mapping

from . import bilinear_game, condition, discriminators, dynamics, prior_work, sample_complexity, vanilla
from .base import Experiment, Figure

MAIN = sample_complexity.EXPERIMENT
# In report order; each is a key of the config's `ablations` section.
ABLATIONS: dict[str, Experiment] = {e.name: e for e in (vanilla.EXPERIMENT, discriminators.EXPERIMENT,
                                                        dynamics.EXPERIMENT, bilinear_game.EXPERIMENT,
                                                        prior_work.EXPERIMENT, condition.EXPERIMENT)}
NOTEBOOK_TITLES = {
    "training": "Does SGDA reach the target? TV against training step",
    "sample_complexity": "Sample complexity: TV against n, n_eps against d, fitted exponents, efficiency",
    "ablations": "Ablations: vanilla SGDA, discriminator families, game dynamics, prior work, condition number",
}


def enabled_ablations(config: Mapping) -> list[Experiment]:
    """The ablations the config enables, in report order."""
    return [e for name, e in ABLATIONS.items() if config["ablations"][name]["enabled"]]


def enabled(config: Mapping) -> list[Experiment]:
    """The main experiment and the ablations the config enables, in report order."""
    return [MAIN, *enabled_ablations(config)]


def tables(config: Mapping) -> list[str]:
    """reports/tables/{name}.csv of every enabled experiment."""
    return [name for experiment in enabled(config) for name in experiment.tables]


def notebooks(config: Mapping) -> dict[str, dict]:
    """{notebook: {title, figures: {figure: caption}, inputs: [paths]}} of every figure an enabled
    experiment draws; its inputs are the tables of those experiments (and the metrics where read)."""
    out: dict[str, dict] = {}
    for experiment in enabled(config):
        for figure in experiment.figures:
            entry = out.setdefault(figure.notebook, {"title": NOTEBOOK_TITLES[figure.notebook], "figures": {},
                                                     "inputs": []})
            entry["figures"][figure.name] = figure.caption
            wanted = [f"reports/tables/{name}.csv" for name in experiment.tables]
            wanted += ["results/metrics.parquet"] if figure.reads_metrics else []
            entry["inputs"] += [path for path in wanted if path not in entry["inputs"]]
    return out


def caption(figure: str) -> str:
    """The caption of a figure, by its name."""
    return next(f.caption for e in (MAIN, *ABLATIONS.values()) for f in e.figures if f.name == figure)


def stale_reports(config: Mapping, present: list[str]) -> list[str]:
    """Of the files `present` under reports/ (paths relative to it), those this config does not
    produce: tables, notebooks and figures of experiments it does not run (left by a run of another
    config). Files the pipeline never writes are not touched."""
    shown = notebooks(config)
    wanted = {f"tables/{name}.csv" for name in tables(config)}
    wanted |= {f"{notebook}.{ext}" for notebook in shown for ext in ("ipynb", "html")}
    wanted |= {f"figures/{notebook}/{figure}.{ext}" for notebook, entry in shown.items()
               for figure in entry["figures"] for ext in ("png", "svg")}
    ours = [path for path in present
            if path.startswith("tables/") and path.endswith(".csv")
            or path.split(".")[0] in NOTEBOOK_TITLES and path.endswith((".ipynb", ".html"))
            or path.startswith("figures/") and path.endswith((".png", ".svg"))]
    return sorted(path for path in ours if path not in wanted)


def final_outputs(config: Mapping) -> list[str]:
    """What `snakemake` builds by default: the README and every notebook of the report."""
    return ["reports/README.md"] + [f"reports/{notebook}.html" for notebook in notebooks(config)]


__all__ = ["ABLATIONS", "MAIN", "Experiment", "Figure", "caption", "enabled", "enabled_ablations", "final_outputs", "notebooks",
           "stale_reports", "tables"]
