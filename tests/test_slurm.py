"""The pipeline on a real Slurm cluster, through the users' profile (slurm/config.yaml).

tests/slurm/cluster.sh starts a single-node cluster on this machine from Debian's packages
(slurmctld, slurmd, munge; see tests/slurm/README.md); snakemake then runs the tiny config
with `--profile slurm` plus an overlay that changes only the cluster-specific values
(partition, GPU model) and the plugin's first status check. Nothing is mocked: real
sbatch, srun, squeue, scancel.

Each run happens in a fresh copy of the workflow in a temporary directory, as in
tests/test_pipeline.py. The reference is a local run of the same config (module fixture
`local_run`), started in the background so that it overlaps the first Slurm run.

Snakemake is only ever stopped with SIGINT (it then scancels its jobs and exits within
seconds; SIGTERM would make it wait for them).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sgdagan.experiments import MAIN

from .slurm_fixtures import (
    CLUSTER_SH,
    CLUSTER_SPECIFIC,
    SLURM_CONF,
    USER_PROFILE,
    SlurmCluster,
    leftover_pids,
    popen_snakemake,
    skip_reason,
)
from .workdirs import DATA, REPO, job_stats, make_workdir, tables

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

TINY = yaml.safe_load((DATA / "tiny.yaml").read_text())
CELLS = {(a, d, s) for a in TINY["activations"] for d in TINY["dims"] for s in TINY["seeds"]}
N_TABLES = len(MAIN.tables)  # the main experiment's tables (the tiny config runs no ablation)
RUN_TIMEOUT = 600  # seconds for one snakemake run (the tiny config takes ~2 min here)
# The plugin's job comment: rule_<rule>_wildcards_<activation>_<dim>_<seed>
TRAIN_COMMENT = re.compile(r"^rule_train_wildcards_([a-z_]+)_(\d+)_(\d+)$")


# -- helpers ---------------------------------------------------------------------------------------


class SnakemakeRun:
    """snakemake started in the background (popen_snakemake: SIGINT works), its output in
    `log`. With a cluster, the Slurm job records of this working directory are collected
    while it runs (scontrol forgets finished jobs after MinJobAge)."""

    def __init__(self, workdir: Path, args: list[str], log_name: str,
                 cluster: SlurmCluster | None = None):
        self.workdir = workdir
        self.log = workdir / log_name
        self.cluster = cluster
        self.jobs: dict[str, dict[str, str]] = {}  # JobId -> last record seen
        self.t0 = time.monotonic()
        self.seconds: float | None = None
        self.proc = popen_snakemake(["--nocolor", *args], workdir, self.log)

    def poll_jobs(self) -> None:
        if self.cluster is None:
            return
        here = os.path.realpath(self.workdir)
        for job in self.cluster.jobs():
            if os.path.realpath(job.get("WorkDir", "")) == here:
                self.jobs[job["JobId"]] = job

    def wait(self, timeout: float = RUN_TIMEOUT, on_tick=None, interval: float = 1.0) -> int:
        """Wait for snakemake to exit; on timeout interrupt it and fail."""
        deadline = self.t0 + timeout
        while self.proc.poll() is None:
            self.poll_jobs()
            if on_tick is not None:
                on_tick(self)
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"snakemake still running after {timeout} s:\n{self.tail()}")
            time.sleep(interval)
        self.poll_jobs()
        if self.seconds is None:
            self.seconds = time.monotonic() - self.t0
        return self.proc.returncode

    def check(self, timeout: float = RUN_TIMEOUT) -> "SnakemakeRun":
        rc = self.wait(timeout)
        assert rc == 0, f"snakemake failed ({rc}):\n{self.tail()}"
        return self

    def stop(self) -> None:
        """SIGINT (snakemake scancels its jobs), SIGKILL only as a last resort."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 6000) -> str:
        return self.text()[-chars:]

    def train_jobs(self) -> dict[str, dict[str, str]]:
        return {i: j for i, j in self.jobs.items() if j.get("Comment", "").startswith("rule_train")}


def cell_of(job: dict[str, str]) -> tuple[str, int, int] | None:
    m = TRAIN_COMMENT.match(job.get("Comment", ""))
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


def cell_dir(workdir: Path, cell) -> Path:
    activation, dim, seed = cell
    return workdir / f"results/train/{activation}/d{dim}/s{seed}"


def cell_metrics(workdir: Path, cell) -> pd.DataFrame:
    return pd.read_parquet(cell_dir(workdir, cell) / "metrics.parquet").drop(
        columns="wall_s", errors="ignore")


def assert_same_results(workdir: Path, reference: Path, cells=CELLS) -> None:
    """Every cell's metrics.parquet readable and equal to the reference run's (wall time
    aside), no checkpoint or incomplete-output mark left behind."""
    for cell in sorted(cells):
        pd.testing.assert_frame_equal(cell_metrics(workdir, cell), cell_metrics(reference, cell),
                                      obj=f"metrics of {cell}")
    assert not list((workdir / "results/train").glob("**/checkpoint.pt"))
    assert not [p for p in (workdir / ".snakemake/incomplete").glob("*") if p.is_file()]


def assert_same_tables(workdir: Path, reference: Path) -> None:
    got, want = tables(workdir), tables(reference)
    assert len(want) == N_TABLES and got.keys() == want.keys()
    for name in want:
        assert got[name] == want[name], f"reports/tables/{name} differs from the local run's"


def gpu_request(job: dict[str, str], gpu_type: str) -> bool:
    """--gpus=<type>:1 as slurmctld records it (22.05: gres:gpu:<type>:1; later gres/gpu:<type>=1)."""
    tres = job.get("TresPerJob", "")
    return bool(re.search(rf"gres[:/]gpu:{re.escape(gpu_type)}[:=]1(,|$)", tres))


def slurm_args(profile_args: list[str], *extra: str) -> list[str]:
    """The users' command, `snakemake --cores all --profile slurm`, plus the test overlay.
    (--configfile last: it takes every following word, targets included.)"""
    return ["--cores", "all", *profile_args, *extra, "--configfile", "tiny.yaml"]


def canceller(workdir: Path, victim: dict):
    """An on_tick callback for SnakemakeRun.wait: scancel the first train job that Slurm
    reports RUNNING and whose training is under way (the trainer's first log line is
    there), once; record it in `victim`."""

    too_late: set[str] = set()  # finished between our look and scancel

    def tick(run: SnakemakeRun) -> None:
        if victim:
            return
        for jobid, job in sorted(run.train_jobs().items(), key=lambda kv: int(kv[0])):
            cell = cell_of(job)
            log = workdir / f"logs/train/{cell[0]}/d{cell[1]}/s{cell[2]}.log"
            if jobid in too_late or job["JobState"] != "RUNNING" or not log.exists():
                continue
            text = log.read_text(errors="replace")
            if "sgdagan.trainer: training" in text:
                if subprocess.run(["scancel", jobid], capture_output=True, timeout=30).returncode:
                    too_late.add(jobid)
                    continue
                victim.update(jobid=jobid, cell=cell, log=text, at=time.monotonic() - run.t0)
                return

    return tick


def report_timing(what: str, seconds: float) -> None:
    print(f"[timing] {what}: {seconds:.1f} s", file=sys.stderr)


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The tiny config run locally (`snakemake --cores all`), started in the background at
    first use; `local_run.check()` waits for it. The reference for every table comparison."""
    workdir = make_workdir(tmp_path_factory.mktemp("local") / "run")
    run = SnakemakeRun(workdir, ["--cores", "all", "--configfile", "tiny.yaml"], "local.log")
    yield run
    run.stop()


# -- tests -----------------------------------------------------------------------------------------


def test_cluster_is_stopped_when_a_test_fails(tmp_path):
    """The `slurm_cluster` fixture in a pytest session whose only test fails with a GPU job
    still running: afterwards no daemon or job process of the cluster is left and its
    config is gone. (Runs first: it needs the cluster not to be up yet.)"""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    state_dir = Path(os.environ.get("SGDAGAN_SLURM_STATE", "/tmp/sgdagan-slurm"))
    if leftover_pids(state_dir) or SLURM_CONF.exists():
        pytest.skip("the test cluster is already up (this check must run before the other "
                    "Slurm tests, and alone)")
    inner = tmp_path / "test_inner.py"
    inner.write_text(textwrap.dedent("""
        import subprocess, time

        def test_fails_while_a_job_runs(slurm_cluster):
            job = subprocess.run(["sbatch", "--parsable", "--gpus=1", "--time=5",
                                  "--output=/dev/null", "--wrap", "sleep 300"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(300):
                state = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"],
                                       capture_output=True, text=True).stdout.strip()
                if state == "RUNNING":
                    break
                time.sleep(0.1)
            assert state == "RUNNING"
            assert False, "deliberate failure with job " + job + " running"
    """))
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.slurm_fixtures",
                          str(inner)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    report_timing("inner session: cluster up, failing test, cluster down", time.monotonic() - t0)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text  # the test failed ...
    assert "deliberate failure with job" in text and "1 failed" in text, text
    assert "error" not in text.splitlines()[-1], text  # ... and the teardown did not
    assert leftover_pids(state_dir) == []
    assert not SLURM_CONF.exists()
    status = subprocess.run([str(CLUSTER_SH), "status"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert status.returncode != 0, status.stdout
    assert re.findall(r"^(\w+): stopped$", status.stdout, re.M) == ["munged", "slurmctld", "slurmd"]


def test_tiny_config_through_the_users_profile(slurm_cluster, slurm_profile_args, local_run, tmp_path):
    """`snakemake --cores all --profile slurm` (+ overlay) on the tiny config: one Slurm job
    with the profile's GPU request per training cell, nothing else submitted, and the same
    report tables as the local run."""
    # The overlay changes only the cluster-specific values (and the first status check).
    users = yaml.safe_load((USER_PROFILE / "config.yaml").read_text())
    overlay = yaml.safe_load((Path(slurm_profile_args[3]) / "config.yaml").read_text())
    assert slurm_profile_args[:2] == ["--profile", str(USER_PROFILE)]
    assert set(overlay) == {"default-resources", "set-resources",
                            "slurm-init-seconds-before-status-checks"}
    for section, rule, key in CLUSTER_SPECIFIC:
        (overlay[section] if rule is None else overlay[section][rule]).pop(key)
        (users[section] if rule is None else users[section][rule]).pop(key)
    assert overlay["default-resources"] == users["default-resources"]
    assert overlay["set-resources"] == users["set-resources"]
    assert users["set-resources"]["train"]["gpu"] == 1

    workdir = make_workdir(tmp_path / "slurm")
    run = SnakemakeRun(workdir, slurm_args(slurm_profile_args), "slurm.log", cluster=slurm_cluster)
    try:
        run.check()
    finally:
        run.stop()
    report_timing("tiny config through Slurm (concurrent with the local run)", run.seconds)
    text = run.text()
    assert job_stats(text)["train"] == len(CELLS)

    # Every job of this run is a train job (the rest are localrules), one per cell, each
    # COMPLETED, with the GPU request and the test partition.
    assert run.jobs, f"no Slurm job of {workdir} seen by scontrol:\n{run.tail()}"
    assert run.train_jobs() == run.jobs, sorted(j.get("Comment") for j in run.jobs.values())
    cells = [cell_of(j) for j in run.jobs.values()]
    assert sorted(cells) == sorted(CELLS)
    for job in run.jobs.values():
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
        assert gpu_request(job, slurm_cluster.gpu_type), job
        assert job["Partition"] == slurm_cluster.partition, job
    for jobid in run.jobs:  # the plugin's record of the submission
        assert f"has been submitted with SLURM jobid {jobid} " in text

    local_run.check()
    report_timing("tiny config locally (concurrent with the Slurm run)", local_run.seconds)
    assert (workdir / "reports/README.md").exists()
    assert_same_tables(workdir, local_run.workdir)
    assert_same_results(workdir, local_run.workdir)


def test_scancelled_training_job_is_retried(slurm_cluster, slurm_profile_args, local_run, tmp_path):
    """scancel of one RUNNING training job, mid-training (its first log line written): with the
    profile's `retries: 1` the job is resubmitted, the run completes, and every result and
    table equals the local run's."""
    assert yaml.safe_load((USER_PROFILE / "config.yaml").read_text())["retries"] == 1
    reference = local_run.check().workdir
    workdir = make_workdir(tmp_path / "slurm")
    victim: dict[str, object] = {}

    run = SnakemakeRun(workdir, slurm_args(slurm_profile_args), "slurm.log", cluster=slurm_cluster)
    try:
        rc = run.wait(on_tick=canceller(workdir, victim), interval=0.3)
    finally:
        run.stop()
    report_timing(f"Slurm run with one job scancelled at {victim.get('at', 0):.0f} s", run.seconds)
    assert victim, f"no training job was caught RUNNING:\n{run.tail()}"
    text = run.text()
    assert rc == 0, f"the run did not recover from the scancel ({rc}):\n{run.tail()}"
    print(f"cancelled {victim['jobid']} {victim['cell']}; its log then: {victim['log']!r}",
          file=sys.stderr)

    jobid, cell = victim["jobid"], victim["cell"]
    assert f"SLURM-job '{jobid}' failed, SLURM status is: 'CANCELLED'" in text
    assert "Trying to restart job" in text
    # the plugin keeps the Slurm log of a failed job (and deletes those of successful ones)
    slurm_log = workdir / f".snakemake/slurm_logs/rule_train/{'_'.join(map(str, cell))}/{jobid}.log"
    assert slurm_log.exists(), sorted(workdir.glob(".snakemake/slurm_logs/**/*.log"))
    assert f"STEP {jobid}.0 ON" in slurm_log.read_text() and "CANCELLED AT" in slurm_log.read_text()
    assert run.jobs[jobid]["JobState"] == "CANCELLED", run.jobs[jobid]
    # one more train job than cells: the victim's cell ran twice, every other cell once
    by_cell: dict[tuple, list[dict[str, str]]] = {}
    for job in run.train_jobs().values():
        by_cell.setdefault(cell_of(job), []).append(job)
    assert by_cell.keys() == CELLS
    for c, jobs in by_cell.items():
        states = sorted(j["JobState"] for j in jobs)
        assert states == (["CANCELLED", "COMPLETED"] if c == cell else ["COMPLETED"]), (c, jobs)
        assert all(gpu_request(j, slurm_cluster.gpu_type) for j in jobs)

    assert_same_results(workdir, reference)
    assert_same_tables(workdir, reference)


def test_scancel_without_retries_then_rerun_does_only_the_missing_job(
        slurm_cluster, slurm_profile_args, local_run, tmp_path):
    """`--retries 0`: the cancelled job fails, the other one finishes (keep-going), snakemake
    exits non-zero; a plain rerun submits only the cancelled cell's train job, and both
    cells' results equal the local run's. Only two cells' training outputs as targets, to
    keep it short (each Slurm level costs ~36 s of the plugin's status polling here)."""
    reference = local_run.check().workdir
    workdir = make_workdir(tmp_path / "slurm")
    cells = sorted(CELLS)[:2]
    targets = [str(cell_dir(Path("."), c) / "metrics.parquet") for c in cells]
    victim: dict[str, object] = {}

    first = SnakemakeRun(workdir, slurm_args(slurm_profile_args, "--retries", "0", *targets),
                         "slurm-1.log", cluster=slurm_cluster)
    try:
        rc = first.wait(on_tick=canceller(workdir, victim), interval=0.3)
    finally:
        first.stop()
    assert victim, f"no training job was caught RUNNING:\n{first.tail()}"
    assert rc != 0, first.tail()
    assert "At least one job did not complete successfully" in first.text()
    survivor = next(c for c in cells if c != victim["cell"])
    assert (cell_dir(workdir, survivor) / "metrics.parquet").exists()
    assert not (cell_dir(workdir, victim["cell"]) / "metrics.parquet").exists()
    before = (cell_dir(workdir, survivor) / "metrics.parquet").stat().st_mtime_ns

    second = SnakemakeRun(workdir, slurm_args(slurm_profile_args, *targets), "slurm-2.log",
                          cluster=slurm_cluster)
    try:
        second.check()
    finally:
        second.stop()
    report_timing("--retries 0: first run + rerun", first.seconds + second.seconds)
    assert job_stats(second.text()) == {"train": 1, "total": 1}
    rerun = [j for j in second.train_jobs().values() if j["JobId"] not in first.jobs]
    assert [cell_of(j) for j in rerun] == [victim["cell"]]
    assert (cell_dir(workdir, survivor) / "metrics.parquet").stat().st_mtime_ns == before
    assert_same_results(workdir, reference, cells=cells)
