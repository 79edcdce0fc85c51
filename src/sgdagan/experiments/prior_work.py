"""Lei et al.'s setting: ‖Σ − Σ*‖_F of SGDA (their quadratic discriminator and ours) against n."""

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


def readme(tables: Tables) -> list[str]:
    t = tables["prior_work"]
    wide = t.pivot_table(index=["activation", "method", "dim"], columns="n", values="frob_abs_median",
                         aggfunc="first").reset_index()
    wide.columns = [c if isinstance(c, str) else f"n={c}" for c in wide.columns]
    runs = int(t["runs"].max()) if len(t) else 0
    return [f"‖Σ − Σ*‖_F (median over {runs} runs) for d ∈ {{3, 5, 7}} against n, as in Lei et al. (2020): "
            "SGDA with their quadratic discriminator and with the truncated one, and the yardstick.", "",
            markdown_table(wide), ""]


EXPERIMENT = Experiment(
    name="prior_work",
    title="Lei et al.'s setting",
    settings=PriorWorkAblation,
    variant_groups=lambda section: {"lei": {"lei": {}}},
    build_tables=base.sweep_tables("prior_work"),
    tables={
        "prior_work": "ablation: Lei et al.'s setting, ‖Σ − Σ*‖_F per (activation, d, n, method)",
        "prior_work_steps": "ablation: Lei et al.'s setting against training step",
    },
    figures=(Figure("prior_work", "ablations",
                    "Lei et al. (2020)'s experiment: the recovery error ‖Σ − Σ*‖_F of the final generator "
                    "(median over runs = seeds) against the sample size n (log–log), one colour per dimension "
                    "d, one line style per method: SGDA with their quadratic discriminator (`sgda/quadratic`), "
                    "with the truncated one (`sgda/truncated`), and the moment-inversion yardstick "
                    "(`moment_inversion`, dashed) on the same samples. The dotted grey line is a slope of −1/2 "
                    "for reference."),),
    readme=readme,
)
