"""Atomic output files and the provenance record every result carries."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Mapping, Sequence

import torch

PACKAGES = ("sgdagan", "torch", "numpy", "scipy", "pandas", "pyarrow", "pyyaml")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A crash (or a killed job) leaves either the old file or none, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide results from the rest of a shared cluster group
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# Tracked files the pipeline itself rewrites: they say nothing about the code that ran.
GENERATED = ("reports",)


def git_revision() -> str | None:
    """The checkout's commit, with "-dirty" if a tracked file other than the pipeline's own outputs
    (`GENERATED`) is modified, or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    outputs = [f":(top,exclude){path}" for path in GENERATED]
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)", *outputs],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def device_description(device: str) -> dict:
    info = {"device": device, "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "hostname": platform.node()}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info


def provenance(config: dict, device: str, started: str) -> dict:
    return {
        "config": config,
        "versions": versions(),
        "git_revision": git_revision(),
        "hardware": device_description(device),
        "argv": sys.argv,
        "started": started,
        "finished": utc_now(),
    }


def fold_provenance(records: Sequence[Mapping], benchmarks=None, games_wall_s: float | None = None) -> dict:
    """The per-job provenance.json records folded into one (results/provenance.json): the job count,
    the distinct values of every descriptive field, the first start and last finish; with the jobs'
    Snakemake benchmarks (a DataFrame) their wall times and peak memory, and with `games_wall_s`
    the seconds spent on games inside the jobs."""
    summary: dict = {"jobs": len(records)}
    skip = {"config", "start", "end", "start_time", "end_time", "wall_s", "args", "argv", "out"}
    distinct: dict[str, list] = {}
    for record in records:
        for key, value in record.items():
            if key in skip:
                continue
            text = json.dumps(value, sort_keys=True, default=str)
            if text not in distinct.setdefault(key, []):
                distinct[key].append(text)
    summary["fields"] = {k: [json.loads(t) for t in v] for k, v in sorted(distinct.items())}
    if benchmarks is not None and len(benchmarks):
        import pandas as pd

        s = benchmarks["s"].astype(float)
        summary["job_wall_s"] = {"total": float(s.sum()), "min": float(s.min()),
                                 "median": float(s.median()), "max": float(s.max())}
        if "max_rss" in benchmarks:
            rss = pd.to_numeric(benchmarks["max_rss"], errors="coerce")
            summary["job_max_rss_mb"] = float(rss.max()) if rss.notna().any() else None
    if games_wall_s is not None:
        summary["train_wall_s_total"] = float(games_wall_s)
    summary["started"] = min((r.get("started") for r in records if r.get("started")), default=None)
    summary["finished"] = max((r.get("finished") for r in records if r.get("finished")), default=None)
    if benchmarks is not None:
        summary["benchmarks"] = benchmarks.to_dict(orient="records")
    return summary
