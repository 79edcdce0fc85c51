"""Fresh copies of the workflow for tests that run Snakemake for real (local and Slurm)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
WORKFLOW_FILES = ["Snakefile", "config.yaml", "config", "workflow", "environment.yml"]


def make_workdir(path: Path) -> Path:
    """Copy the workflow (not results/, reports/ or .snakemake/) into `path`, plus the test configs."""
    path.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, path / name)
        else:
            shutil.copy2(src, path / name)
    for cfg in DATA.glob("*.yaml"):
        shutil.copy2(cfg, path / cfg.name)
    return path


def merged_config(*files: Path) -> dict:
    """config.yaml with `files` on top, merged key by key as Snakemake's --configfile merges them."""
    import yaml
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for path in files:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


def job_stats(text: str) -> dict[str, int]:
    """Snakemake's 'Job stats' block (the first one) as {rule: count}."""
    counts: dict[str, int] = {}
    if "Job stats:" in text:
        for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
            m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if not m:
                break
            counts[m.group(1)] = int(m.group(2))
    return counts


def tables(workdir: Path) -> dict[str, bytes]:
    """The report tables of a run, by file name."""
    return {p.name: p.read_bytes() for p in sorted((workdir / "reports/tables").glob("*.csv"))}
