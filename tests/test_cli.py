"""The CLI contract the pipeline relies on: outputs, columns, provenance, one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from sgdagan.choices import ESTIMATORS
from sgdagan.tables import is_trained

REQUIRED_COLUMNS = {"activation", "dim", "seed", "kappa", "n", "method", "step", "tv", "tv_se", "frob_rel",
                    "wall_s", "status"}


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sgdagan", "train", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = out / "settings.yaml"
    config.write_text(yaml.safe_dump({"eval_points": 5, "tv_samples": 2000, "kappa": 2.0}))
    result = run_cli("--activation", "relu", "--dim", "3", "--seed", "4", "--samples", "200,800",
                     "--discriminator", "quadratic,truncated", "--dynamics", "sgda,alt", "--steps", "40",
                     "--config", str(config), "--out", str(out / "cell"))
    assert result.returncode == 0, result.stderr
    return out / "cell"


def test_metrics_table_has_one_row_per_n_method_checkpoint(tiny_run):
    df = pd.read_parquet(tiny_run / "metrics.parquet")
    assert REQUIRED_COLUMNS <= set(df.columns)
    methods = {*ESTIMATORS, "sgda/quadratic", "sgda/truncated", "alt/quadratic", "alt/truncated"}
    assert set(df.method) == methods  # relu: every estimator runs
    assert {m for m in df.method if not is_trained(m)} == set(ESTIMATORS)  # what analysis.yardstick offers
    assert not df.duplicated(["n", "method", "step"]).any()
    games = df[df.method.map(is_trained)]
    assert games.groupby(["n", "method"]).step.max().eq(40).all()
    assert games.groupby(["n", "method"]).final.sum().eq(1).all()
    assert (df.activation == "relu").all() and (df.dim == 3).all() and (df.seed == 4).all() and (df.kappa == 2.0).all()
    assert set(df.status) == {"ok"} and df.tv.between(0, 1).all() and (df.tv_se > 0).all()


def test_sigma_npz_holds_target_and_every_final_estimate(tiny_run):
    with np.load(tiny_run / "sigma.npz") as npz:
        keys = set(npz.files)
        sigma_star = npz["sigma_star"]
    expected = {"sigma_star"} | {f"{m}/n{n}" for m in (*ESTIMATORS, "sgda/quadratic",
                                                       "sgda/truncated", "alt/quadratic", "alt/truncated")
                                 for n in (200, 800)}
    assert keys == expected
    assert np.linalg.cond(sigma_star) == pytest.approx(2.0)  # κ from --config


def test_provenance_records_config_versions_revision_device_and_times(tiny_run):
    prov = json.loads((tiny_run / "provenance.json").read_text())
    assert prov["config"]["steps"] == 40 and prov["config"]["tv_samples"] == 2000
    assert prov["config"]["discriminators"] == ["quadratic", "truncated"]
    assert {"python", "torch", "numpy", "sgdagan"} <= set(prov["versions"])
    assert prov["hardware"]["device"] == "cpu"
    assert "git_revision" in prov and prov["started"] <= prov["finished"]


def test_no_temporary_files_are_left_behind(tiny_run):
    assert sorted(p.name for p in tiny_run.iterdir()) == ["metrics.parquet", "provenance.json", "sigma.npz"]


def test_same_arguments_give_identical_tables(tiny_run, tmp_path):
    again = run_cli("--activation", "relu", "--dim", "3", "--seed", "4", "--samples", "200,800",
                    "--discriminator", "quadratic,truncated", "--dynamics", "sgda,alt", "--steps", "40",
                    "--config", str(tiny_run.parent / "settings.yaml"), "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    first = pd.read_parquet(tiny_run / "metrics.parquet").drop(columns="wall_s")
    assert first.equals(pd.read_parquet(tmp_path / "metrics.parquet").drop(columns="wall_s"))


def test_a_blowing_up_step_size_exits_zero_with_diverged_rows(tmp_path):
    config = tmp_path / "hot.yaml"
    config.write_text("lr_gen: 50.0\nlr_schedule: constant\neval_points: 3\ntv_samples: 1000\n")
    result = run_cli("--activation", "tanh", "--dim", "2", "--seed", "0", "--samples", "100", "--steps", "50",
                     "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    df = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    sgda = df[df.method == "sgda/truncated"]
    assert (sgda[sgda.final].status == "diverged").all() and sgda[sgda.final].tv.isna().all()


GOOD = ["--activation", "relu", "--dim", "2", "--seed", "0", "--samples", "100"]


@pytest.mark.parametrize("changed, named", [
    (("--activation", "swish"), "--activation"),
    (("--dim", "0"), "--dim"),
    (("--dim", "two"), "--dim"),
    (("--samples", ""), "--samples"),
    (("--samples", "100,1"), "--samples"),
    (("--samples", "1e3"), "--samples"),
    (("--kappa", "0.5"), "--kappa"),
    (("--discriminator", "wgan"), "--discriminator"),
    (("--dynamics", "adam"), "--dynamics"),
    (("--steps", "0"), "--steps"),
    (("--seed", "-1"), "--seed"),
    (("--samples", "100,,200"), "--samples"),
    (("--dynamics", "sgda,bilevel"), "--dynamics"),  # with the mlp below: no best response
    (("--discriminators", "mlp"), "--data-batch"),  # the setting to change, though left at its default
])
def test_bad_arguments_exit_nonzero_with_one_line_naming_the_argument(tmp_path, changed, named):
    args = list(GOOD)
    flag, value = changed
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    if flag == "--dynamics" and "bilevel" in value:
        args += ["--discriminators", "mlp", "--data-batch", "16"]
    result = run_cli(*args, "--out", str(tmp_path / "out"))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, named", [
    ("lr_gen: fast\n", "lr_gen"),
    ("learning_rate: 0.1\n", "learning_rate"),
    ("- 1\n- 2\n", "mapping"),
    ("lr_gen: 0.1\n\tsteps: 3\n", "not valid YAML"),  # a tab
    ("lr_gen: [0.1\n", "not valid YAML"),
    ("dynamics: sgda\n", "dynamics: expected a list"),
    ("lr_gen: .nan\n", "lr_gen: expected a finite number"),
])
def test_bad_config_files_are_named_in_one_line(tmp_path, content, named):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    result = run_cli(*GOOD, "--config", str(config), "--out", str(tmp_path / "out"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1
    assert "--config" in lines[0] and named in lines[0], result.stderr


def test_a_killed_run_resumes_from_its_checkpoint_to_the_uninterrupted_result(tmp_path):
    # The job is SIGKILLed (as a preempted or timed-out cluster job would be) once its checkpoint
    # holds a group in progress; rerunning the same command must give exactly the uninterrupted
    # tables and estimates.
    import signal
    import time

    import torch

    args = ["--activation", "relu", "--dim", "4", "--seed", "2", "--samples", "500,5000",
            "--dynamics", "sgda,alt", "--steps", "600"]
    whole = run_cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed"
    checkpoint = out / "checkpoint.pt"
    proc = subprocess.Popen([sys.executable, "-m", "sgdagan", "train", *args, "--out", str(out),
                             "--checkpoint-every", "0"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    state = None
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists():
            try:
                state = torch.load(checkpoint, weights_only=True)
            except (EOFError, RuntimeError):  # only the rename is atomic; retry
                state = None
            if state and state["finished"] and state["current"] and min(s["step"] for s in state["current"]["states"]) > 100:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.parquet").exists()

    resumed = run_cli(*args, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr
    assert not checkpoint.exists()
    first = pd.read_parquet(tmp_path / "whole" / "metrics.parquet").drop(columns="wall_s")
    assert first.equals(pd.read_parquet(out / "metrics.parquet").drop(columns="wall_s"))
    with np.load(tmp_path / "whole" / "sigma.npz") as a, np.load(out / "sigma.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_a_checkpoint_from_another_configuration_is_ignored(tmp_path):
    args = ["--activation", "tanh", "--dim", "2", "--seed", "0", "--samples", "100", "--steps", "30"]
    first = run_cli(*args, "--out", str(tmp_path / "a"), "--checkpoint", str(tmp_path / "ck.pt"))
    assert first.returncode == 0 and not (tmp_path / "ck.pt").exists()
    import torch
    torch.save({"fingerprint": "something else", "finished": {}, "current": None}, tmp_path / "ck.pt")
    second = run_cli(*args, "--out", str(tmp_path / "b"), "--checkpoint", str(tmp_path / "ck.pt"))
    assert second.returncode == 0 and "ignoring" in second.stderr
    a = pd.read_parquet(tmp_path / "a" / "metrics.parquet").drop(columns="wall_s")
    assert a.equals(pd.read_parquet(tmp_path / "b" / "metrics.parquet").drop(columns="wall_s"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_cuda_device_is_named_before_training(tmp_path):
    result = run_cli(*GOOD, "--device", "cuda", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--device" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_is_named_before_training(tmp_path):
    (tmp_path / "taken").write_text("")
    result = run_cli(*GOOD, "--out", str(tmp_path / "taken"))
    assert result.returncode == 2 and "argument --out" in result.stderr and "training" not in result.stderr


def test_an_out_on_a_read_only_filesystem_is_named_before_training(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a read-only filesystem here (needs root)")
    try:
        result = run_cli(*GOOD, "--out", str(mount / "cell"))
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.returncode == 2 and "Read-only file system" in result.stderr
    assert "training" not in result.stderr  # failed before the first game, not at the first write


def test_an_out_on_a_full_filesystem_is_named_before_training(tmp_path):
    mount = tmp_path / "full"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a filesystem here (needs root)")
    try:
        (mount / "filler").write_bytes(bytes(400 * 1024))  # what is left is less than a megabyte
        result = run_cli(*GOOD, "--out", str(mount / "cell"))
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert result.returncode == 2 and "No space left on device" in result.stderr
    assert "training" not in result.stderr


@pytest.mark.parametrize("garbage", [b"", b"not a torch file", b"PK\x03\x04 truncated zip"])
def test_an_unreadable_checkpoint_is_ignored_and_the_run_equals_a_clean_one(tmp_path, garbage):
    args = [*GOOD, "--steps", "30", "--eval-points", "2", "--tv-samples", "500"]
    clean = run_cli(*args, "--out", str(tmp_path / "clean"))
    (tmp_path / "cell").mkdir()
    (tmp_path / "cell" / "checkpoint.pt").write_bytes(garbage)
    resumed = run_cli(*args, "--out", str(tmp_path / "cell"))
    assert clean.returncode == 0 and resumed.returncode == 0, resumed.stderr
    assert "ignoring" in resumed.stderr and not (tmp_path / "cell" / "checkpoint.pt").exists()
    columns = ["n", "method", "step", "tv", "frob_rel"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "clean" / "metrics.parquet")[columns],
                                  pd.read_parquet(tmp_path / "cell" / "metrics.parquet")[columns])


def test_a_sample_that_cannot_fit_in_memory_is_named_before_anything_is_allocated(tmp_path):
    result = run_cli("--activation", "relu", "--dim", "2", "--seed", "0", "--samples", str(10**10),
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--dim/--samples" in result.stderr and "MB" in result.stderr and not (tmp_path / "out").exists()
