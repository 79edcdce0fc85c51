"""The git revision a result records: the code that ran, not the outputs the pipeline wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from .workdirs import REPO



def _revision(checkout) -> str:
    """git_revision() as the package installed in `checkout` reports it."""
    out = subprocess.run([sys.executable, "-c", "from sgdagan.provenance import git_revision; print(git_revision())"],
                         cwd=checkout, env={**os.environ, "PYTHONPATH": str(checkout / "src")},
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


def _git(checkout, *args) -> str:
    return subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def test_a_clean_checkout_stays_clean_after_the_pipeline_rewrites_reports_but_not_after_a_code_change(tmp_path):
    # A checkout laid out as the repository is: the package under src/, a config, a report.
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (checkout / "reports").mkdir()
    (checkout / "reports/README.md").write_text("report\n")
    (checkout / "config.yaml").write_text("seeds: [0]\n")
    _git(checkout.parent, "init", "-q", str(checkout))
    _git(checkout, "add", "-A")
    _git(checkout, "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-qm", "code")
    head = _git(checkout, "rev-parse", "HEAD")
    assert _revision(checkout) == head
    with open(checkout / "reports/README.md", "a") as fh:  # what a pipeline run does to the tree
        fh.write("regenerated\n")
    assert _revision(checkout) == head
    with open(checkout / "config.yaml", "a") as fh:
        fh.write("# edited\n")
    assert _revision(checkout) == f"{head}-dirty"
