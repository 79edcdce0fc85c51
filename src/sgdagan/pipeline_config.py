"""The pipeline's configuration (config.yaml, config/*.yaml, `--config`): its one declaration.

Every key is a dataclass field with its description, limits and default (settings.setting);
the train section is TrainConfig. From these come the validation the Snakefile runs when it loads
the config, workflow/schemas/config.schema.yaml and the default config.yaml:

    python -m sgdagan.pipeline_config      # rewrites both (tests/test_pipeline.py checks they are current)

No Snakemake here: the rules call these functions.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .choices import ACTIVATIONS, ESTIMATORS, RELU_ONLY_ESTIMATORS, YARDSTICK
from .config import TrainConfig
from .experiments import ABLATIONS
from .markdown import round_sig
from .resources import estimated_peak_mb, train_resources
from .tables import method_name
from .settings import ConfigError, build, commented_yaml, json_schema, section, setting, to_plain

SCHEMA_PATH = Path("workflow/schemas/config.schema.yaml")
DEFAULT_CONFIG_PATH = Path("config.yaml")


@dataclass
class Samples:
    """The sample sizes n trained at each dimension d, all in the same job. By default a log-spaced
    grid on which the yardstick's expected TV, tv_constant·√(d(d+1)/n), runs from tv_max down to
    tv_min: n = tv_constant²·d(d+1)/TV², rounded to two significant digits."""

    tv_max: float = setting(0.4, "Expected yardstick TV at the smallest n of each grid.", exclusive_minimum=0,
                            maximum=1)
    tv_min: float = setting(0.03, "Expected yardstick TV at the largest n of each grid (below tv_max).",
                            exclusive_minimum=0, maximum=1)
    points: int = setting(7, "Sample sizes per grid, log-spaced in n (fewer if rounding merges some).",
                          minimum=2)
    tv_constant: float = setting(0.3, "c in TV ≈ c·√(d(d+1)/n) for the moment-inversion yardstick; measured "
                                 "≈ 0.26 (injective φ) and ≈ 0.42 (relu) (reports/tables/reference.csv).",
                                 exclusive_minimum=0)
    n_min: int = setting(10, "Smallest sample size allowed in a grid.", minimum=2)
    fixed: list[int] = setting([], "If non-empty, these sample sizes are used at every d instead of the formula.",
                               minimum=2)

    def check(self) -> None:
        if not self.tv_min < self.tv_max:
            raise ConfigError(f"tv_min: must be below tv_max ({self.tv_max}), got {self.tv_min}")

    def grid(self, dim: int) -> list[int]:
        """The sample sizes of dimension `dim`, sorted."""
        if self.fixed:
            return sorted(self.fixed)
        tvs = np.geomspace(self.tv_max, self.tv_min, self.points)
        raw = self.tv_constant**2 * dim * (dim + 1) / tvs**2
        return sorted({max(self.n_min, round_sig(float(n))) for n in raw})


# -- the ablations: each experiment's section is declared in its module (sgdagan.experiments) ------

Ablations = dataclasses.make_dataclass(
    "Ablations", [(name, e.settings, section(e.settings)) for name, e in ABLATIONS.items()],
    namespace={"__doc__": """The related papers' experiments, each its own rule fan-out (rule sweep: one job
    per experiment, variant group, activation and dim, every variant × seed × n of it batched; rule
    ablation_tables; rule bilinear) and section of reports/ablations.html. The default runs reduced
    versions (minutes); config/cluster.yaml runs them in full."""})


# -- analysis, report, resources ---------------------------------------------------------------------


@dataclass
class Analysis:
    """Settings of the sample-complexity analysis (rule analyze)."""

    epsilons: list[float] = setting([0.2, 0.14, 0.1, 0.07, 0.05], "TV targets ε at which n_ε (the n where the "
                                    "median TV over seeds crosses ε) is computed and the exponents are fitted; "
                                    "keep them inside the range the sample grids span.", exclusive_minimum=0,
                                    exclusive_maximum=1, min_items=2)
    yardstick: str = setting(YARDSTICK, "The no-GAN estimator every trained method is compared with (all but "
                             "moment_inversion run for relu only).", choices=ESTIMATORS)
    bootstrap: int = setting(1000, "Bootstrap draws over seeds for every confidence interval; 0 = no "
                             "intervals.", minimum=0)
    bootstrap_seed: int = setting(0, "Seed of the bootstrap draws (fixed: identical tables run to run).",
                                  minimum=0)
    ci_level: float = setting(0.95, "Confidence level of the bootstrap percentile intervals.",
                              exclusive_minimum=0, exclusive_maximum=1)


@dataclass
class Report:
    """Settings of the notebooks and reports/README.md."""

    headline_method: str | None = setting(None, "Method shown in the headline figures and tables; null = the "
                                          "first dynamics with the first discriminator, e.g. sgda/truncated.")
    title: str = setting("Sample complexity of SGDA-trained one-layer GANs", "Title of reports/README.md.")


@dataclass
class ResourceOverride:
    """Larger requests for some cells."""

    activations: list[str] | None = setting(None, "Activations this entry applies to (absent: every "
                                            "activation).", choices=ACTIVATIONS, optional=True)
    dims: list[int] | None = setting(None, "Dimensions this entry applies to (absent: every d).", minimum=1,
                                     optional=True)
    mem_mb: int | None = setting(None, "Memory request of these jobs in MB.", minimum=100, optional=True)
    runtime: int | None = setting(None, "Wall-time request of these jobs in minutes.", minimum=1, optional=True)


@dataclass
class TrainResources:
    """Resources of one training job (one activation × dim × seed cell)."""

    threads: int = setting(1, "CPU threads of one job (torch intra-op threads).", minimum=1)
    mem_mb: int = setting(2000, "Memory request of one job in MB.", minimum=100)
    runtime: int = setting(30, "Wall-time request of one job in minutes.", minimum=1)
    overrides: list[ResourceOverride] = setting([], "Larger requests for some cells "
                                                "(sgdagan.resources.train_resources): the first entry whose "
                                                "activations and dims contain a job's cell sets the mem_mb and "
                                                "runtime it names.", unique=False)


@dataclass
class Resources:
    """Per-job resources of the training rule (used by local and cluster executors alike)."""

    train: TrainResources = section(TrainResources)


# -- the whole config --------------------------------------------------------------------------------


@dataclass
class PipelineConfig:
    """Configuration of the sample-complexity pipeline: the default experiment is config.yaml,
    `snakemake --cores all` (about 12 minutes on 2 CPU cores); presets in config/ override its keys
    (`--configfile config/cluster.yaml`). The fan-out axes are the top-level lists activations,
    dims and seeds: one training job per (activation, dim, seed). This file is generated from
    src/sgdagan/pipeline_config.py (python -m sgdagan.pipeline_config)."""

    activations: list[str] = setting(
        ["relu", "tanh", "hardtanh"], "Activations φ of the generator φ(Wx) and target φ(W*x), one training job "
        "each: one of each kind whose numbers differ. relu is invertible on a half-line (one-sided truncation), "
        "hardtanh on a bounded interval (two-sided), tanh everywhere: tanh stands for every injective φ, since "
        "the truncated discriminator sees u = φ⁻¹(y) = W*x and leaky_relu, sigmoid, softplus and identity give "
        "its numbers to rounding there (the quadratic one sees y and tells them apart; the cluster preset runs "
        "them all).", choices=ACTIVATIONS, min_items=1)
    dims: list[int] = setting(
        [4, 8, 16, 24], "Dimensions d (of y, and of x: W is d×d unless train.width is set), one training job each. "
        "d = 2 is left out of the default: its grid sits at n ≈ 10–600, where n_ε is noisy and d(d+1) is not yet "
        "≈ d². The default stops at 24 to stay within 15 minutes on 2 cores with three activations and two "
        "discriminators (config/cluster.yaml goes to 128).", minimum=1,
        min_items=1)
    seeds: list[int] = setting(
        list(range(10)), "Seeds, one training job each. A seed fixes the target W*, the sample and every game's "
        "random stream; medians and bootstrap intervals are over seeds.", minimum=0, min_items=1)
    samples: Samples = section(Samples)
    train: TrainConfig = setting(TrainConfig(discriminators=["truncated", "quadratic"]), "Training settings, passed through as the --config YAML of "
                                 "`python -m sgdagan train` (the fields of sgdagan.config.TrainConfig other than "
                                 "activation, dim, seed and samples).")
    ablations: Ablations = section(Ablations)
    analysis: Analysis = section(Analysis)
    report: Report = section(Report)
    resources: Resources = section(Resources)

    def check(self) -> None:
        headline = self.report.headline_method
        if headline is not None and headline not in self.trained_methods():
            raise ConfigError(f"report.headline_method: {headline!r} is not trained; "
                              f"choose one of {', '.join(self.trained_methods())}")
        if self.analysis.yardstick in RELU_ONLY_ESTIMATORS and set(self.activations) - {"relu"}:
            raise ConfigError(f"analysis.yardstick: {self.analysis.yardstick} runs for relu only; with other "
                              "activations use moment_inversion")
        self._check_sweep_variants()
        self._check_memory()

    def _check_memory(self) -> None:
        """Every job fits the memory it requests (resources.estimated_peak_mb against resources.train)."""
        requests = to_plain(self.resources.train)
        for i, dim in enumerate(self.dims):
            grid = self.samples.grid(dim)
            need = estimated_peak_mb(dim, max(grid), len(grid), self.train.tv_samples, self.train.latent_vectors(dim))
            for activation in self.activations:
                have = train_resources(requests, activation, dim)["mem_mb"]
                if need > have:
                    raise ConfigError(
                        f"dims[{i}]: a training job at d = {dim} (n up to {max(grid)}) needs about {need} MB, "
                        f"above the {have} MB it requests for {activation}: raise resources.train.mem_mb (or an "
                        "entry of resources.train.overrides), or lower the dims or the samples")
        for name, _, sweep in self.enabled_sweeps():
            for dim in sweep.dims:
                need = estimated_peak_mb(dim, max(sweep.samples), len(sweep.seeds) * len(sweep.samples),
                                         self.train.tv_samples, self.train.latent_vectors(dim))
                if need > requests["mem_mb"]:
                    raise ConfigError(
                        f"ablations.{name}.dims: a sweep job at d = {dim} needs about {need} MB, above the "
                        f"{requests['mem_mb']} MB it requests (resources.train.mem_mb)")

    def _check_sweep_variants(self) -> None:
        """Every variant an enabled sweep will train is a valid TrainConfig: found now, not in its job."""
        train = to_plain(self.train, nested=True)
        for name, experiment, sweep in self.enabled_sweeps():
            for variants in experiment.variant_groups(sweep).values():
                for variant, settings in variants.items():
                    try:
                        build(TrainConfig, {**train, **sweep.train, **settings}, nested=True)
                    except ConfigError as err:
                        if err.setting in sweep.train:
                            raise ConfigError(f"ablations.{name}.train.{err}") from None
                        raise ConfigError(f"ablations.{name}.{experiment.variants_key} (variant {variant!r}): "
                                          f"{err}") from None

    def enabled_sweeps(self):
        """(name, experiment, its config section) of each enabled ablation trained by sweep jobs."""
        for name, experiment in ABLATIONS.items():
            sweep = getattr(self.ablations, name)
            if experiment.is_sweep and sweep.enabled:
                yield name, experiment, sweep

    def trained_methods(self) -> list[str]:
        """Methods the training jobs produce besides the estimators: '{dynamics}/{discriminator}'."""
        return [method_name(dyn, disc) for dyn in self.train.dynamics for disc in self.train.discriminators]

    def headline_method(self) -> str:
        return self.report.headline_method or self.trained_methods()[0]


def load(values: dict) -> PipelineConfig:
    """The validated config from Snakemake's merged config dict; ConfigError names the first bad key."""
    return build(PipelineConfig, values)


def schema_text() -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **json_schema(PipelineConfig)}
    header = "# Generated from src/sgdagan/pipeline_config.py by `python -m sgdagan.pipeline_config`; do not edit.\n"
    return header + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)


def default_config_text() -> str:
    return commented_yaml(PipelineConfig())


def main(root: Path = Path(".")) -> int:
    for path, text in ((SCHEMA_PATH, schema_text()), (DEFAULT_CONFIG_PATH, default_config_text())):
        (root / path).write_text(text)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
