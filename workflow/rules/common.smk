# Helpers shared by the rules: the config, the fan-out, the sample grids and the report registry.
# (Functions only: the rules live in the other .smk files.)

import fcntl
import json
import os
import shutil
import sys
import time
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from sgdagan import experiments, integrity
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
TRAIN_OUTPUTS = {"metrics": f"{TRAIN_DIR}/metrics.parquet", "sigma": f"{TRAIN_DIR}/sigma.npz",
                 "provenance": f"{TRAIN_DIR}/provenance.json"}
AGGREGATE_OUTPUTS = {"parquet": "results/metrics.parquet", "csv": "results/metrics.csv",
                     "provenance": "results/provenance.json"}


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


# -- experiments, tables and notebooks (the registry: sgdagan.experiments) ------------------------

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
        params["experiments"] = ",".join(e.name for e in experiments.enabled_ablations(config))
    return " ".join(f"-p {k} {v}" for k, v in params.items())


def remove_stale_reports():
    """After a successful run: delete what a run of another config left in reports/ (its tables,
    notebooks, figures), so that reports/ holds exactly this config's outputs."""
    present = [str(p.relative_to("reports")) for p in Path("reports").rglob("*") if p.is_file()]
    for path in experiments.stale_reports(config, present):
        Path("reports", path).unlink()
        logger.info(f"removed reports/{path}: not produced by this configuration")
    for folder in Path("reports/figures").glob("*/"):
        if folder.is_dir() and not any(p.suffix in (".png", ".svg") for p in folder.iterdir()):
            shutil.rmtree(folder)


def pipeline_results():
    """Every file under results/ and reports/tables/ this config's jobs write."""
    files = ["results/train_config.yaml", *AGGREGATE_OUTPUTS.values()]
    for pattern in TRAIN_OUTPUTS.values():
        files += train_cells(pattern)
    for experiment, _, _ in SETTINGS.enabled_sweeps():
        files += sweep_outputs(experiment) + sweep_outputs(experiment, SWEEP_PROVENANCE)
        files += [SWEEP_SPEC.format(experiment=experiment, group=group) for group in sweep_groups(experiment)]
    return files + [f"reports/tables/{name}.csv" for name in experiments.tables(config)]


RUN_LOCK = ".snakemake/sgdagan-run.lock"
DRY_RUN_FLAGS = {"-n", "--dry-run", "--dryrun"}


def hold_run_lock():
    """An exclusive lock on this directory for this run's lifetime, taken before any job is planned:
    a second run here stops at once, saying so (Snakemake's own lock comes after its check for
    incomplete files, which blames the first run's files in progress). The OS drops the lock with
    the process, so a killed run leaves none behind. Dry runs and a job's own process do not lock."""
    if workflow.remote_exec or workflow.subprocess_exec or DRY_RUN_FLAGS & set(sys.argv):
        return None
    Path(RUN_LOCK).parent.mkdir(exist_ok=True)
    handle = open(RUN_LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        raise WorkflowError(f"another Snakemake run ({handle.read().strip() or 'pid unknown'}) is working in this "
                            "directory: wait for it to finish (two runs here would write the same files)") from None
    except OSError:
        return handle  # a filesystem without flock: Snakemake's own lock still applies
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle


REBUILDS = "results/rebuilds.json"


def count_damaged_results():
    """{path: times found damaged}: after this call, every result under results/ or reports/tables/
    that is truncated or unreadable, or (once a run has kept results here) deleted, counts once more, in
    results/rebuilds.json. Each job has the count of its files as a param (`rebuilds`): a new count
    reruns it, and everything downstream with it, where Snakemake alone would keep the file (an old
    timestamp) or skip it (what reads it looks up to date)."""
    counts = json.loads(Path(REBUILDS).read_text()) if integrity.is_whole(REBUILDS) else {}
    if workflow.remote_exec or workflow.subprocess_exec:
        return counts  # a job's own process (e.g. on a Slurm node): the main one has counted
    results_kept = Path("results").is_dir() and any(Path("results").iterdir())  # by an earlier run here
    found = integrity.damaged(pipeline_results(), count_missing=results_kept)
    if found:
        logger.warning(f"rebuilding {len(found)} missing or damaged results: {', '.join(found[:5])}"
                       + (", ..." if len(found) > 5 else ""))
        for path in found:
            counts[path] = counts.get(path, 0) + 1
        Path(REBUILDS).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{REBUILDS}.tmp").write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")
        os.replace(f"{REBUILDS}.tmp", REBUILDS)
    return counts


def rebuilds(*patterns):
    """A job's param `rebuilds`: how often the files `patterns` name (its inputs that may be lost and
    its outputs, formatted with its wildcards) were found damaged. A function of the wildcards alone,
    as Snakemake records and compares only those (not functions of input or output)."""
    def count(wildcards):
        paths = [path for pattern in patterns for path in ([pattern] if isinstance(pattern, str) else pattern)]
        return sum(REBUILD_COUNTS.get(path.format(**dict(wildcards.items())), 0) for path in paths)
    return count


# -- ablations trained as sweeps -----------------------------------------------------------------

SWEEP_EXPERIMENTS = [name for name, e in experiments.ABLATIONS.items() if e.is_sweep]
SWEEP_DIR = "results/ablations/{experiment}/{group}"
SWEEP_METRICS = f"{SWEEP_DIR}/{{activation}}/d{{dim}}/metrics.parquet"
SWEEP_PROVENANCE = f"{SWEEP_DIR}/{{activation}}/d{{dim}}/provenance.json"
SWEEP_SPEC = f"{SWEEP_DIR}/spec.yaml"


def ablation_settings(experiment):
    """The experiment's config section (its dataclass)."""
    return getattr(SETTINGS.ablations, experiment)


def sweep_groups(experiment):
    """{group: {variant name: settings}}: one sweep job per group (and activation, dim)."""
    return experiments.ABLATIONS[experiment].variant_groups(ablation_settings(experiment))


def sweep_spec_yaml(experiment, group):
    """The --spec YAML of `python -m sgdagan sweep` (keys sorted: stable bytes)."""
    spec = {
        "train": {**config["train"], **config["ablations"][experiment]["train"]},
        "variants": sweep_groups(experiment)[group],
    }
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=None, allow_unicode=True)


def sweep_outputs(experiment, pattern=SWEEP_METRICS):
    """Every sweep job's metrics (or another of its outputs) of `experiment`, in a fixed order."""
    section = ablation_settings(experiment)
    return expand(
        pattern,
        experiment=experiment,
        group=list(sweep_groups(experiment)),
        activation=section.activations,
        dim=section.dims,
    )
