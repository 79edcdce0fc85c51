"""The ablations: the sweep CLI (errors, crash and resume), the ablation tables against hand-computed
values, and the new rules end to end on a tiny config (real snakemake, papermill, nbconvert)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from sgdagan.ablations import steps_table, summary_table, tidy_sweeps

from .workdirs import make_workdir

CONFIGS = ("tiny.yaml", "tiny_ablations.yaml")


def run_sweep(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "sgdagan", "sweep", *args], capture_output=True, text=True, **kwargs)


# -- tables ----------------------------------------------------------------------------------------


def _rows(variant, method, seed, steps_tv, status="ok"):
    last = max(steps_tv)
    return [{"activation": "relu", "dim": 3, "width": 3, "kappa": 4.0, "n": 1000, "variant": variant, "method": method,
             "discriminator": method.split("/")[-1] if "/" in method else "",
             "dynamics": method.split("/")[0] if "/" in method else "", "penalty": 1.0, "lr_gen": 0.3, "lr_disc": 1.0,
             "seed": seed, "step": step, "final": step == last, "tv": tv, "frob_abs": 10 * tv, "frob_rel": tv,
             "status": status} for step, tv in steps_tv.items()]


@pytest.fixture
def sweep_rows():
    rows = (_rows("a", "sgda/truncated", 0, {1: 0.5, 10: 0.09, 100: 0.05})
            + _rows("a", "sgda/truncated", 1, {1: 0.5, 10: 0.3, 100: 0.08})
            + _rows("a", "sgda/truncated", 2, {1: 0.5, 10: np.nan, 100: np.nan}, status="diverged"))
    for variant in ("a", "b"):  # the estimators are repeated in every variant of a sweep
        for seed, tv in enumerate([0.04, 0.06, 0.05]):
            rows += _rows(variant, "moment_inversion", seed, {0: tv})
    return tidy_sweeps([pd.DataFrame(rows)])


def test_summary_counts_diverged_as_tv_one_and_never_reached(sweep_rows):
    summary = summary_table(sweep_rows, target_tv=0.1).set_index("method")
    sgda = summary.loc["sgda/truncated"]
    assert (sgda["runs"], sgda["diverged"]) == (3, 1)
    assert sgda["tv_median"] == pytest.approx(0.08)  # median of 0.05, 0.08 and 1 (diverged)
    assert sgda["frob_abs_median"] == pytest.approx(0.8)  # median of 0.5, 0.8 and ∞
    assert sgda["steps_to_target"] == 100  # median of 10, 100 and ∞ (never)
    assert sgda["reached"] == pytest.approx(2 / 3)
    assert sgda["identifies_sigma"].startswith("yes")
    yard = summary.loc["moment_inversion"]
    assert (yard["variant"], yard["runs"], yard["tv_median"]) == ("", 3, pytest.approx(0.05))


def test_steps_table_has_the_median_trajectory(sweep_rows):
    steps = steps_table(sweep_rows).set_index("step")
    assert list(steps.index) == [1, 10, 100]
    assert steps.loc[10, "tv_median"] == pytest.approx(0.3)  # 0.09, 0.3 and 1 (diverged)
    assert steps.loc[1, "runs"] == 3
    assert "moment_inversion" not in set(steps_table(sweep_rows)["method"])


# -- the sweep CLI ---------------------------------------------------------------------------------

ARGS = ["--activation", "relu", "--dim", "3", "--seeds", "0,1", "--samples", "300,3000"]


@pytest.mark.parametrize("spec, named", [
    ({"train": {}}, "variants"),
    ({"variants": {"fast": {"lr_gen": "fast"}}}, "variants.fast.lr_gen"),
    ({"variants": {"x": {"learning_rate": 0.1}}}, "variants.x.learning_rate"),
    ({"variants": {"x": {}}, "extra": 1}, "extra"),
])
def test_bad_specs_exit_nonzero_with_one_line_naming_the_key(tmp_path, spec, named):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = run_sweep("--spec", str(path), *ARGS, "--out", str(tmp_path / "out"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "--spec" in lines[0] and named in lines[0]
    assert not (tmp_path / "out").exists()


def test_a_killed_sweep_keeps_its_finished_variants_and_resumes_to_the_same_table(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"train": {"steps": 500, "eval_points": 4, "tv_samples": 2000},
                                    "variants": {"quadratic": {"discriminators": ["quadratic"]},
                                                 "kappa=8": {"kappa": 8.0}}}))
    whole = run_sweep("--spec", str(spec), *ARGS, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "sgdagan", "sweep", "--spec", str(spec), *ARGS, "--out", str(out)],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (out / "variants/001.parquet").exists():
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.parquet").exists()

    resumed = run_sweep("--spec", str(spec), *ARGS, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("already done") == 1  # the variant finished before the kill
    assert not (out / "variants").exists()
    first = pd.read_parquet(tmp_path / "whole/metrics.parquet").drop(columns="wall_s")
    again = pd.read_parquet(out / "metrics.parquet").drop(columns="wall_s")
    assert first.equals(again)
    assert set(first["variant"]) == {"quadratic", "kappa=8"}
    assert set(first.loc[first["variant"] == "kappa=8", "kappa"]) == {8.0}


# -- the rules end to end --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ablation_run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("ablations") / "run")
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--nocolor", "--configfile", *CONFIGS],
                            cwd=workdir, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-6000:]
    return workdir


def _table(workdir, name):
    return pd.read_csv(workdir / "reports/tables" / f"{name}.csv", keep_default_na=False, na_values=[""])


def test_every_method_is_in_its_table_and_in_the_html_report(ablation_run):
    tiny = yaml.safe_load((ablation_run / "tiny_ablations.yaml").read_text())["ablations"]
    html = (ablation_run / "reports/ablations.html").read_text()
    expected = {
        "vanilla": {"headline (inverse-time decay, tail average)", "vanilla (constant η_G=1, last iterate)",
                    "vanilla (constant η_G=0.1, last iterate)"},
        "discriminators": set(tiny["discriminators"]["families"]),
        "dynamics": set(tiny["dynamics"]["methods"]),
        "bilinear": {"sgda", "alt", "ttur", "omd", "eg", "pm", "co"},
        "prior_work": {"sgda/quadratic", "sgda/truncated", "moment_inversion"},
        "condition": {"sgda/truncated", "moment_inversion", "wds"},
    }
    columns = {"vanilla": "variant", "discriminators": "variant", "dynamics": "dynamics", "bilinear": "method", "prior_work": "method",
               "condition": "method"}
    for name, methods in expected.items():
        assert methods <= set(_table(ablation_run, name)[columns[name]].astype(str)), name
        for method in methods:
            assert method in html, (name, method)
    for figure in expected:
        assert (ablation_run / f"reports/figures/ablations/{figure}.png").stat().st_size > 0
    assert "## Ablations" in (ablation_run / "reports/README.md").read_text()


def test_linear_features_stall_while_the_identifying_families_learn(ablation_run):
    table = _table(ablation_run, "discriminators").set_index("variant")
    yardstick = table.loc[table["method"] == "moment_inversion", "tv_median"].iloc[0]
    for family in ("quadratic", "truncated"):  # 200 steps at d = 3: near the floor, not on it
        assert table.loc[family, "tv_median"] < 3 * yardstick + 0.05
    # First moments pin only part of Σ (for ReLU, E y_i fixes the row norms): TV stays far up.
    assert table.loc["linear", "tv_median"] > max(0.3, 4 * table.loc["truncated", "tv_median"])
    assert table.loc["linear", "identifies_sigma"].startswith("no")


def test_dynamics_grid_covers_every_penalty_on_linearly_spaced_steps(ablation_run):
    table, steps = _table(ablation_run, "dynamics"), _table(ablation_run, "dynamics_steps")
    trained = table[table["dynamics"].notna()]
    assert set(trained.groupby("penalty")["dynamics"].nunique()) == {8}  # every method at λ = 1 and 0.1
    assert sorted(trained["penalty"].unique()) == [0.1, 1.0]
    assert sorted(steps["step"].unique()) == list(range(20, 201, 20))  # 200 steps / 10 evaluation points
    reached = trained[trained["steps_to_target"] < float("inf")]
    assert len(reached) and (2 * reached["steps_to_target"] % 20 == 0).all()  # medians of 2 evaluation steps


def test_vanilla_sgda_beside_the_headline_schedule(ablation_run):
    from sgdagan.experiments.vanilla import HEADLINE, ratios

    wide = ratios(_table(ablation_run, "vanilla"))
    assert list(wide["n"]) == [500, 2000]
    # tanh at d = 3 is the Gaussian MLE's game: the headline reaches the yardstick's TV within a factor 1.5.
    assert (wide[HEADLINE] < 1.5).all(), wide
    assert "### Vanilla SGDA" in (ablation_run / "reports/README.md").read_text()


def test_bilinear_outcomes_agree_with_the_exact_prediction(ablation_run):
    grid = _table(ablation_run, "bilinear")
    assert grid["agrees"].all()
    assert (grid.loc[grid["method"] == "sgda", "outcome"] == "diverged").all()
    eg = grid[grid["method"] == "eg"].set_index("eta")
    assert list(eg["theory_converges"]) == [True, True, False]  # converges iff η·σ_max < 1
    assert (eg.loc[0.7, "outcome"], eg.loc[1.2, "outcome"]) == ("converged", "diverged")


def test_prior_work_and_condition_tables_cover_their_grids(ablation_run):
    lei = _table(ablation_run, "prior_work")
    for width in (3, 2):  # the yardstick on each width's own data (k = d = 3, and Lei et al.'s k = 2)
        yard = lei[(lei["method"] == "moment_inversion") & (lei["width"] == width)].set_index("n")
        assert list(yard.index) == [500, 2000] and (yard["runs"] == 2).all()
        assert yard.loc[2000, "frob_abs_median"] < yard.loc[500, "frob_abs_median"]
    lei_k2 = lei[lei["width"] == 2]
    assert set(lei_k2["variant"].dropna()) == {"k = 2", "k = 2, row-norm projection"}
    assert lei_k2["tv_median"].isna().all() and np.isfinite(lei_k2["frob_abs_median"]).all()  # rank 2: no TV
    kappa = _table(ablation_run, "condition")
    assert set(kappa["kappa"]) == {1.0, 5.0}


def test_a_rerun_has_nothing_to_do(ablation_run):
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", *CONFIGS],
                         cwd=ablation_run, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
