# Helpers shared by the rules: the config, the fan-out, the sample grids and the report registry.
# (Functions only: the rules live in the other .smk files.)

import os
import re

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from sgdagan.analysis import sample_grid
from sgdagan.resources import train_resources

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")


# -- config loading ------------------------------------------------------------------------------

_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_INT = re.compile(r"^[-+]?\d+$")
_BOOL = {"true": True, "false": False}


def load_schema(schema_path=SCHEMA):
    with open(schema_path) as fh:
        return yaml.safe_load(fh)


def ordered_config(cfg, schema=None):
    """A plain copy of the config with keys in the schema's order (for reports/config.yaml)."""
    schema = load_schema() if schema is None else schema
    if isinstance(cfg, dict):
        props = schema.get("properties", {})
        keys = [k for k in props if k in cfg] + [k for k in cfg if k not in props]
        return {k: ordered_config(cfg[k], props.get(k, {})) for k in keys}
    if isinstance(cfg, list):
        return [ordered_config(v, schema.get("items", {})) for v in cfg]
    return cfg


def coerce_config_strings(cfg, schema_path=SCHEMA):
    """Turn strings into the integer, number or boolean the schema wants there, in place.

    Two sources write them: YAML 1.1 (PyYAML, which Snakemake uses) reads 1e-3 without a dot as a
    string (the package's own config loader accepts it too), and `--config 'dims=[2]'` or
    `--config 'train={steps: 10}'` passes nested values as strings. Anything else is left for
    validate to reject.
    """
    schema = load_schema(schema_path)

    def coerce(text, sub):
        kinds = sub.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        text = text.strip()
        if "integer" in kinds and _INT.match(text):
            return int(text)
        if "number" in kinds and _FLOAT.match(text):
            return float(text)
        if "boolean" in kinds and text.lower() in _BOOL:
            return _BOOL[text.lower()]
        return None

    def walk(value, sub):
        if isinstance(value, dict) and "properties" in sub:
            for key, item in value.items():
                if key in sub["properties"]:
                    value[key] = walk(item, sub["properties"][key])
        elif isinstance(value, list) and "items" in sub:
            return [walk(item, sub["items"]) for item in value]
        elif isinstance(value, str):
            coerced = coerce(value, sub)
            return value if coerced is None else coerced
        return value

    walk(cfg, schema)


def validate_config(cfg, schema_path):
    """Snakemake's validate (fills defaults), with the first error as one line naming the key."""
    import jsonschema

    try:
        validate(cfg, schema_path)
    except WorkflowError as err:
        cause = err.__context__
        if not isinstance(cause, jsonschema.ValidationError):
            raise
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}"
            for part in cause.absolute_path
        ).lstrip(".")
        if cause.validator == "additionalProperties":
            extra = sorted(set(cause.instance) - set(cause.schema.get("properties", {})))
            key = ".".join(filter(None, [key, extra[0] if extra else ""]))
            message = "unknown key; allowed: " + ", ".join(cause.schema.get("properties", {}))
        else:
            message = cause.message
        raise WorkflowError(
            f"Invalid config key {key or '(top level)'}: {message} "
            "(see workflow/schemas/config.schema.yaml)"
        ) from None


# -- config checks that a JSON schema cannot express ------------------------------------------


def check_config(cfg):
    """Raise a WorkflowError naming the key for cross-field mistakes in the validated config."""
    samples = cfg["samples"]
    if not samples["tv_min"] < samples["tv_max"]:
        raise WorkflowError(
            f"config key samples.tv_min ({samples['tv_min']}) must be below "
            f"samples.tv_max ({samples['tv_max']})"
        )
    headline = cfg["report"]["headline_method"]
    if headline is not None and headline not in trained_methods(cfg):
        raise WorkflowError(
            f"config key report.headline_method: {headline!r} is not trained; "
            f"choose one of {', '.join(trained_methods(cfg))}"
        )


def trained_methods(cfg):
    """Method names the training jobs produce besides the yardstick: '{dynamics}/{discriminator}'."""
    return [
        f"{dyn}/{disc}"
        for dyn in cfg["train"]["dynamics"]
        for disc in cfg["train"]["discriminators"]
    ]


def headline_method(cfg):
    return cfg["report"]["headline_method"] or trained_methods(cfg)[0]


# -- the training fan-out -----------------------------------------------------------------------

TRAIN_DIR = "results/train/{activation}/d{dim}/s{seed}"


def train_job_resources(wildcards):
    """The memory and wall time one training job requests (config key resources.train)."""
    return train_resources(config["resources"]["train"], wildcards.activation, int(wildcards.dim))


def samples_for(dim):
    """The sample sizes trained at dimension `dim` (see config key samples)."""
    s = config["samples"]
    return sample_grid(
        int(dim),
        tv_max=s["tv_max"],
        tv_min=s["tv_min"],
        points=s["points"],
        tv_constant=s["tv_constant"],
        n_min=s["n_min"],
        fixed=s["fixed"],
    )


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
        "headline_method": headline_method(config),
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
            grid = {"lr_gen": a["lr_gen"], "lr_disc": a["lr_disc"], **a["method_grids"].get(method, {})}
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
