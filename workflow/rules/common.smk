# Helpers shared by the rules: the config, the fan-out, the sample grids and the report registry.
# (Functions only: the rules live in the other .smk files.)

import os

import yaml
from snakemake.exceptions import WorkflowError

from sgdagan.pipeline_config import load as load_pipeline_config
from sgdagan.resources import train_resources
from sgdagan.settings import ConfigError, to_plain


# -- config loading ------------------------------------------------------------------------------


def load_config(cfg):
    """The validated config (sgdagan.pipeline_config.PipelineConfig); `cfg`, Snakemake's merged
    config, is rewritten in place to its plain form: every default filled, in declaration order,
    strings such as 1e-3 or --config 'dims=[2]''s items read as the numbers their keys take."""
    try:
        settings = load_pipeline_config(cfg)
    except ConfigError as err:
        raise WorkflowError(f"Invalid config key {err} (see workflow/schemas/config.schema.yaml)") from None
    cfg.clear()
    cfg.update(to_plain(settings))
    return settings


# -- the training fan-out -----------------------------------------------------------------------

TRAIN_DIR = "results/train/{activation}/d{dim}/s{seed}"


def train_job_resources(wildcards):
    """The memory and wall time one training job requests (config key resources.train)."""
    return train_resources(config["resources"]["train"], wildcards.activation, int(wildcards.dim))


def samples_for(dim):
    """The sample sizes trained at dimension `dim` (see config key samples)."""
    return SETTINGS.samples.grid(int(dim))


def train_cells(pattern):
    """`pattern` formatted for every (activation, dim, seed) cell of the config, in a fixed order."""
    return expand(
        pattern,
        activation=config["activations"],
        dim=config["dims"],
        seed=config["seeds"],
    )


def train_yaml(cfg):
    """The --config YAML handed to `python -m sgdagan train` (keys sorted: stable bytes)."""
    return yaml.safe_dump(dict(cfg["train"]), sort_keys=True, default_flow_style=None)


# -- analysis tables and report items -------------------------------------------------------------

TABLES = [
    "exponents",
    "exponents_detail",
    "n_eps",
    "efficiency",
    "efficiency_summary",
    "tv_vs_n",
    "reference",
    "status",
    "diverged",
]

# Each notebook: its figures (reports/figures/{notebook}/{figure}.png and .svg) and its inputs.
# A later experiment adds a rule fan-out, its tables and an entry here.
NOTEBOOKS = {
    "training": {
        "title": "Does SGDA reach the target? TV against training step",
        "figures": ["tv_vs_step"],
        "inputs": ["results/metrics.parquet", "reports/tables/tv_vs_n.csv"],
    },
    "sample_complexity": {
        "title": "Sample complexity: TV against n, n_eps against d, fitted exponents, efficiency",
        "figures": ["tv_vs_n", "n_eps_vs_d", "efficiency"],
        "inputs": [f"reports/tables/{t}.csv" for t in TABLES],
    },
}

MAIN_FIGURE = "reports/figures/sample_complexity/tv_vs_n.png"


def notebook_inputs(wildcards):
    return NOTEBOOKS[wildcards.notebook]["inputs"]


def notebook_parameters(wildcards, output):
    """papermill -p flags: where to read and write, and which methods (and ablations) to show."""
    params = {
        "metrics": "results/metrics.parquet",
        "tables_dir": "reports/tables",
        "figures_dir": output.figures,
        "yardstick": config["analysis"]["yardstick"],
        "headline_method": SETTINGS.headline_method(),
    }
    if wildcards.notebook == "ablations":
        params["experiments"] = ",".join(enabled_ablations(config))
    return " ".join(f"-p {k} {v}" for k, v in params.items())


# -- ablations: the related papers' experiments (config key ablations) -----------------------------

SWEEP_EXPERIMENTS = ["discriminators", "dynamics", "prior_work", "condition"]  # trained by rule sweep
SWEEP_DIR = "results/ablations/{experiment}/{group}"
SWEEP_METRICS = f"{SWEEP_DIR}/{{activation}}/d{{dim}}/metrics.parquet"


def enabled_ablations(cfg):
    return [name for name, settings in cfg["ablations"].items() if settings["enabled"]]


def sweep_groups(experiment):
    """{group: {variant name: settings}}: one sweep job per group (and activation, dim)."""
    a = config["ablations"][experiment]
    if experiment == "discriminators":
        return {"families": dict(a["families"])}
    if experiment == "dynamics":
        groups = {}
        for method in a["methods"]:
            grid = SETTINGS.ablations.dynamics.step_size_grid(method)
            groups[method] = {
                f"{method} lr_gen={g:g} lr_disc={d:g}": {"dynamics": [method], "lr_gen": g, "lr_disc": d}
                for g in grid["lr_gen"]
                for d in grid["lr_disc"]
            }
        return groups
    if experiment == "prior_work":
        return {"lei": {"lei": {}}}
    if experiment == "condition":
        return {"kappas": {f"kappa={k:g}": {"kappa": k} for k in a["kappas"]}}
    raise WorkflowError(f"unknown sweep experiment {experiment!r}")


def sweep_spec_yaml(experiment, group):
    """The --spec YAML of `python -m sgdagan sweep` (keys sorted: stable bytes)."""
    spec = {
        "train": {**config["train"], **config["ablations"][experiment]["train"]},
        "variants": sweep_groups(experiment)[group],
    }
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=None, allow_unicode=True)


def sweep_outputs(experiment):
    """Every sweep job's metrics of `experiment`, in a fixed order."""
    a = config["ablations"][experiment]
    return expand(
        SWEEP_METRICS,
        experiment=experiment,
        group=list(sweep_groups(experiment)),
        activation=a["activations"],
        dim=a["dims"],
    )


def ablation_tables(cfg):
    """The tables of the enabled ablations, as reports/tables/{name}.csv names."""
    names = []
    for experiment in enabled_ablations(cfg):
        names += ["bilinear", "bilinear_boundaries"] if experiment == "bilinear" else [experiment, f"{experiment}_steps"]
    return names


def register_ablations(cfg):
    """Add the ablations notebook to the report when any ablation is enabled."""
    tables = ablation_tables(cfg)
    if tables:
        NOTEBOOKS["ablations"] = {
            "title": "Ablations: discriminator families, game dynamics, prior work, condition number",
            "figures": enabled_ablations(cfg),  # one figure per enabled experiment, named after it
            "inputs": [f"reports/tables/{t}.csv" for t in tables],
        }
