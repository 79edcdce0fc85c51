"""Pytest fixtures and helpers for tests that run the pipeline on a real Slurm cluster.

The cluster is the single-node one that ``tests/slurm/cluster.sh`` starts from Debian's
packages (see tests/slurm/README.md). tests/conftest.py provides the fixtures to every test
module (a pytest session elsewhere loads them with ``-p tests.slurm_fixtures``)::

    @pytest.mark.slurm
    def test_on_slurm(slurm_profile_args, tmp_path):
        subprocess.run(["snakemake", "--cores", "all", *slurm_profile_args], ...)

``slurm_cluster`` is session-scoped: ``cluster.sh up`` once, ``cluster.sh down`` always at
the end (also when a test fails or is interrupted), then a check that no process of the
cluster is left. It skips, with the reason, where the cluster cannot exist: not root, or
Slurm not installed and no apt-get, or a real Slurm configuration present.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CLUSTER_SH = REPO / "tests" / "slurm" / "cluster.sh"
USER_PROFILE = REPO / "slurm"  # what `snakemake --profile slurm` finds from the repo root
SLURM_CONF = Path("/etc/slurm/slurm.conf")
CLUSTER_NAME = "sgdagan-test"  # ClusterName in cluster.sh

# The values of the users' profile marked "SET FOR YOUR CLUSTER" that the test cluster
# cannot honour, as (section, rule or None, key). Everything else in the profile is used
# as is. (slurm_account needs no override: without slurmdbd the plugin cannot validate
# accounts, warns, and sbatch accepts any account name.)
CLUSTER_SPECIFIC = (
    ("default-resources", None, "slurm_partition"),
    ("set-resources", "train", "slurm_partition"),
    ("set-resources", "train", "gpu_model"),
)


@dataclass(frozen=True)
class SlurmCluster:
    state_dir: Path  # pid files, spool, daemon logs (kept after `down`)
    partition: str
    gpu_type: str

    def jobs(self) -> list[dict[str, str]]:
        """All jobs slurmctld still knows (finished ones for MinJobAge=300 s), from
        ``scontrol show job -o``: keys JobId, JobName, JobState, Comment (the plugin writes
        ``rule_<rule>_wildcards_<...>`` there), TresPerJob (``gres:gpu:<type>:1`` for a
        ``--gpus`` request), ExitCode, ..."""
        out = _run(["scontrol", "show", "job", "-o"], timeout=30).stdout
        jobs = []
        for line in out.splitlines():
            if line.startswith("JobId="):
                jobs.append(dict(re.findall(r"(\w[\w/:]*)=(\S*)", line)))
        return jobs

    def logs(self, tail: int = 30) -> str:
        """The last lines of every daemon log, for a failure message."""
        parts = []
        for f in sorted((self.state_dir / "log").glob("*.log")):
            lines = f.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"---- {f}\n" + "\n".join(lines))
        return "\n".join(parts)


def _run(cmd, timeout, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "a Slurm cluster needs Linux"
    if os.geteuid() != 0:
        return "starting a Slurm cluster needs root (writes /etc/slurm, starts daemons)"
    installed = all(shutil.which(p) for p in ("slurmctld", "slurmd", "sbatch", "munged"))
    if not installed and not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is unavailable to install it"
    if SLURM_CONF.exists() and "sgdagan tests/slurm/cluster.sh" not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} belongs to a real Slurm installation; not replacing it"
    return None


def leftover_pids(state_dir: Path) -> list[int]:
    """Processes of the test cluster still alive: the daemons (they carry
    SGDAGAN_SLURM_STATE=<state_dir>), job processes (SLURM_CLUSTER_NAME=sgdagan-test) and
    slurmstepd (it blanks its environment, but keeps a log in state_dir open)."""
    marks = (f"SGDAGAN_SLURM_STATE={state_dir}".encode(), f"SLURM_CLUSTER_NAME={CLUSTER_NAME}".encode())
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            ours = any(m in env for m in marks)
            if not ours and (proc / "comm").read_text().strip() == "slurmstepd":
                ours = any(
                    os.readlink(fd).startswith(f"{state_dir}/") for fd in (proc / "fd").iterdir()
                )
        except OSError:  # gone, a zombie, or a kernel thread
            continue
        if ours:
            found.append(int(proc.name))
    return found


def _cluster_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    env["SGDAGAN_SLURM_STATE"] = str(state_dir)
    return env


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node Slurm cluster; stopped at the end of the session."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    # Not under pytest's tmp dir: munged needs every directory above its socket to be
    # searchable by all users, and /tmp/pytest-of-root is mode 700.
    state_dir = Path(os.environ.get("SGDAGAN_SLURM_STATE", "/tmp/sgdagan-slurm"))
    env = _cluster_env(state_dir)
    try:
        up = _run([str(CLUSTER_SH), "up"], timeout=600, env=env)
        if up.returncode != 0:
            pytest.fail(f"cluster.sh up failed ({up.returncode}):\n{up.stdout}{up.stderr}")
        yield SlurmCluster(
            state_dir=state_dir,
            partition=env.get("SGDAGAN_SLURM_PARTITION", "debug"),
            gpu_type=env.get("SGDAGAN_SLURM_GPU_TYPE", "fakegpu"),
        )
    finally:
        down = _run([str(CLUSTER_SH), "down"], timeout=120, env=env)
        left = leftover_pids(state_dir)
        assert down.returncode == 0, f"cluster.sh down failed:\n{down.stdout}{down.stderr}"
        assert not left, f"Slurm test cluster left processes behind: {left}"


def write_profile_overlay(
    dest: Path, partition: str, gpu_model: str, init_seconds: int = 2
) -> Path:
    """A second profile, layered after the users' one (``--profile slurm --profile
    <dest>``), that replaces only the CLUSTER_SPECIFIC values.

    Snakemake merges profiles by top-level key, and a command-line --default-resources or
    --set-resources replaces the whole section (it would silently drop the GPU request),
    so the overlay repeats both sections from the users' profile with just those values
    changed. It also lowers slurm-init-seconds-before-status-checks (test speed only;
    MinJobAge=300 stays above 3x it, as the plugin requires for squeue).
    """
    user = yaml.safe_load((USER_PROFILE / "config.yaml").read_text())
    overlay = {
        "default-resources": copy.deepcopy(user["default-resources"]),
        "set-resources": copy.deepcopy(user["set-resources"]),
        "slurm-init-seconds-before-status-checks": init_seconds,
    }
    values = {"slurm_partition": partition, "gpu_model": gpu_model}
    for section, rule, key in CLUSTER_SPECIFIC:
        table = overlay[section] if rule is None else overlay[section][rule]
        if key not in table:
            raise KeyError(f"users' profile has no {section}/{rule or ''}/{key} any more")
        table[key] = values[key]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return dest


@pytest.fixture
def slurm_profile_args(slurm_cluster, tmp_path) -> list[str]:
    """Arguments that run snakemake through the users' profile on the test cluster."""
    overlay = write_profile_overlay(
        tmp_path / "slurm-test-profile",
        partition=slurm_cluster.partition,
        gpu_model=slurm_cluster.gpu_type,
    )
    return ["--profile", str(USER_PROFILE), "--profile", str(overlay)]


def popen_snakemake(args, cwd, log_path: Path, **kwargs) -> subprocess.Popen:
    """Start snakemake so that it can be interrupted: SIGINT makes it scancel its jobs
    and exit within seconds, SIGTERM only makes it wait for them. SIGINT is reset to its
    default because a parent started in the background may ignore it, and a Python
    started with SIGINT ignored never installs its KeyboardInterrupt handler."""
    env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        return subprocess.Popen(
            ["snakemake", *args],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            **kwargs,
        )
