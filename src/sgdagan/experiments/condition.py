"""Condition number: TV of SGDA and the yardstick against κ of Σ*, as Wu et al. swept it."""

from __future__ import annotations

from dataclasses import dataclass

from ..markdown import markdown_table
from ..settings import setting
from . import base
from .base import Experiment, Figure, Tables


@dataclass
class ConditionAblation:
    """TV of SGDA and the yardstick against the condition number κ of Σ*, as Wu et al. swept it
    (tables condition.csv, condition_steps.csv)."""

    enabled: bool = setting(True, base.ENABLED)
    activations: list[str] = base.activations(["relu", "tanh"])
    dims: list[int] = base.dims([5])
    seeds: list[int] = base.seeds([0, 1, 2, 3, 4])
    samples: list[int] = base.samples([2000, 20000])
    train: dict = base.train({"dynamics": ["sgda"], "discriminators": ["truncated"]})
    kappas: list[float] = setting([1.0, 2.0, 5.0, 10.0, 25.0], "Condition numbers κ ≥ 1, one variant each.",
                                  minimum=1, min_items=1)


def readme(tables: Tables) -> list[str]:
    t = tables["condition"]
    wide = t.pivot_table(index=["activation", "dim", "n", "method"], columns="kappa", values="tv_median",
                         aggfunc="first").reset_index()
    wide.columns = [c if isinstance(c, str) else f"κ={c:g}" for c in wide.columns]
    return ["Median final TV against κ of Σ* (Wu et al.'s sweep).", "", markdown_table(wide), ""]


EXPERIMENT = Experiment(
    name="condition",
    title="Condition number",
    settings=ConditionAblation,
    variant_groups=lambda section: {"kappas": {f"kappa={k:g}": {"kappa": k} for k in section.kappas}},
    variants_key="kappas",
    build_tables=base.sweep_tables("condition"),
    tables={
        "condition": "ablation: final TV against the condition number κ of Σ*",
        "condition_steps": "ablation: the κ sweep against training step",
    },
    figures=(Figure("condition", "ablations",
                    "One panel per activation (and d): the final median TV over seeds (band: quartiles) against "
                    "the condition number κ of Σ* (log–log), one line per (method, n): colour per method (the "
                    "yardstick black, drawn thick and faint underneath so that a method on top of it stays "
                    "visible), line style per n. Methods: SGDA with the truncated discriminator, the "
                    "moment-inversion yardstick and, for ReLU, the Wu–Dimakis–Sanghavi estimator (`wds`)."),),
    readme=readme,
)
