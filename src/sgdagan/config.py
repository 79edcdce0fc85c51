"""The training configuration: one dataclass, loaded from YAML and CLI flags, validated up front."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .activations import ACTIVATIONS
from .dynamics import CO_GAMMA, DYNAMICS_REGISTRY, PM_GAMMA
from .features import DISCRIMINATORS, MLP_LOSSES

LR_SCHEDULES = ("constant", "inverse_time")
LR_SCALES = ("curvature", "none")
AVERAGING = ("none", "tail")


class ConfigError(ValueError):
    """A bad setting; the message starts with the setting's name."""


@dataclass
class TrainConfig:
    """Everything one `sgdagan train` call needs. Defaults are the tuned ones (benchmarks/efficiency.py)."""

    activation: str = "relu"
    dim: int = 4
    seed: int = 0
    samples: list[int] = field(default_factory=lambda: [1000])
    kappa: float = 4.0  # condition number of Σ* = W*W*ᵀ
    leaky_slope: float = 0.2
    discriminators: list[str] = field(default_factory=lambda: ["truncated"])
    dynamics: list[str] = field(default_factory=lambda: ["sgda"])
    steps: int = 3000  # training steps per game (stretched at large d where the features have a mean: steps_dim)
    steps_dim: int = 4  # games whose features have a mean (relu, …) train steps·max(1, d/steps_dim) steps; 0 = never
    lr_gen: float = 1.0  # generator step size: η_W = lr_gen / h under lr_scale = curvature, else η_W itself
    lr_disc: float = 1.0  # discriminator step size η_V (η_V·λ = 1: V jumps to the best response of the last batch)
    lr_scale: str = "curvature"  # curvature: η_W = lr_gen / h, h the game's curvature bound (DESIGN §5); none: lr_gen
    lr_schedule: str = "inverse_time"
    lr_decay: float = 500.0  # t0 of η_t = η_0 / (1 + t / t0)
    averaging: str = "tail"  # Polyak average of Σ_t = W_t W_tᵀ over the tail of training
    average_from: float = 0.5  # fraction of the steps after which the tail average starts
    penalty: float = 1.0  # λ of the discriminator's ℓ2 penalty (λ/2)‖V‖²
    gen_batch: int = 256  # latent draws per generator step (its noise stays far below the data's: DESIGN §5)
    latent_stats: bool = True  # a game linear in x (truncated, injective φ): draw x̄ and XXᵀ/B, not B latents
    data_batch: int = 0  # real-data minibatch per step; 0 = the full sample (exact data side)
    init_scale: float = 0.5  # W_0 = init_scale · G/√d, G standard normal
    checkpoints: int = 16  # log-spaced checkpoints at which metrics are recorded
    tv_samples: int = 20000  # Monte Carlo draws of the TV estimator
    device: str = "auto"  # auto = cuda when available, else cpu
    dtype: str = "float64"
    diverge_threshold: float = 1e6  # |W| entries beyond this mark a game diverged
    mlp_hidden: int = 32  # hidden width h of the mlp discriminator (one leaky-ReLU layer)
    mlp_loss: str = "nonsaturating"  # the mlp's GAN loss: nonsaturating (Goodfellow) or wgan_gp (Gulrajani)
    mlp_gp_weight: float = 10.0  # γ of the WGAN-GP gradient penalty (mlp_loss = wgan_gp only)
    # Settings of single dynamics (dynamics.py; ttur's time scale τ is lr_decay, see dynamics.ttur).
    co_gamma: float = CO_GAMMA  # co: weight γ of ‖ξ‖² (GDA on U ± (γ/2)‖ξ‖², ξ = (∇_W U, −∇_V U))
    pm_gamma: float = PM_GAMMA  # pm: full step as a multiple of the prediction step (γη_W, γη_V); 1 = eg

    @classmethod
    def from_sources(cls, yaml_path: str | Path | None = None, **overrides) -> "TrainConfig":
        """Defaults, then the YAML file, then explicit overrides (CLI flags); validated."""
        values: dict = {}
        if yaml_path is not None:
            loaded = yaml.safe_load(Path(yaml_path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ConfigError(f"config: {yaml_path} must hold a mapping of settings")
            values.update(loaded)
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Check types and ranges; raise ConfigError naming the first bad setting."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "float":
                value = _number(f.name, value)
                setattr(self, f.name, float(value))
            elif f.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"{f.name}: expected an integer, got {value!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation: unknown {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if self.dim < 1:
            raise ConfigError(f"dim: must be >= 1, got {self.dim}")
        if not self.samples:
            raise ConfigError("samples: give at least one sample size")
        for n in self.samples:
            if isinstance(n, bool) or not isinstance(n, int) or n < 2:
                raise ConfigError(f"samples: every sample size must be an integer >= 2, got {n!r}")
        if len(set(self.samples)) != len(self.samples):
            raise ConfigError(f"samples: sizes must be distinct, got {self.samples}")
        if self.kappa < 1:
            raise ConfigError(f"kappa: must be >= 1, got {self.kappa}")
        _choices("discriminators", self.discriminators, DISCRIMINATORS)
        _choices("dynamics", self.dynamics, tuple(DYNAMICS_REGISTRY))
        _choices("lr_schedule", [self.lr_schedule], LR_SCHEDULES)
        _choices("lr_scale", [self.lr_scale], LR_SCALES)
        _choices("averaging", [self.averaging], AVERAGING)
        _choices("device", [self.device], ("auto", "cpu", "cuda"))
        _choices("dtype", [self.dtype], ("float64", "float32"))
        if self.steps_dim < 0:
            raise ConfigError(f"steps_dim: must be >= 0 (0 = never stretch), got {self.steps_dim}")
        for name in ("steps", "gen_batch", "checkpoints", "tv_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.tv_samples < 2:
            raise ConfigError(f"tv_samples: must be >= 2, got {self.tv_samples}")
        if not isinstance(self.latent_stats, bool):
            raise ConfigError(f"latent_stats: expected true or false, got {self.latent_stats!r}")
        if self.data_batch < 0:
            raise ConfigError(f"data_batch: must be >= 0 (0 = full sample), got {self.data_batch}")
        for name in ("lr_gen", "lr_disc", "penalty", "lr_decay", "init_scale", "diverge_threshold"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.average_from < 1.0:
            raise ConfigError(f"average_from: must be in [0, 1), got {self.average_from}")
        if not 0.0 < self.leaky_slope < 1.0:
            raise ConfigError(f"leaky_slope: must be in (0, 1), got {self.leaky_slope}")
        for name in ("co_gamma", "pm_gamma"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        _choices("mlp_loss", [self.mlp_loss], MLP_LOSSES)
        if self.mlp_hidden < 1:
            raise ConfigError(f"mlp_hidden: must be >= 1, got {self.mlp_hidden}")
        if not self.mlp_gp_weight > 0:
            raise ConfigError(f"mlp_gp_weight: must be > 0, got {self.mlp_gp_weight}")
        if "mlp" in self.discriminators:
            # The mlp sees samples, not moments: a per-step real minibatch of fixed size is needed.
            if self.data_batch == 0:
                raise ConfigError("data_batch: the mlp discriminator needs real minibatches (data_batch > 0)")
            # No closed-form best response: the mlp is not a bilevel design.
            if "bilevel" in self.dynamics:
                raise ConfigError("dynamics: bilevel needs a closed-form best response; the mlp discriminator has none")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _number(name: str, value) -> float:
    # YAML 1.1 reads "1e-3" (no dot) as a string; accept it, reject anything non-numeric.
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a finite number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name}: expected a finite number, got {value!r}")
    return value


def _choices(name: str, values: list[str], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ConfigError(f"{name}: give at least one of {', '.join(allowed)}")
    for value in values:
        if value not in allowed:
            raise ConfigError(f"{name}: unknown {value!r}; choose one of {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{name}: repeated entries in {values}")
