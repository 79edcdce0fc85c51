"""The Snakemake pipeline, run for real on a tiny config: snakemake, the package CLI, papermill,
nbconvert — no mocks. Each run happens in a fresh copy of the workflow files in a temporary
directory, the way a fresh clone would run it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sgdagan.resources import train_resources

from .workdirs import DATA, REPO, job_stats, make_workdir, tables

TINY = yaml.safe_load((DATA / "tiny.yaml").read_text())
TRAIN_TIMEOUT = 900


def snakemake_cmd(*args: str, configs=("tiny.yaml",)) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--nocolor"]
    if configs:
        cmd += ["--configfile", *configs]
    return cmd + list(args)


def snakemake(workdir: Path, *args: str, configs=("tiny.yaml",), check=True, timeout=TRAIN_TIMEOUT):
    result = subprocess.run(snakemake_cmd(*args, configs=configs), cwd=workdir, capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def planned_jobs(workdir: Path, configs=("tiny.yaml",), extra=()) -> dict[str, int]:
    """Job counts per rule from a dry run (empty when nothing is to be done)."""
    out = snakemake(workdir, "-n", *extra, configs=configs, timeout=120)
    return job_stats(out.stdout + out.stderr)


def train_outputs(workdir: Path) -> list[Path]:
    return sorted((workdir / "results/train").glob("*/d*/s*/metrics.parquet"))


N_JOBS = len(TINY["activations"]) * len(TINY["dims"]) * len(TINY["seeds"])
N_SAMPLES = len(TINY["samples"]["fixed"])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny config run once end to end; tests below only read it (or copy it)."""
    workdir = make_workdir(tmp_path_factory.mktemp("tiny") / "run")
    snakemake(workdir)
    return workdir


# -- configuration: schema, defaults, presets ----------------------------------------------------


# The keys, limits and defaults themselves: tests/test_settings.py.


@pytest.mark.parametrize("configs, train_jobs, sweep_jobs", [
    # sweeps: vanilla (activations × dims) + discriminators (activations × dims) + dynamics (methods ×
    # activations × dims) + prior_work (activations × dims) + condition (activations × dims)
    ((), 3 * 4 * 10, 2 * 1 + 2 * 1 + 8 * 1 * 1 + 2 * 3 + 2 * 1),
    (("config/cluster.yaml",), 7 * 7 * 20, 2 * 2 + 4 * 2 + 8 * 2 * 2 + 2 * 3 + 4 * 1),
    (("tiny.yaml",), N_JOBS, 0),
])
def test_presets_plan_one_train_job_per_cell(tmp_path, configs, train_jobs, sweep_jobs):
    workdir = make_workdir(tmp_path)
    jobs = planned_jobs(workdir, configs=configs)
    assert jobs["train"] == train_jobs
    assert jobs.get("sweep", 0) == sweep_jobs
    for rule in ("train_config", "aggregate", "analyze", "report_readme"):
        assert jobs[rule] == 1
    assert jobs["report_notebooks"] == (3 if sweep_jobs else 2)  # + ablations.ipynb


def test_train_resources_first_matching_override_wins():
    resources = {"mem_mb": 2000, "runtime": 30, "overrides": [
        {"activations": ["relu"], "dims": [64, 128], "runtime": 900},
        {"dims": [128], "mem_mb": 24000, "runtime": 120},
    ]}
    assert train_resources(resources, "tanh", 32) == {"mem_mb": 2000, "runtime": 30}
    assert train_resources(resources, "relu", 64) == {"mem_mb": 2000, "runtime": 900}
    assert train_resources(resources, "relu", 128) == {"mem_mb": 2000, "runtime": 900}  # the first match only
    assert train_resources(resources, "tanh", 128) == {"mem_mb": 24000, "runtime": 120}
    assert train_resources({"mem_mb": 100, "runtime": 1}, "relu", 2) == {"mem_mb": 100, "runtime": 1}


def _planned_train_resources(text: str) -> dict[tuple[str, int, int], dict[str, int]]:
    """From a dry run's job listing: (activation, dim, seed) → the mem_mb and runtime it requests."""
    planned = {}
    for block in re.split(r"^(?:local)?rule ", text, flags=re.M):
        if not block.startswith("train:"):
            continue
        fields = dict(re.findall(r"^\s*(wildcards|resources): (.*)$", block, flags=re.M))
        cell = dict(item.split("=", 1) for item in fields["wildcards"].split(", "))
        asked = dict(item.split("=", 1) for item in fields["resources"].split(", "))
        planned[(cell["activation"], int(cell["dim"]), int(cell["seed"]))] = {
            key: int(asked[key]) for key in ("mem_mb", "runtime")}
    return planned


def test_cluster_preset_jobs_request_what_its_config_gives_their_cell(tmp_path):
    """`snakemake -n` on the cluster preset: each training job's memory and wall time are the
    preset's resources.train for its cell, and its largest cells ask for more than the default."""
    workdir = make_workdir(tmp_path)
    out = snakemake(workdir, "-n", configs=("config/cluster.yaml",), timeout=120)
    planned = _planned_train_resources(out.stdout + out.stderr)
    preset = yaml.safe_load((REPO / "config/cluster.yaml").read_text())
    resources = preset["resources"]["train"]
    assert len(planned) == len(preset["activations"]) * len(preset["dims"]) * len(preset["seeds"])
    for (activation, dim, _), asked in planned.items():
        assert asked == train_resources(resources, activation, dim), (activation, dim)
    largest = planned[("relu", max(preset["dims"]), 0)]
    assert largest["mem_mb"] > resources["mem_mb"] and largest["runtime"] > resources["runtime"]


def test_lint_is_clean(tmp_path):
    workdir = make_workdir(tmp_path)
    out = snakemake(workdir, "--lint", configs=(), check=False, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Congratulations" in out.stdout + out.stderr


@pytest.mark.parametrize("bad, key", [
    ({"activations": ["relu", "swish"]}, "activations[1]"),
    ({"dims": [0, 2]}, "dims[0]"),
    ({"seeds": []}, "seeds"),
    ({"train": {"lr_gen": "fast"}}, "train.lr_gen"),
    ({"train": {"lr_disc": [0.1]}}, "train.lr_disc"),
    ({"train": {"learning_rate": 0.1}}, "train.learning_rate"),
    ({"samples": {"tv_min": 0.6, "tv_max": 0.5}}, "samples.tv_min"),
    ({"report": {"headline_method": "alt/linear"}}, "report.headline_method"),
])
def test_bad_config_stops_before_any_job(tmp_path, bad, key):
    workdir = make_workdir(tmp_path)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = snakemake(workdir, configs=("tiny.yaml", "bad.yaml"), check=False, timeout=120)
    assert out.returncode != 0
    assert key in out.stderr, out.stderr[-2000:]
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
    assert "Job stats" not in out.stdout + out.stderr


def test_numeric_strings_such_as_1e_minus_3_are_accepted(tmp_path):
    workdir = make_workdir(tmp_path)
    (workdir / "sci.yaml").write_text("train:\n  lr_gen: 1e-3\n")  # YAML 1.1 reads this as a string
    assert planned_jobs(workdir, configs=("tiny.yaml", "sci.yaml"))["train"] == N_JOBS


@pytest.mark.parametrize("overrides, train_jobs", [
    (["dims=[2]"], len(TINY["activations"]) * len(TINY["seeds"])),
    (["seeds=[0]", "dims=[2, 3]"], len(TINY["activations"]) * 2),
    (["train={steps: 10, latent_stats: false, lr_gen: 0.5}"], N_JOBS),
])
def test_command_line_config_sets_integer_and_boolean_keys(tmp_path, overrides, train_jobs):
    # Snakemake passes the items of --config lists and mappings as strings.
    workdir = make_workdir(tmp_path)
    assert planned_jobs(workdir, extra=("--config", *overrides))["train"] == train_jobs


# -- end to end ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_end_to_end_tables(tiny_run):
    t = {name: pd.read_csv(tiny_run / "reports/tables" / f"{name}.csv") for name in
         ("exponents", "n_eps", "efficiency", "status", "tv_vs_n", "diverged", "reference")}
    metrics = pd.read_parquet(tiny_run / "results/metrics.parquet")
    # the trained method and the yardstick everywhere; the package may add baselines (e.g. wds for relu)
    pairs = set(zip(metrics["activation"], metrics["method"]))
    assert {(a, m) for a in TINY["activations"] for m in ("sgda/truncated", "moment_inversion")} <= pairs
    assert list(t["exponents"].columns) == ["activation", "method", "alpha", "alpha_lo", "alpha_hi",
                                            "beta", "beta_lo", "beta_hi"]
    assert set(zip(t["exponents"]["activation"], t["exponents"]["method"])) == pairs
    ne = t["n_eps"]
    assert len(ne) == len(pairs) * len(TINY["dims"]) * len(TINY["analysis"]["epsilons"])
    assert set(ne["censored"]) <= {"ok", "above_grid", "below_grid", "no_data"}
    assert ne.loc[ne["censored"] == "ok", "n_eps"].between(min(TINY["samples"]["fixed"]),
                                                           max(TINY["samples"]["fixed"])).all()
    assert (ne["censored"] == "ok").any()
    st = t["status"]
    assert st["games"].sum() == len(TINY["seeds"]) * len(TINY["dims"]) * N_SAMPLES * len(pairs)
    eff = t["efficiency"]
    assert "moment_inversion" not in set(eff["method"]) and "sgda/truncated" in set(eff["method"])
    assert len(eff) == (len(pairs) - len(TINY["activations"])) * len(TINY["dims"]) * N_SAMPLES
    tv = t["tv_vs_n"]
    assert tv["tv_median"].between(0, 1).all() and (tv["seeds"] == len(TINY["seeds"])).all()
    assert set(t["reference"]["activation"]) == set(TINY["activations"])

    csv = pd.read_csv(tiny_run / "results/metrics.csv")
    assert len(metrics) == len(csv) > 0
    assert metrics["final"].sum() == st["games"].sum()


@pytest.mark.slow
def test_end_to_end_report_files(tiny_run):
    import nbformat

    reports = tiny_run / "reports"
    figures = {"training": ["tv_vs_step"], "sample_complexity": ["tv_vs_n", "n_eps_vs_d", "efficiency"]}
    for notebook, names in figures.items():
        nb = nbformat.read(reports / f"{notebook}.ipynb", as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert any("injected-parameters" in t for t in tags), "papermill did not inject parameters"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors
        images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if "image/png" in o.get("data", {})]
        assert len(images) >= len(names)
        html = (reports / f"{notebook}.html").read_text()
        assert "<html" in html and "data:image/png;base64" in html
        for name in names:
            for ext in ("png", "svg"):
                assert (reports / "figures" / notebook / f"{name}.{ext}").stat().st_size > 1000

    readme = (reports / "README.md").read_text()
    for heading in ("## Sample complexity exponents", "## Statistical efficiency", "## Main figure",
                    "## Diverged games", "## Configuration", "## Provenance"):
        assert heading in readme
    assert "(figures/sample_complexity/tv_vs_n.png)" in readme
    assert "None of the" in readme and "diverged" in readme
    assert yaml.safe_load((reports / "config.yaml").read_text())["dims"] == TINY["dims"]
    provenance = json.loads((reports / "provenance.json").read_text())
    assert provenance["jobs"] == N_JOBS and provenance["fields"]["versions"]
    assert len(provenance["benchmarks"]) == N_JOBS

    # every train job has its log and benchmark
    assert len(list((tiny_run / "logs/train").glob("*/d*/s*.log"))) == N_JOBS
    assert len(list((tiny_run / "results/benchmarks/train").glob("*/d*/s*.tsv"))) == N_JOBS

    # up to date: a second invocation has nothing to do
    assert planned_jobs(tiny_run) == {}


@pytest.mark.slow
def test_snakemake_report(tiny_run, tmp_path):
    out = tmp_path / "report.html"
    snakemake(tiny_run, "--report", str(out), timeout=300)
    text = out.read_text(errors="replace")
    assert out.stat().st_size > 10000
    for name in ("tv_vs_n.png", "n_eps_vs_d.png", "tv_vs_step.png", "exponents.csv"):
        assert name in text


@pytest.mark.slow
def test_notebooks_run_on_their_own(tiny_run, tmp_path):
    """papermill with the notebooks' own default parameters, started from workflow/notebooks/."""
    copy = tmp_path / "standalone"
    for name in ("results", "reports", "workflow", "Snakefile"):
        src = tiny_run / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, copy / name)
    for figure_dir in (copy / "reports/figures").iterdir():
        shutil.rmtree(figure_dir)
    for notebook in ("training", "sample_complexity"):
        out = tmp_path / f"{notebook}.ipynb"
        subprocess.run(["papermill", f"{notebook}.ipynb", str(out), "--kernel", "python3", "--no-progress-bar"],
                       cwd=copy / "workflow/notebooks", check=True, capture_output=True, timeout=300)
        assert list((copy / "reports/figures" / notebook).glob("*.png"))


@pytest.mark.slow
def test_same_config_twice_gives_identical_tables(tiny_run, tmp_path):
    again = make_workdir(tmp_path / "again")
    # What a run of another config (the default, with its ablations) left behind: removed on success.
    stale = ["tables/dynamics.csv", "ablations.html", "ablations.ipynb", "figures/ablations/dynamics.png",
             "figures/sample_complexity/old_figure.svg"]
    for path in [*stale, "notes.txt"]:
        (again / "reports" / path).parent.mkdir(parents=True, exist_ok=True)
        (again / "reports" / path).write_text("stale")
    snakemake(again)
    assert not [path for path in stale if (again / "reports" / path).exists()]
    assert not (again / "reports/figures/ablations").exists() and (again / "reports/notes.txt").exists()
    first, second = tables(tiny_run), tables(again)
    assert first.keys() == second.keys() and len(first) >= 9
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs of the same config"
    a = pd.read_parquet(tiny_run / "results/metrics.parquet").drop(columns="wall_s")
    b = pd.read_parquet(again / "results/metrics.parquet").drop(columns="wall_s")
    pd.testing.assert_frame_equal(a, b)


def _marked_incomplete(workdir: Path) -> set[Path]:
    """Outputs Snakemake still marks incomplete (jobs it had not recorded as finished)."""
    import base64

    marks = (workdir / ".snakemake/incomplete").glob("*")
    return {workdir / base64.b64decode(m.name).decode() for m in marks if m.is_file()}


def _start_and_kill(workdir: Path, sig: int) -> list[Path]:
    """Start the pipeline, wait until some (not all) train jobs are done, then send `sig`."""
    log = workdir / "interrupted.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(snakemake_cmd(), cwd=workdir, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + TRAIN_TIMEOUT
        # wait for a job that Snakemake has recorded as finished (output present, mark cleared)
        while not set(train_outputs(workdir)) - _marked_incomplete(workdir):
            assert proc.poll() is None, f"pipeline ended before it could be interrupted:\n{log.read_text()[-3000:]}"
            assert time.time() < deadline
            time.sleep(0.1)
        done = train_outputs(workdir)
        assert len(done) < N_JOBS, "too fast to interrupt mid-training"
        os.killpg(proc.pid, sig)  # the whole process group, as a terminal's Ctrl-C does
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return done


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_killed_run_resumes_with_only_missing_jobs(tiny_run, tmp_path, sig):
    """Ctrl-C (SIGINT to the process group): Snakemake stops its jobs and exits. SIGKILL of
    everything (power cut, OOM killer): the lock stays behind, so `--unlock` comes first. Then
    the same command with `--rerun-incomplete` runs the missing jobs, plus any whose outputs
    Snakemake had not yet recorded as complete when it was stopped; the jobs it had recorded are
    not rerun, whatever exists is readable, and the result equals an uninterrupted run's."""
    workdir = make_workdir(tmp_path / "killed")
    done = _start_and_kill(workdir, sig)
    if sig == signal.SIGKILL:
        snakemake(workdir, "--unlock", timeout=120)
    survivors = train_outputs(workdir)
    assert set(done) <= set(survivors)
    for path in survivors:  # whatever exists is complete and readable
        assert len(pd.read_parquet(path)) > 0
        assert (path.parent / "provenance.json").exists() and (path.parent / "sigma.npz").exists()
    finished = sorted(set(survivors) - _marked_incomplete(workdir))
    assert finished, "no job was recorded as finished before the kill"
    mtimes = {p: p.stat().st_mtime_ns for p in finished}

    # Jobs still running when `sig` landed may have finished first: then none is left to plan.
    plan = planned_jobs(workdir, extra=("--rerun-incomplete",))
    assert plan.get("train", 0) == N_JOBS - len(finished)

    snakemake(workdir, "--rerun-incomplete")
    assert len(train_outputs(workdir)) == N_JOBS
    assert {p: p.stat().st_mtime_ns for p in finished} == mtimes, "finished jobs were rerun"
    assert tables(workdir) == tables(tiny_run), "resumed run differs from an uninterrupted one"
    assert planned_jobs(workdir) == {}


@pytest.mark.slow
def test_diverged_games_are_reported_and_the_pipeline_completes(tmp_path):
    workdir = make_workdir(tmp_path / "diverged")
    (workdir / "diverge.yaml").write_text(yaml.safe_dump({
        "activations": ["tanh"], "dims": [2, 3], "seeds": [0, 1],
        "train": {"lr_gen": 1.0e4, "lr_schedule": "constant", "discriminators": ["truncated"]},
    }))
    snakemake(workdir, configs=("tiny.yaml", "diverge.yaml"))
    status = pd.read_csv(workdir / "reports/tables/status.csv").set_index("method")
    sgda = status.loc[["sgda/truncated"]]
    assert (sgda["diverged"] == sgda["games"]).all() and sgda["games"].sum() == 2 * 2 * N_SAMPLES
    assert (status.loc[["moment_inversion"], "diverged"] == 0).all()
    diverged = pd.read_csv(workdir / "reports/tables/diverged.csv")
    assert len(diverged) == 2 * 2 * N_SAMPLES and set(diverged["method"]) == {"sgda/truncated"}
    tv = pd.read_csv(workdir / "reports/tables/tv_vs_n.csv")
    assert (tv.loc[tv["method"] == "sgda/truncated", "tv_median"] == 1.0).all()
    readme = (workdir / "reports/README.md").read_text()
    assert f"{2 * 2 * N_SAMPLES} of {2 * 2 * N_SAMPLES * 2} games diverged" in readme
    assert (workdir / "reports/sample_complexity.html").exists()


@pytest.mark.slow
def test_damaged_or_lost_results_are_rebuilt_by_the_next_plain_run(tiny_run, tmp_path):
    """A result truncated in place (its old timestamp kept), one deleted, a table emptied: the next
    plain run rebuilds each with everything downstream, instead of "Nothing to be done"."""
    workdir = tmp_path / "damaged"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    assert planned_jobs(workdir) == {}
    cell = train_outputs(workdir)[0]
    stamp = cell.stat().st_mtime_ns
    with open(cell, "r+b") as fh:
        fh.truncate(cell.stat().st_size // 2)
    os.utime(cell, ns=(stamp, stamp))
    plan = planned_jobs(workdir)
    assert plan["train"] == 1 and plan["aggregate"] == plan["analyze"] == plan["report_readme"] == 1

    shutil.rmtree(train_outputs(workdir)[-1].parent)  # a whole cell lost as well
    (workdir / "reports/tables/efficiency.csv").write_text("")
    plan = planned_jobs(workdir)
    assert plan["train"] == 2 and plan["analyze"] == 1
    snakemake(workdir)
    assert planned_jobs(workdir) == {}  # rebuilt once; the next run has nothing to do
    assert tables(workdir) == tables(tiny_run)
    rebuilt, original = (pd.read_parquet(path).drop(columns="wall_s") for path in (cell, tiny_run / cell.relative_to(workdir)))
    pd.testing.assert_frame_equal(rebuilt, original)


@pytest.mark.slow
def test_a_second_run_in_the_same_directory_stops_at_once_naming_the_first(tmp_path):
    workdir = make_workdir(tmp_path / "busy")
    with open(workdir / "first.log", "w") as log:
        first = subprocess.Popen(snakemake_cmd(), cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not list((workdir / "results/train").glob("*/d*/s*")) and time.monotonic() < deadline:
            time.sleep(0.1)  # the first run's training jobs have started
        second = snakemake(workdir, check=False, timeout=120)
        assert first.poll() is None, "the first run ended before the second started"
    finally:
        assert first.wait(timeout=TRAIN_TIMEOUT) == 0, (workdir / "first.log").read_text()[-3000:]
    assert second.returncode != 0
    assert f"another Snakemake run (pid {first.pid}" in second.stderr, second.stderr[-2000:]
    assert "Incomplete" not in second.stdout + second.stderr
    assert planned_jobs(workdir) == {}  # the first run finished untouched; the lock went with it
