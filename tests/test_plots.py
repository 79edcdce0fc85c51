"""Unit tests of sgdagan.plots: each figure function on a tiny synthetic table, checked for its
panels, legend entries, log axes and diverged markers; `save` and `read_tables` on disk."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from sgdagan import plots as P  # noqa: E402

YARD = "moment_inversion"
HEAD = "sgda/truncated"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labels(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def assert_log(ax, x=True, y=True):
    assert (ax.get_xscale(), ax.get_yscale()) == ("log" if x else "linear", "log" if y else "linear")


def marked(ax, marker: str) -> bool:
    """Whether `ax` draws at least one point with `marker` (an empty series does not count)."""
    return any(line.get_marker() == marker and len(line.get_xdata()) for line in ax.get_lines())


# -- the main sweep's tables -------------------------------------------------------------------------


def tv_table(activations=("identity", "relu"), dims=(4, 8), diverged_at=None) -> pd.DataFrame:
    """tv_vs_n.csv: TV ∝ √(d²/n) per method; wds only for relu; `diverged_at` = (activation, d, method, n)."""
    rows = []
    for act in activations:
        for d in dims:
            for method, scale in ((HEAD, 1.1), (YARD, 1.0), ("wds", 1.6)):
                if method == "wds" and act != "relu":
                    continue
                for n in (10 * d * d, 40 * d * d, 160 * d * d):
                    tv = scale * 0.3 * np.sqrt(d * d / n)
                    rows.append(dict(activation=act, dim=d, method=method, n=n, tv_median=tv, tv_lo=0.8 * tv,
                                     tv_hi=1.2 * tv, tv_q25=0.9 * tv, tv_q75=1.1 * tv, seeds=5,
                                     diverged=int((act, d, method, n) == diverged_at)))
    return pd.DataFrame(rows)


def test_tv_vs_n_names_every_method_even_one_missing_from_the_first_panel():
    table = tv_table(diverged_at=("relu", 8, HEAD, 640))
    reference = pd.DataFrame({"activation": ["identity", "relu"], "method": YARD, "c": [0.3, 0.4]})
    fig = P.tv_vs_n(table, reference, YARD, HEAD)
    axes = np.array(fig.axes).reshape(2, 2)  # activations × dims
    assert len(fig.axes) == 4
    # wds is drawn in the relu row only, yet the legend (first panel, identity) names it
    assert "wds" not in [line.get_label() for line in axes[0, 0].get_lines()]
    assert labels(axes[0, 0].get_legend()) == [HEAD, "wds", YARD, "c·√(d(d+1)/n)"]
    for ax in fig.axes:
        assert_log(ax)
    assert marked(axes[1, 1], "x")  # the diverged cell
    assert not any(marked(ax, "x") for ax in (axes[0, 0], axes[0, 1], axes[1, 0]))


def test_tv_vs_step_one_panel_per_method_and_activation():
    rows = []
    for act in ("relu", "tanh"):
        for d in (4, 8):
            for seed in range(3):
                for n in (100, 400):
                    for method in (HEAD, "alt/truncated", YARD):
                        for step in (0, 10, 100):
                            rows.append(dict(activation=act, dim=d, seed=seed, n=n, method=method, step=step,
                                             tv=0.9 / (1 + step) + 0.01 * seed, frob_rel=0.5, status="ok"))
    metrics = pd.DataFrame(rows)
    fig = P.tv_vs_step(metrics, tv_table(activations=("relu", "tanh"), dims=(4, 8)), YARD, HEAD)
    assert len(fig.axes) == 4  # trained methods (the yardstick has no steps) × activations
    assert fig.axes[0].get_title() == f"relu — {HEAD}"  # the headline method's row first
    for ax in fig.axes:
        assert_log(ax)
        assert labels(ax.get_legend()) == ["d=4, n=400", "d=8, n=400"]


def test_n_eps_vs_d_fits_and_log2_axis():
    rows = [dict(activation=act, method=method, dim=d, eps=e, n_eps=50 * d * d / e, n_eps_lo=40 * d * d / e,
                 n_eps_hi=60 * d * d / e, censored="ok")
            for act in ("relu", "tanh") for method in (HEAD, YARD) for d in (4, 8, 16) for e in (0.2, 0.1)]
    detail = pd.DataFrame([dict(activation=act, method=m, c=np.log(50), alpha=2.0, beta=1.0, points=6, r2=1.0,
                                boot_valid=1) for act in ("relu", "tanh") for m in (HEAD, YARD)])
    exponents = detail[["activation", "method", "alpha", "beta"]].assign(alpha_lo=1.9, alpha_hi=2.1, beta_lo=0.9,
                                                                         beta_hi=1.1)
    exponents.loc[exponents["activation"] == "tanh", "alpha"] = np.nan
    fig = P.n_eps_vs_d(pd.DataFrame(rows), exponents, detail, YARD, HEAD)
    assert len(fig.axes) == 2
    assert labels(fig.axes[-1].get_legend()) == ["ε=0.2", "ε=0.1"]
    assert fig.axes[0].get_title() == "relu: α = 2 [1.9, 2.1]"
    assert fig.axes[1].get_title() == "tanh: α not identified"
    for ax in fig.axes:
        assert_log(ax)
        assert ax.xaxis.get_transform().base == 2
        assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "8", "16"]
        assert len(ax.get_lines()) >= 2 * 2  # a headline and a yardstick fit line per ε


def test_efficiency_one_panel_per_method_and_activation():
    rows = [dict(activation=act, method=m, dim=d, n=n, tv_method=0.1, tv_yardstick=0.1, ratio=r, ratio_lo=r / 1.1,
                 ratio_hi=r * 1.1) for act in ("relu", "tanh") for m, r in ((HEAD, 1.0), ("wds", 1.7))
            for d in (4, 8) for n in (100, 1000)]
    fig = P.efficiency(pd.DataFrame(rows), YARD, HEAD)
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == f"relu — {HEAD}"
    assert labels(fig.axes[0].get_legend()) == ["d=4", "d=8"]
    for ax in fig.axes:
        assert_log(ax)
        assert ax.get_ylim() == pytest.approx((1 / 3, 3))


# -- the ablations' tables ---------------------------------------------------------------------------


def summary_row(act, d, n, method, variant="", kappa=4.0, tv=0.05, diverged=0, **extra) -> dict:
    """One row of an ablation's summary table (the columns of ablations.summary_table)."""
    dynamics, _, discriminator = method.partition("/")
    trained = bool(discriminator)
    return dict(activation=act, dim=d, width=d, kappa=kappa, n=n, variant=variant or np.nan, method=method,
                discriminator=discriminator or np.nan, dynamics=dynamics if trained else np.nan,
                penalty=1.0 if trained else np.nan, lr_gen=1.0 if trained else np.nan,
                lr_disc=1.0 if trained else np.nan, runs=3, diverged=diverged,
                tv_median=tv, tv_q25=0.9 * tv, tv_q75=1.1 * tv, frob_abs_median=2 * tv, frob_abs_q25=1.8 * tv,
                frob_abs_q75=2.2 * tv, frob_rel_median=tv, identifies_sigma="yes" if trained else np.nan, **extra)


def steps_rows(summary: pd.DataFrame, steps=(0, 10, 100, 1000)) -> pd.DataFrame:
    """The _steps table of a summary: TV falling to its final value, for its trained rows."""
    trained = summary[summary["method"].str.contains("/")]
    return pd.DataFrame([{**row, "step": s, "tv_median": row["tv_median"] * (1 + 10 / (1 + s)),
                          "tv_q25": row["tv_q25"], "tv_q75": row["tv_q75"] * 2}
                         for row in trained.to_dict("records") for s in steps])


def test_discriminators_legend_names_every_family_and_diverged_games():
    rows = [summary_row("relu", 8, 2000, YARD, tv=0.02), summary_row("relu", 8, 2000, "wds", tv=0.04),
            summary_row("relu", 8, 2000, "sgda/linear", "linear", tv=0.5),
            summary_row("relu", 8, 2000, "sgda/truncated", "truncated", tv=0.02, diverged=1),
            summary_row("tanh", 8, 2000, YARD, tv=0.02),
            summary_row("tanh", 8, 2000, "sgda/truncated", "truncated", tv=0.02),
            summary_row("tanh", 8, 2000, "sgda/mlp", "mlp", tv=0.1)]  # mlp only in the second panel
    summary = pd.DataFrame(rows)
    fig = P.discriminators(summary, steps_rows(summary), YARD)
    assert len(fig.axes) == 2
    assert labels(fig.axes[0].get_legend()) == ["linear", "truncated (1 diverged)", f"{YARD} (no GAN)",
                                                "wds (no GAN)", "truncated", "mlp"]
    for ax in fig.axes:
        assert_log(ax)

    table = P.discriminators_table(summary, YARD)
    yard = table[table["method"] == YARD]
    assert np.allclose(yard["tv_over_yardstick"], 1.0)
    relu = table[table["activation"] == "relu"]
    assert list(relu["family"]) == ["linear", "truncated", "(no GAN)", "(no GAN)"]


def dynamics_summary(penalties=(1.0,)) -> pd.DataFrame:
    rows = [summary_row("relu", 4, 1000, YARD, tv=0.02, target_tv=0.1, steps_to_target=np.nan, reached=np.nan)]
    for penalty in penalties:
        for method, tv in (("sgda/truncated", 0.03), ("eg/truncated", 0.025)):
            for lr, reach in ((0.3, 200.0), (1.0, np.inf)):
                dyn = method.split("/")[0]
                rows.append(summary_row(
                    "relu", 4, 1000, method, f"{dyn} penalty={penalty:g} lr_gen={lr:g} lr_disc={lr:g}",
                    tv=tv * (1 + lr) / penalty, diverged=int(method == "eg/truncated" and lr == 1.0), target_tv=0.1,
                    steps_to_target=reach, reached=float(np.isfinite(reach))) | dict(lr_gen=lr, lr_disc=lr,
                                                                                    penalty=penalty))
    return pd.DataFrame(rows)


def test_dynamics_one_row_per_penalty_strongest_first():
    summary = dynamics_summary(penalties=(0.1, 1.0))
    fig = P.dynamics(summary, steps_rows(summary), YARD)
    assert len(fig.axes) == 6
    assert [ax.get_title().rsplit("λ=", 1)[1] for ax in fig.axes[::3]] == ["0.1", "1"]
    every, best = P.dynamics_tables(summary)
    assert list(every["penalty"]) == [1.0] * 4 + [0.1] * 4  # the strongest penalty (the best-response regime) first
    assert list(best["penalty"]) == [1.0, 1.0, 0.1, 0.1] and list(best["lr_gen"]) == [0.3] * 4


def test_dynamics_three_panels_rings_diverged_settings_and_marks_never():
    summary = dynamics_summary()
    fig = P.dynamics(summary, steps_rows(summary), YARD)
    ax_tv, ax_steps, ax_curve = fig.axes
    assert_log(ax_tv, x=False)
    assert_log(ax_steps, x=False)
    assert_log(ax_curve)
    assert [t.get_text() for t in ax_tv.get_xticklabels()] == ["sgda", "eg"]
    assert "never" in [t.get_text() for t in ax_steps.get_yticklabels()]
    rings = [c for c in ax_tv.collections if c.get_label() == "some runs diverged"]
    assert len(rings) == 1 and len(rings[0].get_offsets()) == 1
    assert np.allclose(rings[0].get_edgecolor()[0], matplotlib.colors.to_rgba("red"))
    assert labels(fig.legends[0]) == ["η_G=0.3, η_D=0.3", "η_G=1, η_D=1", "some runs diverged", f"{YARD} (no GAN)",
                                      "target TV = 0.1"]
    assert labels(ax_curve.get_legend()) == ["sgda (η_G=0.3, η_D=0.3)", "eg (η_G=0.3, η_D=0.3)"]

    every, best = P.dynamics_tables(summary)
    assert list(every["dynamics"]) == ["sgda", "sgda", "eg", "eg"]
    assert list(best["lr_gen"]) == [0.3, 0.3]


def bilinear_runs() -> pd.DataFrame:
    rows = []
    for method, gammas in (("sgda", [np.nan]), ("eg", [np.nan]), ("co", [0.5, 1.0])):
        for gamma in gammas:
            for eta in (0.5, 1.5):
                diverges = method == "sgda" or eta > 1
                outcome = "diverged" if diverges else "converged"
                rows.append(dict(method=method, eta=eta, gamma=gamma, eta_sigma_max=eta, steps=500,
                                 outcome=outcome, converged=not diverges, theory_converges=not diverges,
                                 agrees=not (method == "co" and gamma == 1.0 and eta == 0.5), ratio=1.0, rho=1.0,
                                 expected=outcome, theory=outcome))
    return pd.DataFrame(rows)


def test_bilinear_rows_per_method_and_gamma_with_boundaries():
    boundaries = pd.DataFrame([dict(method="sgda", gamma=np.nan, sigma_max_eta_exact=0.0, sigma_max_eta_stated=0.0),
                               dict(method="eg", gamma=np.nan, sigma_max_eta_exact=1.0, sigma_max_eta_stated=1.0),
                               dict(method="co", gamma=0.5, sigma_max_eta_exact=0.8, sigma_max_eta_stated=0.7),
                               dict(method="co", gamma=1.0, sigma_max_eta_exact=9.0, sigma_max_eta_stated=9.0)])
    fig = P.bilinear(bilinear_runs(), boundaries)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sgda", "eg", "co (γ=0.5)", "co (γ=1)"]
    assert labels(ax.get_legend()) == ["converged", "bounded", "diverged", "disagrees with the exact prediction",
                                       "exact boundary (ρ = 1)", "closed-form boundary", "boundary beyond the grid"]
    red = matplotlib.colors.to_rgba("tab:red")
    diverged = [c for c in ax.collections if len(c.get_facecolor()) and np.allclose(c.get_facecolor()[0], red)]
    assert sum(len(c.get_offsets()) for c in diverged) == 5  # sgda twice, then η = 1.5 for eg and both co

    assert labels(P.bilinear(bilinear_runs(), None).axes[0].get_legend())[-1] == "disagrees with the exact prediction"
    per_method, outcomes = P.bilinear_tables(bilinear_runs())
    assert list(per_method["method"]) == ["sgda", "eg", "co"]
    assert list(outcomes.loc[outcomes["method"] == "co (γ=1)", "0.5"]) == ["C*"]


def test_prior_work_one_panel_per_activation_and_variant_counts_diverged_games():
    rows = []
    for act in ("leaky_relu", "relu"):
        for d in (3, 5):
            for n in (500, 1000, 2000):
                for width, variant in ((d, "k = d"), (2, "k = 2")):
                    rows.append(summary_row(act, d, n, YARD, tv=np.nan) | dict(width=width))
                    rows += [summary_row(act, d, n, m, variant, tv=np.nan, diverged=2 * ((act, d, n, m, width) == (
                        "relu", 5, 500, HEAD, 2))) | dict(width=width) for m in ("sgda/quadratic", HEAD)]
    summary = pd.DataFrame(rows)
    summary["frob_abs_median"] = 1 / np.sqrt(summary["n"]) * np.where(summary["width"] == 2, 2.0, 1.0)
    fig = P.prior_work(summary, YARD, HEAD)
    assert len(fig.axes) == 4
    assert labels(fig.axes[1].get_legend()) == ["d=3", "d=5", HEAD, "sgda/quadratic", YARD, "slope −1/2"]
    assert [ax.get_title() for ax in fig.axes] == ["leaky_relu, k = 2", "leaky_relu, k = d",
                                                   "relu, k = 2 (2 diverged, not drawn)", "relu, k = d"]
    # each panel draws the yardstick on its own variant's data (its width): k = 2 panels sit 2x higher
    yard_k2, yard_kd = (ax.get_lines()[2].get_ydata() for ax in fig.axes[:2])
    assert np.allclose(np.asarray(yard_k2) / np.asarray(yard_kd), 2.0)
    for ax in fig.axes:
        assert_log(ax)

    wide = P.against(summary, ["activation", "method", "dim"], "n", "frob_abs_median", lambda n: f"n={n}")
    assert list(wide.columns) == ["activation", "method", "dim", "n=500", "n=1000", "n=2000"]


def test_condition_one_panel_per_activation_and_dim():
    rows = [summary_row(act, 5, n, m, kappa=k, tv=0.05, diverged=int((act, n, k, m) == ("tanh", 2000, 25.0, HEAD)))
            for act in ("relu", "tanh") for n in (2000, 20000) for k in (1.0, 5.0, 25.0)
            for m in (HEAD, YARD, "wds") if m != "wds" or act == "relu"]
    summary = pd.DataFrame(rows)
    fig = P.condition(summary, YARD, HEAD)
    assert len(fig.axes) == 2
    assert labels(fig.axes[-1].get_legend()) == [HEAD, "wds", YARD, "n=20000", "n=2000"]
    assert fig.axes[0].get_title() == "relu, d=5"
    assert fig.axes[1].get_title() == "tanh, d=5 (1 diverged games)"
    for ax in fig.axes:
        assert_log(ax)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "25"]

    text = P.setting(summary, steps_rows(summary))
    assert "κ ∈ {1, 5, 25}" in text and "1 of 36 trained games diverged" in text


def test_note_and_no_finite_data():
    fig = P.note("no tables")
    assert [t.get_text() for t in fig.axes[0].texts] == ["no tables"]
    summary = pd.DataFrame([summary_row("relu", 5, 2000, HEAD, "k = d", tv=np.inf)])
    fig = P.prior_work(summary.assign(frob_abs_median=np.inf), YARD, HEAD)
    assert [t.get_text() for t in fig.axes[0].texts] == ["no finite data"]
    assert_log(fig.axes[0], x=False, y=False)


# -- style, files -----------------------------------------------------------------------------------


def test_figures_keep_their_style_and_leave_the_callers_alone():
    matplotlib.rcParams["font.size"] = 13.0
    try:
        fig = P.note("x")
        assert fig.dpi == P.STYLE["figure.dpi"]
        assert fig.axes[0].texts[0].get_fontsize() == P.STYLE["font.size"]
        assert matplotlib.rcParams["font.size"] == 13.0
    finally:
        matplotlib.rcdefaults()
        matplotlib.use("Agg")


def test_save_writes_png_and_svg(tmp_path):
    P.save(P.note("saved"), tmp_path / "figures", "name")
    png, svg = tmp_path / "figures" / "name.png", tmp_path / "figures" / "name.svg"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
    assert b"<svg" in svg.read_bytes() and b"saved" in svg.read_bytes()
    assert b"<dc:date>" not in svg.read_bytes()  # no timestamp: the same figure gives the same bytes


def test_read_tables(tmp_path):
    (tmp_path / "t.csv").write_text("method,variant,x\nnone,,1\nNA,a,2\n")
    tables = P.read_tables(tmp_path, ["t", "absent"])
    assert tables["absent"] is None
    assert list(tables["t"]["method"]) == ["none", "NA"]  # names stay text; only an empty field is NaN
    assert tables["t"]["variant"].isna().tolist() == [True, False]


def test_vanilla_one_column_per_cell_headline_black_and_steps_at_the_largest_n():
    headline, vanilla = "headline (inverse-time decay, tail average)", "vanilla (constant η_G=1, last iterate)"
    rows = [summary_row(act, 8, n, m, v, tv=tv / n**0.5) for act in ("relu", "tanh") for n in (200, 1000, 5000)
            for m, v, tv in ((YARD, "", 1.0), (HEAD, headline, 1.05), (HEAD, vanilla, 1.5))]
    summary = pd.DataFrame(rows)
    fig = P.vanilla(summary, steps_rows(summary), YARD)
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes] == ["relu, d=8", "tanh, d=8", "relu, d=8, n=5000", "tanh, d=8, n=5000"]
    assert labels(fig.axes[0].get_legend()) == [f"{YARD} (no GAN)", headline, vanilla]
    curves = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert matplotlib.colors.to_hex(curves[headline].get_color()) == "#000000"
    for ax in fig.axes:
        assert_log(ax)
