"""Unit tests of sgdagan.analysis against synthetic tables with closed-form answers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from sgdagan import analysis as A
from sgdagan.markdown import markdown_table, round_sig, with_ci
from sgdagan.pipeline_config import Samples
from sgdagan.provenance import fold_provenance
from sgdagan.settings import ConfigError, build
from sgdagan.tables import is_trained

DIMS = [2, 4, 8, 16, 32]
EPS = [0.3, 0.2, 0.1, 0.05]


def grid(d: int, c: float = 0.3, alpha: float = 2.0) -> list[int]:
    """Sample sizes spanning TV 0.6 … 0.02 for the power law TV = c d^{α/2} n^{-1/2}."""
    scale = (c * d ** (alpha / 2)) ** 2
    return sorted({int(scale / tv**2) + 1 for tv in np.geomspace(0.6, 0.02, 9)})


def make_metrics(
    tv_fn,
    *,
    activations=("relu",),
    dims=DIMS,
    seeds=range(5),
    methods=("sgda/truncated", A.YARDSTICK),
    ns_fn=grid,
    steps=(0, 10, 100),
    status_fn=None,
) -> pd.DataFrame:
    """A tidy metrics table: for trained methods a row per checkpoint step (the last is final),
    for the yardstick one row at step 0. tv_fn(activation, method, d, seed, n) gives final TV."""
    rows = []
    for a in activations:
        for d in dims:
            for s in seeds:
                for m in methods:
                    for n in ns_fn(d):
                        tv = float(tv_fn(a, m, d, s, n))
                        status = status_fn(a, m, d, s, n) if status_fn else "ok"
                        eval_steps = list(steps) if is_trained(m) else [0]
                        for k, step in enumerate(eval_steps):
                            last = k == len(eval_steps) - 1
                            value = tv if last else min(1.0, tv * (len(eval_steps) - k))
                            if status != "ok":
                                value = np.nan
                            rows.append({
                                "activation": a, "dim": d, "width": d, "seed": s, "kappa": 4.0, "n": n,
                                "method": m, "step": step, "final": last, "tv": value,
                                "tv_se": 0.001, "frob_rel": value, "frob_white": value,
                                "tv_sign_lb": np.nan, "wall_s": 0.5, "status": status,
                            })
    return pd.DataFrame(rows)


def power_law(c=0.3, alpha=2.0):
    return lambda a, m, d, s, n: c * d ** (alpha / 2) / np.sqrt(n)


# ------------------------------------------------------------------------------------------------


def test_round_sig():
    assert round_sig(1234) == 1200
    assert round_sig(1250, 2) == 1200 or round_sig(1250, 2) == 1300
    assert round_sig(87) == 87
    assert round_sig(105600) == 110000
    with pytest.raises(ValueError):
        round_sig(0)


@pytest.mark.parametrize("d", [2, 8, 32])
def test_sample_grid_spans_the_requested_tv_range(d):
    c = 0.4
    ns = Samples(tv_max=0.5, tv_min=0.03, points=8, tv_constant=c, n_min=2).grid(d)
    assert ns == sorted(set(ns)) and len(ns) >= 6
    tv = c * np.sqrt(d * (d + 1) / np.array(ns, float))
    # two-digit rounding moves n by at most 5%, i.e. TV by at most ~2.5%
    assert tv[0] == pytest.approx(0.5, rel=0.03) or ns[0] == 2
    assert tv[-1] == pytest.approx(0.03, rel=0.03)
    assert np.all(np.diff(np.log(ns)) > 0)


def test_sample_grid_fixed_and_floor():
    assert Samples(fixed=[300, 100]).grid(4) == [100, 300]
    assert Samples(tv_max=0.9, tv_min=0.5, points=3, tv_constant=0.1, n_min=10).grid(1) == [10]
    with pytest.raises(ConfigError, match="^tv_min: must be below tv_max"):
        build(Samples, {"tv_max": 0.1, "tv_min": 0.5})
    with pytest.raises(ConfigError, match="^fixed: repeated entries"):
        build(Samples, {"fixed": [300, 100, 100]})


def test_tidy_metrics_sorts_checks_and_rejects_duplicates():
    m = make_metrics(power_law(), dims=[2, 4], seeds=[1, 0])
    shuffled = m.sample(frac=1.0, random_state=0)
    halves = [shuffled.iloc[: len(m) // 2], shuffled.iloc[len(m) // 2:]]
    tidy = A.tidy_metrics(halves)
    assert list(tidy.columns[: len(A.METRICS_COLUMNS)]) == list(A.METRICS_COLUMNS)
    assert tidy[A.SORT_KEYS].equals(tidy[A.SORT_KEYS].sort_values(A.SORT_KEYS).reset_index(drop=True))
    assert len(tidy) == len(m)
    with pytest.raises(ValueError, match="duplicated"):
        A.tidy_metrics([m, m.head(3)])
    with pytest.raises(ValueError, match="lacks columns"):
        A.tidy_metrics([m.drop(columns=["tv_se"])])
    with pytest.raises(ValueError, match="no metrics"):
        A.tidy_metrics([])


def test_crossing_interpolates_power_laws_exactly_and_censors():
    ns = np.array([100.0, 400.0, 1600.0, 6400.0])
    tv = 3.0 / np.sqrt(ns)  # 0.3, 0.15, 0.075, 0.0375
    eps = np.array([0.5, 0.3, 0.1, 0.05, 0.01])
    n_eps, code = A.crossing(ns, tv, eps)
    assert list(code) == [-1, -1, 0, 0, 1]
    np.testing.assert_allclose(n_eps[2:4], (3.0 / eps[2:4]) ** 2, rtol=1e-12)
    assert np.isnan(n_eps[[0, 1, 4]]).all()
    # batched over leading axes, and a non-monotone curve uses its first crossing
    bumpy = np.array([[0.3, 0.09, 0.2, 0.05]])
    n_eps, code = A.crossing(ns, bumpy, np.array([0.1]))
    assert code[0, 0] == 0 and 100 < n_eps[0, 0] < 400
    n_eps, code = A.crossing(ns, np.full(4, np.nan), np.array([0.1]))
    assert code[0] == -2 and np.isnan(n_eps[0])


@pytest.mark.parametrize("alpha", [2.0, 3.0])
def test_exponents_recover_closed_form(alpha):
    metrics = make_metrics(power_law(0.3, alpha), ns_fn=lambda d: grid(d, 0.3, alpha))
    tables = A.analyze(metrics, EPS, n_boot=200, seed=1)
    ex = tables["exponents"]
    assert list(ex.columns) == A.EXPONENT_COLUMNS
    assert set(ex["method"]) == {"sgda/truncated", A.YARDSTICK}
    for _, row in ex.iterrows():
        # log-log interpolation of an exact power law is exact
        assert row.alpha == pytest.approx(alpha, abs=1e-9)
        assert row.beta == pytest.approx(2.0, abs=1e-9)
        assert row.alpha_lo == pytest.approx(alpha, abs=1e-9) and row.alpha_hi == pytest.approx(alpha, abs=1e-9)
    # n_eps = (c d^{α/2} / ε)^2 cell by cell
    ne = tables["n_eps"]
    assert (ne["censored"] == "ok").all()
    expected = (0.3 * ne["dim"] ** (alpha / 2) / ne["eps"]) ** 2
    np.testing.assert_allclose(ne["n_eps"], expected, rtol=1e-9)
    detail = tables["exponents_detail"]
    assert (detail["points"] == len(DIMS) * len(EPS)).all()
    np.testing.assert_allclose(detail["c"], 2 * np.log(0.3), atol=1e-9)
    assert (detail["r2"] > 0.999999).all()


def noisy(sigma=0.3, c=0.3, seed=0):
    """TV = c d n^{-1/2} · exp(σ z), z independent per (method, d, seed, n)."""
    def tv(a, m, d, s, n):
        rng = np.random.default_rng([seed, d, s, n, len(m)])
        return c * d / np.sqrt(n) * np.exp(sigma * rng.standard_normal())
    return tv


def test_bootstrap_ci_contains_truth_and_shrinks_with_more_seeds():
    widths = {}
    for n_seeds in (5, 40):
        metrics = make_metrics(noisy(), seeds=range(n_seeds), methods=(A.YARDSTICK,))
        ex = A.analyze(metrics, EPS, n_boot=400, seed=0)["exponents"].iloc[0]
        assert ex.alpha_lo <= 2.0 <= ex.alpha_hi, ex
        assert ex.beta_lo <= 2.0 <= ex.beta_hi, ex
        assert ex.alpha_lo <= ex.alpha <= ex.alpha_hi and ex.beta_lo <= ex.beta <= ex.beta_hi
        widths[n_seeds] = (ex.alpha_hi - ex.alpha_lo, ex.beta_hi - ex.beta_lo)
    assert widths[40][0] < 0.6 * widths[5][0]
    assert widths[40][1] < 0.6 * widths[5][1]


def test_bootstrap_is_deterministic_and_keyed_by_stratum():
    metrics = make_metrics(noisy(), activations=("relu", "tanh"), dims=[2, 4, 8])
    a = A.analyze(metrics, EPS, n_boot=100, seed=3)
    b = A.analyze(metrics.sample(frac=1.0, random_state=1), EPS, n_boot=100, seed=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    # dropping an activation leaves the other's bootstrap intervals unchanged
    c = A.analyze(metrics[metrics["activation"] == "relu"], EPS, n_boot=100, seed=3)
    pd.testing.assert_frame_equal(c["n_eps"], a["n_eps"][a["n_eps"]["activation"] == "relu"].reset_index(drop=True))
    d = A.analyze(metrics, EPS, n_boot=100, seed=4)
    assert not d["n_eps"]["n_eps_lo"].equals(a["n_eps"]["n_eps_lo"])


def test_efficiency_ratio_is_exact_for_a_constant_factor():
    def tv(a, m, d, s, n):
        base = noisy()(a, A.YARDSTICK, d, s, n)
        return base * (1.25 if m != A.YARDSTICK else 1.0)

    metrics = make_metrics(tv, dims=[4, 8])
    t = A.analyze(metrics, EPS, n_boot=100)
    eff = t["efficiency"]
    assert set(eff["method"]) == {"sgda/truncated"}
    np.testing.assert_allclose(eff["ratio"], 1.25, rtol=1e-12)
    # paired bootstrap: the same seeds on both sides, so the CI collapses to the ratio
    np.testing.assert_allclose(eff["ratio_lo"], 1.25, rtol=1e-12)
    np.testing.assert_allclose(eff["ratio_hi"], 1.25, rtol=1e-12)
    summary = t["efficiency_summary"]
    assert summary.loc[0, "ratio_at_max_n"] == pytest.approx(1.25)
    assert summary.loc[0, "cells"] == len(eff)


def test_efficiency_against_the_best_estimator_picks_the_lowest_tv_per_cell():
    # pairwise_mle is 0.8x the yardstick's TV at the smaller half of each grid and 1.2x above it:
    # the best estimator switches there, and the trained method's ratio is 1.25/0.8 then 1.25.
    def tv(a, m, d, s, n):
        base = noisy()(a, A.YARDSTICK, d, s, n)
        small = n < np.median(grid(d))
        return base * {"sgda/truncated": 1.25, A.YARDSTICK: 1.0, "pairwise_mle": 0.8 if small else 1.2}[m]

    metrics = make_metrics(tv, dims=[4, 8], methods=("sgda/truncated", A.YARDSTICK, "pairwise_mle"))
    t = A.analyze(metrics, EPS, n_boot=100)
    best = t["efficiency_best"]
    assert set(best["method"]) == {"sgda/truncated"}  # trained methods only
    small = best["n"] < best["dim"].map(lambda d: np.median(grid(d)))
    assert (best.loc[small, "best_estimator"] == "pairwise_mle").all()
    assert (best.loc[~small, "best_estimator"] == A.YARDSTICK).all()
    np.testing.assert_allclose(best["ratio"], np.where(small, 1.25 / 0.8, 1.25), rtol=1e-12)
    np.testing.assert_allclose(best["ratio_lo"], best["ratio"], rtol=1e-12)  # paired: same seeds, CI collapses
    assert t["efficiency_best_summary"].loc[0, "ratio_at_max_n"] == pytest.approx(1.25)


def test_diverged_games_count_as_tv_one_and_are_listed():
    def status(a, m, d, s, n):
        return "diverged" if (m != A.YARDSTICK and s in (0, 1, 2) and d == 4) else "ok"

    metrics = make_metrics(power_law(), dims=[2, 4], status_fn=status)
    t = A.analyze(metrics, EPS, n_boot=50)
    st = t["status"].set_index(["dim", "method"])
    assert st.loc[(4, "sgda/truncated"), "diverged"] == 3 * len(grid(4))
    assert st.loc[(2, "sgda/truncated"), "diverged"] == 0
    assert st.loc[(4, A.YARDSTICK), "diverged"] == 0
    tv = t["tv_vs_n"].set_index(["dim", "method", "n"])
    # 3 of 5 seeds diverged: the median is TV = 1
    assert (tv.loc[(4, "sgda/truncated")]["tv_median"] == 1.0).all()
    assert (tv.loc[(4, "sgda/truncated")]["diverged"] == 3).all()
    ne = t["n_eps"]
    cell = ne[(ne["dim"] == 4) & (ne["method"] == "sgda/truncated")]
    assert (cell["censored"] == "above_grid").all() and cell["n_eps"].isna().all()
    # the fit on the remaining dimension alone is not identified: NaN, not an exception
    ex = t["exponents"].set_index("method")
    assert np.isnan(ex.loc["sgda/truncated", "alpha"])
    assert ex.loc[A.YARDSTICK, "alpha"] == pytest.approx(2.0)
    assert len(t["diverged"]) == 3 * len(grid(4))
    assert set(t["diverged"]["status"]) == {"diverged"}


def test_a_non_finite_sigma_with_ok_status_is_treated_as_diverged():
    # frob_rel is defined for every game (TV is not where Σ* is singular): non-finite only for a broken Σ.
    metrics = make_metrics(power_law(), dims=[2])
    metrics.loc[(metrics["seed"] == 0) & metrics["final"] & (metrics["method"] != A.YARDSTICK), "frob_rel"] = np.inf
    final = A.final_rows(metrics)
    assert final["diverged"].sum() == len(grid(2))
    assert (final.loc[final["diverged"], "tv_eff"] == 1.0).all()


def test_missing_games_are_ignored_not_fatal():
    metrics = make_metrics(power_law(), dims=[2, 4, 8])
    metrics = metrics[~((metrics["seed"] == 4) & (metrics["dim"] == 8))]
    t = A.analyze(metrics, EPS, n_boot=50)
    tv = t["tv_vs_n"]
    assert set(tv.loc[tv["dim"] == 8, "seeds"]) == {4}
    assert t["exponents"]["alpha"].to_numpy() == pytest.approx([2.0, 2.0])


def test_fit_exponents_unidentified_gives_nan():
    dims = np.array([4.0, 4.0, 4.0, 4.0])
    eps = np.array([0.3, 0.2, 0.1, 0.05])
    out = A.fit_exponents(dims, eps, (1.0 / eps) ** 2)
    assert np.isnan(out[:3]).all() and out[3] == 4
    out = A.fit_exponents(np.array([2.0, 4.0]), np.array([0.1, 0.2]), np.array([1.0, 2.0]))
    assert np.isnan(out[:3]).all()


def test_reference_constant_recovers_c():
    metrics = make_metrics(lambda a, m, d, s, n: 0.37 * np.sqrt(d * (d + 1) / n), ns_fn=lambda d: grid(d, 0.3))
    ref = A.analyze(metrics, EPS, n_boot=0)["reference"]
    assert ref.loc[0, "c"] == pytest.approx(0.37, rel=1e-12)
    assert ref.loc[0, "method"] == A.YARDSTICK


def test_trajectories_medians_per_step():
    metrics = make_metrics(power_law(), dims=[2], steps=(0, 5, 50),
                           methods=("sgda/truncated", A.YARDSTICK, "wds"))
    tr = A.trajectories(metrics)
    assert set(tr["method"]) == {"sgda/truncated"}
    assert sorted(tr["step"].unique()) == [0, 5, 50]
    last = tr[tr["step"] == 50].set_index("n")["tv_median"]
    for n, v in last.items():
        assert v == pytest.approx(0.3 * 2 / np.sqrt(n))


def test_csv_output_is_byte_stable():
    metrics = make_metrics(noisy(), dims=[2, 4, 8])
    outs = []
    for _ in range(2):
        buf = io.StringIO()
        A.write_csv(A.analyze(metrics, EPS, n_boot=100)["exponents"], buf)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1] and outs[0].startswith(",".join(A.EXPONENT_COLUMNS))


def test_markdown_helpers():
    t = pd.DataFrame({"a": ["x"], "n": [12000], "v": [0.123456], "w": [np.nan], "v_lo": [0.1], "v_hi": [0.2]})
    md = markdown_table(t[["a", "n", "v", "w"]])
    assert md.splitlines()[0] == "| a | n | v | w |"
    assert md.splitlines()[2] == "| x | 12000 | 0.123 | – |"
    assert with_ci(t, "v").iloc[0] == "0.123 [0.1, 0.2]"
    big = markdown_table(pd.DataFrame({"n": [40425.3, 1930.2, -12345.0]}))
    assert big.splitlines()[2:] == ["| 40400 |", "| 1930 |", "| -12300 |"]


def test_fold_provenance():
    recs = [{"versions": {"torch": "2"}, "device": "cpu", "start": 1, "config": {}},
            {"versions": {"torch": "2"}, "device": "cuda", "start": 2, "config": {}}]
    bench = pd.DataFrame({"s": [1.0, 3.0], "max_rss": [100.0, "-"]})
    s = fold_provenance(recs, bench, games_wall_s=5)
    assert s["jobs"] == 2
    assert s["fields"]["device"] == ["cpu", "cuda"] and s["fields"]["versions"] == [{"torch": "2"}]
    assert "start" not in s["fields"]
    assert s["job_wall_s"] == {"total": 4.0, "min": 1.0, "median": 2.0, "max": 3.0}
    assert s["job_max_rss_mb"] == 100.0
    assert s["train_wall_s_total"] == 5.0 and s["benchmarks"][1] == {"s": 3.0, "max_rss": "-"}
    recs[0]["started"], recs[1]["started"], recs[1]["finished"] = "2026-01-02", "2026-01-01", "2026-01-03"
    folded = fold_provenance(recs)
    assert (folded["started"], folded["finished"]) == ("2026-01-01", "2026-01-03") and "benchmarks" not in folded


def test_job_seconds_counts_a_batch_once():
    metrics = make_metrics(power_law(), dims=[2], seeds=[0], methods=("sgda/truncated", A.YARDSTICK, "wds"))
    metrics.loc[metrics["method"] == "sgda/truncated", "wall_s"] = 7.0  # the batch's time, on every game
    metrics.loc[metrics["method"] == A.YARDSTICK, "wall_s"] = 0.25
    metrics.loc[metrics["method"] == "wds", "wall_s"] = 0.5
    t = A.job_seconds(metrics)
    n = len(grid(2))
    assert len(t) == 1
    assert t.loc[0, "train_s"] == 7.0
    assert t.loc[0, "estimator_s"] == pytest.approx(0.75 * n)
    assert t.loc[0, "total_s"] == pytest.approx(7.0 + 0.75 * n)
