"""Fresh copies of the workflow for tests that run Snakemake for real (local and Slurm)."""

from __future__ import annotations

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
