"""The training configuration: one dataclass, loaded from YAML and CLI flags, validated up front.

Each field is declared once with its description and limits (settings.setting); the pipeline's
train section, its schema and the CLI's flags are derived from these fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from .choices import ACTIVATIONS, CO_GAMMA, DISCRIMINATORS, DYNAMICS, MLP_LOSSES, PM_GAMMA
from .settings import ConfigError, build, setting

LR_SCHEDULES = ("constant", "inverse_time")
LR_SCALES = ("curvature", "none")
AVERAGING = ("none", "tail")
EVAL_SPACINGS = ("log", "linear")


def read_settings_file(path: str | Path) -> dict:
    """The mapping of settings a YAML file holds; a ConfigError in one line if it holds none."""
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config: {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"config: {path} must hold a mapping of settings")
    return loaded


@dataclass
class TrainConfig:
    """Everything one `sgdagan train` call needs. Defaults are the tuned ones (benchmarks/efficiency.py).

    The pipeline's train section is these fields less the per-job ones (activation, dim, seed,
    samples), which its fan-out sets.
    """

    activation: str = setting("relu", "Activation φ of the generator φ(Wx) and the target φ(W*x).",
                              choices=ACTIVATIONS, per_job=True)
    dim: int = setting(4, "Dimension d of y (W is d×k, k = width).", minimum=1, per_job=True)
    seed: int = setting(0, "Seed of the target W*, the sample and every game's random stream.", minimum=0,
                        per_job=True)
    samples: list[int] = setting([1000], "Sample sizes n, all trained in one call.", minimum=2, min_items=1,
                                 per_job=True)
    width: int = setting(0, "Width k of the generator and the target: W, W* ∈ ℝ^{d×k}, x ∈ ℝ^k (Lei et al.'s "
                         "experiments: k = 2); 0 = d. Below d, Σ* = W*W*ᵀ has rank k and TV is not defined: "
                         "only the Frobenius errors are reported.", minimum=0)
    project_rows: bool = setting(False, "After every step rescale each row of W to the target's row norm ‖w*_i‖ "
                                 "(Lei et al.'s Algorithm 1, which takes the row norms as known).")
    kappa: float = setting(4.0, "Condition number κ of Σ* = W*W*ᵀ (singular values of W* log-spaced in "
                           "[1/√κ, 1]).", minimum=1)
    leaky_slope: float = setting(0.2, "Negative-side slope of leaky_relu.", exclusive_minimum=0,
                                 exclusive_maximum=1)
    discriminators: list[str] = setting(
        ["truncated"], "Discriminators: linear, quadratic, truncated (penalized linear-in-features, DESIGN §5) "
        "or mlp (a small neural discriminator with the usual GAN loss). Each is trained with each of the "
        "dynamics, reported as method \"{dynamics}/{discriminator}\".", choices=DISCRIMINATORS, min_items=1)
    dynamics: list[str] = setting(
        ["sgda"], "Game dynamics: sgda (simultaneous), alt (alternating), ttur (two time scales), omd "
        "(optimistic), eg (extragradient), pm (predictive), co (consensus), bilevel (best response).",
        choices=DYNAMICS, min_items=1)
    steps: int = setting(3000, "Training steps per game (stretched at large d where the features have a mean, "
                         "see steps_dim).", minimum=1)
    steps_dim: int = setting(4, "Games whose generator features have a mean (relu; the quadratic family with "
                             "leaky_relu, sigmoid, softplus) train steps·max(1, d/steps_dim) steps, lr_decay "
                             "stretched alike (docs/DESIGN.md §5); 0 = never.", minimum=0)
    lr_gen: float = setting(1.0, "Generator step size (initial value under inverse_time decay); under lr_scale "
                            "curvature η_W = lr_gen / h, h the game's curvature bound.", exclusive_minimum=0)
    lr_disc: float = setting(1.0, "Discriminator step size η_V (initial value under inverse_time decay); "
                             "η_V·λ = 1 makes V jump to the best response of the last batch.", exclusive_minimum=0)
    lr_scale: str = setting("curvature", "curvature (η_W = lr_gen / h, h = ḡ²(1 + 4λ_max(E uuᵀ))(1 + √(d/B))² "
                            "from the game's own sample, docs/DESIGN.md §5) or none (η_W = lr_gen).",
                            choices=LR_SCALES)
    lr_schedule: str = setting("inverse_time", "Step-size schedule, constant or inverse_time "
                               "(η_t = η_0 / (1 + t/lr_decay)).", choices=LR_SCHEDULES)
    lr_decay: float = setting(500.0, "t0 of the inverse_time schedule.", exclusive_minimum=0)
    averaging: str = setting("tail", "none (the last iterate) or tail (Polyak average of Σ_t = W_t W_tᵀ over "
                             "the tail of training).", choices=AVERAGING)
    average_from: float = setting(0.5, "Fraction of the steps after which the tail average starts.",
                                  minimum=0, exclusive_maximum=1)
    penalty: float = setting(1.0, "λ of the discriminator's ℓ2 penalty (λ/2)‖V‖².", exclusive_minimum=0)
    gen_batch: int = setting(256, "Latent draws per generator step (its noise stays far below the data's: "
                             "DESIGN §5).", minimum=1)
    gen_batch_per_dim: int = setting(8, "Where latent vectors are drawn, the batch is at least this many per "
                                     "dimension: B = max(gen_batch, gen_batch_per_dim·d). The grid's largest n grows "
                                     "like d² and relu's steps like d, so the latents' share n/(B·T) of the error "
                                     "stays put only if B grows like d (DESIGN §5); 0: gen_batch alone.", minimum=0)
    latent_stats: bool = setting(True, "For games linear in x (truncated discriminator, injective φ): draw the "
                                 "sufficient statistics x̄ and XXᵀ/B directly (exact in distribution, O(d³) a "
                                 "step) instead of B latent vectors.")
    data_batch: int = setting(0, "Real-data minibatch per step; 0 = the full sample (exact data side).",
                              minimum=0)
    init_scale: float = setting(0.5, "W_0 = init_scale · G/√d, G standard normal.", exclusive_minimum=0)
    eval_points: int = setting(16, "Steps at which the metrics are evaluated and recorded (the last is the final "
                               "step), spaced as eval_spacing says.", minimum=1)
    eval_spacing: str = setting("log", "Spacing of the evaluation steps: log (from step 1, for TV against step on "
                                "log axes) or linear (every steps/eval_points steps, to resolve steps-to-target).",
                                choices=EVAL_SPACINGS)
    tv_samples: int = setting(20000, "Monte Carlo draws of the TV estimator.", minimum=2)
    device: str = setting("auto", "auto (cuda when available, else cpu), cpu or cuda.",
                          choices=("auto", "cpu", "cuda"))
    dtype: str = setting("float64", "Floating-point precision of training.", choices=("float64", "float32"))
    diverge_threshold: float = setting(1e6, "A game whose generator entries exceed this (or turn NaN/inf) is "
                                       "marked diverged (checked at evaluation steps and once per block of random draws).", exclusive_minimum=0)
    mlp_hidden: int = setting(32, "Hidden width of the mlp discriminator (one leaky-ReLU layer).", minimum=1)
    mlp_loss: str = setting("nonsaturating", "GAN loss of the mlp discriminator, nonsaturating (Goodfellow) or "
                            "wgan_gp (Gulrajani).", choices=MLP_LOSSES)
    mlp_gp_weight: float = setting(10.0, "Weight γ of the WGAN-GP gradient penalty (mlp_loss = wgan_gp only).",
                                   exclusive_minimum=0)
    # Settings of single dynamics (dynamics.py; ttur's time scale τ is lr_decay, see dynamics.ttur).
    co_gamma: float = setting(CO_GAMMA, "Consensus optimization (co): weight γ of ‖ξ‖² (GDA on U ± (γ/2)‖ξ‖², "
                              "ξ = (∇_W U, −∇_V U)).", exclusive_minimum=0)
    pm_gamma: float = setting(PM_GAMMA, "Predictive method (pm): full step as a multiple of the prediction step "
                              "(γη_W, γη_V); 1 = eg.", exclusive_minimum=0)

    @classmethod
    def from_sources(cls, yaml_path: str | Path | None = None, **overrides) -> "TrainConfig":
        """Defaults, then the YAML file, then explicit overrides (CLI flags); validated."""
        values = dict(read_settings_file(yaml_path)) if yaml_path is not None else {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return build(cls, values)

    def check(self) -> None:
        """Rules across settings (each field's own limits are checked by settings.build)."""
        if self.width > self.dim:
            raise ConfigError(f"width: k = {self.width} must not exceed d = {self.dim} (W* = U diag(s) Vᵀ with U d×k "
                              "orthonormal)")
        if "mlp" in self.discriminators:
            # The mlp sees samples, not moments: a per-step real minibatch of fixed size is needed.
            if self.data_batch == 0:
                raise ConfigError("data_batch: the mlp discriminator needs real minibatches (data_batch > 0)")
            # No closed-form best response: the mlp is not a bilevel design.
            if "bilevel" in self.dynamics:
                raise ConfigError("dynamics: bilevel needs a closed-form best response; the mlp discriminator has none")

    @property
    def latent_dim(self) -> int:
        """k: the width of W and the dimension of x (`width`, or d when it is 0)."""
        return self.width or self.dim

    def latent_vectors(self, dim: int | None = None) -> int:
        """B where a game draws latent vectors, at dimension `dim` (default: the config's d):
        max(gen_batch, gen_batch_per_dim·d)."""
        return max(self.gen_batch, self.gen_batch_per_dim * (self.dim if dim is None else dim))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
