"""Lei et al.'s setting: ‖Σ − Σ*‖_F of SGDA (their quadratic discriminator and ours) against n, at
this project's width k = d and at theirs, k = 2, with and without their row-norm projection."""

from __future__ import annotations

from dataclasses import dataclass

from ..markdown import markdown_table
from ..settings import setting
from . import base
from .base import Experiment, Figure, Tables


@dataclass
class PriorWorkAblation:
    """Lei et al.'s setting: ‖Σ − Σ*‖_F of SGDA (their quadratic discriminator and ours) and the
    yardstick against n (tables prior_work.csv, prior_work_steps.csv)."""

    enabled: bool = setting(True, base.ENABLED)
    activations: list[str] = base.activations(["tanh", "leaky_relu"])
    dims: list[int] = base.dims([3, 5, 7])
    seeds: list[int] = base.seeds([0, 1, 2, 3, 4], " (Lei et al.: 20 runs, as config/cluster.yaml)")
    samples: list[int] = base.samples([500, 1000, 2000, 5000, 10000])
    train: dict = base.train({"dynamics": ["sgda"], "discriminators": ["quadratic", "truncated"]})
    widths: dict[str, dict] = setting(
        {"k = d": {}, "k = 2": {"width": 2, "discriminators": ["quadratic"]},
         "k = 2, row-norm projection": {"width": 2, "project_rows": True, "discriminators": ["quadratic"]}},
        "Variant name → settings: the width k of W and W* (Lei et al.: k = 2, with their quadratic discriminator) "
        "and whether W's rows are projected to the target's norms (their Algorithm 1).", min_properties=1)

# What differs from Lei et al.'s experiment beyond the variants above (stated in the report).
DIFFERENCES = (
    "activations tanh and leaky_relu (theirs are not restated here: check the paper); target W* = U diag(s) Vᵀ "
    "with singular values log-spaced over κ = 4, not their draw of A*",
    "the median and quartiles over runs (5 seeds by default, 20 in config/cluster.yaml), not mean ± sd over 20",
    "latent batch m = 256 for the quadratic discriminator (m = max(256, n) for the truncated one, drawn as "
    "sufficient statistics), not m = n",
    "step sizes: η_W = 1/h scaled by the game's curvature bound with inverse-time decay and a tail average of Σ_t "
    "(the project's defaults), η_V = 1 with penalty λ = 1 (their best response)",
    "at k = 2, Σ* has rank 2 and TV is not defined, so only ‖Σ − Σ*‖_F is reported; the projection uses the "
    "target's row norms, information the yardstick does not get",
)


def readme(tables: Tables) -> list[str]:
    t = tables["prior_work"].assign(variant=lambda f: f["variant"].fillna(""))
    wide = t.pivot_table(index=["activation", "width", "variant", "method", "dim"], columns="n",
                         values="frob_abs_median", aggfunc="first").reset_index()
    wide.columns = [c if isinstance(c, str) else f"n={c}" for c in wide.columns]
    runs = int(t["runs"].max()) if len(t) else 0
    return [f"‖Σ − Σ*‖_F (median over {runs} runs) against n, as in Lei et al. (2020): SGDA with their "
            "quadratic discriminator and with the truncated one, and the yardstick on the same samples, at width "
            "k = d and at their k = 2 (Σ* of rank 2, where TV is not defined, hence the Frobenius error only), "
            "with and without their row-norm projection (rows without a variant are the no-GAN estimators).", "",
            markdown_table(wide), "", "Differences from their experiment that remain:", "",
            *[f"- {difference}." for difference in DIFFERENCES], ""]


EXPERIMENT = Experiment(
    name="prior_work",
    title="Lei et al.'s setting",
    settings=PriorWorkAblation,
    variant_groups=lambda section: {"lei": dict(section.widths)},
    variants_key="widths",
    build_tables=base.sweep_tables("prior_work"),
    tables={
        "prior_work": "ablation: Lei et al.'s setting, ‖Σ − Σ*‖_F per (activation, width k, d, n, method)",
        "prior_work_steps": "ablation: Lei et al.'s setting against training step",
    },
    figures=(Figure("prior_work", "ablations",
                    "Lei et al. (2020)'s experiment: the recovery error ‖Σ − Σ*‖_F of the final generator "
                    "(median over runs = seeds) against the sample size n (log–log), one panel per activation and "
                    "variant (width k = d; their k = 2; k = 2 with their row-norm projection), one colour per "
                    "dimension d, one line style per method: SGDA with their quadratic discriminator (`sgda/quadratic`), "
                    "with the truncated one (`sgda/truncated`), and the moment-inversion yardstick "
                    "(`moment_inversion`, dashed) on the same samples. The dotted grey line is a slope of −1/2 "
                    "for reference."),),
    readme=readme,
)
