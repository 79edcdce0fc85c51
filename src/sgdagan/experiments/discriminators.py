"""Discriminator families: which families' objective convergence gives convergence in law."""

from __future__ import annotations

from dataclasses import dataclass

from ..markdown import markdown_table
from ..settings import setting
from . import base
from .base import Experiment, Figure, Tables


@dataclass
class DiscriminatorsAblation:
    """Discriminator families (linear, quadratic, truncated, mlp): TV against training step and final
    TV at a fixed d and n (tables discriminators.csv, discriminators_steps.csv)."""

    enabled: bool = setting(True, base.ENABLED)
    activations: list[str] = base.activations(["relu", "tanh"])
    dims: list[int] = base.dims([8])
    seeds: list[int] = base.seeds([0, 1, 2])
    samples: list[int] = base.samples([20000])
    train: dict = base.train({"dynamics": ["sgda"], "steps": 1500, "eval_points": 16})
    families: dict[str, dict] = setting(
        {"linear": {"discriminators": ["linear"]}, "quadratic": {"discriminators": ["quadratic"]},
         "truncated": {"discriminators": ["truncated"]},
         "mlp": {"discriminators": ["mlp"], "data_batch": 256, "lr_gen": 0.05, "lr_disc": 0.2,
                 "lr_schedule": "constant", "averaging": "none"}},
        "Variant name → settings of that family (at least `discriminators`; the mlp needs real minibatches, "
        "data_batch > 0, and step sizes of its own; mlp_loss wgan_gp for WGAN-GP).", min_properties=1)


def readme(tables: Tables) -> list[str]:
    t = tables["discriminators"]
    shown = t.assign(family=t["variant"].fillna("").replace("", "(no GAN)"))[
        ["activation", "dim", "n", "family", "method", "tv_median", "tv_q25", "tv_q75", "identifies_sigma"]]
    return ["Final TV (median and quartiles over seeds) of SGDA with each discriminator family, beside the "
            "no-GAN estimators on the same data. Linear features see first moments only, which do not "
            "identify Σ: its TV stalls.", "", markdown_table(shown), ""]


EXPERIMENT = Experiment(
    name="discriminators",
    title="Discriminator families",
    settings=DiscriminatorsAblation,
    variant_groups=lambda section: {"families": dict(section.families)},
    variants_key="families",
    build_tables=base.sweep_tables("discriminators"),
    tables={
        "discriminators": "ablation: final TV and ‖Σ − Σ*‖_F per discriminator family (quartiles over seeds)",
        "discriminators_steps": "ablation: TV against training step per discriminator family",
    },
    figures=(Figure("discriminators", "ablations",
                    "One panel per activation (and d, n): the median TV over seeds against the training step "
                    "(log–log; band: quartiles over seeds) of SGDA with each discriminator family, labelled by "
                    "the sweep's variant name (the MLP variants share the method name `sgda/mlp`, so their "
                    "variant tells them apart). Dashed black: the final median TV of the yardstick (moment "
                    "inversion, no GAN) on the same samples; dotted grey: any other no-GAN estimator (wds, "
                    "ReLU only)."),),
    readme=readme,
)
