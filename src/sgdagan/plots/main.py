"""The main experiment's figures: training.ipynb and sample_complexity.ipynb."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis import trajectories
from ..markdown import with_ci
from .common import dim_colors, label_ticks, legend_entries, set_log, style


@style()
def tv_vs_step(metrics: pd.DataFrame, tv_table: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Median TV (band: quartiles) against training step at each d's largest n, one panel per method
    and activation; dashed: the yardstick's final median TV on the same samples (tv_vs_n.csv)."""
    traj = trajectories(metrics, yardstick)
    activations = sorted(metrics["activation"].unique())
    methods = sorted(traj["method"].unique(), key=lambda m: (m != headline_method, m))
    dims = sorted(metrics["dim"].unique())
    colors = dim_colors(dims)
    fig, axes = plt.subplots(len(methods), len(activations), squeeze=False, sharey=True,
                             figsize=(3.2 * len(activations), 2.8 * len(methods)))
    for i, method in enumerate(methods):
        for j, act in enumerate(activations):
            ax = axes[i, j]
            for d in dims:
                t = traj[(traj["activation"] == act) & (traj["dim"] == d) & (traj["method"] == method)]
                if t.empty:
                    continue
                n = t["n"].max()
                t = t[t["n"] == n]
                x = t["step"].to_numpy() + 1  # step 0 (the initialisation) plotted at 1
                ax.plot(x, t["tv_median"], color=colors[d], label=f"d={d}, n={n}")
                ax.fill_between(x, t["tv_q25"], t["tv_q75"], color=colors[d], alpha=0.2, lw=0)
                floor = tv_table[(tv_table["activation"] == act) & (tv_table["dim"] == d)
                                 & (tv_table["method"] == yardstick) & (tv_table["n"] == n)]["tv_median"]
                if len(floor) and np.isfinite(floor.iloc[0]):
                    ax.axhline(floor.iloc[0], color=colors[d], ls="--", lw=0.8)
            set_log(ax)
            ax.set_title(f"{act} — {method}")
            ax.set_xlabel("training step + 1")
            if j == 0:
                ax.set_ylabel("median TV")
            ax.legend(fontsize=6, loc="lower left")
    fig.suptitle("TV vs training step at each d's largest n (dashed: yardstick on the same data)")
    fig.tight_layout()
    return fig


# -- sample_complexity.ipynb ------------------------------------------------------------------------


@style()
def tv_vs_n(tv_table: pd.DataFrame, reference: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Median final TV against n (band: bootstrap interval), one panel per activation (rows) and d
    (columns), every method beside the yardstick (dashed black) and c·√(d(d+1)/n) with c from
    reference.csv (dotted grey); × where some games diverged."""
    activations = sorted(tv_table["activation"].unique())
    dims = sorted(tv_table["dim"].unique())
    methods = sorted(tv_table["method"].unique(), key=lambda m: (m == yardstick, m != headline_method, m))
    style = {m: dict(color=f"C{i}", ls="-") for i, m in enumerate(methods)}
    style[yardstick] = dict(color="black", ls="--")
    fig, axes = plt.subplots(len(activations), len(dims), squeeze=False, sharey=True,
                             figsize=(2.6 * len(dims), 2.3 * len(activations)))
    for i, act in enumerate(activations):
        c_ref = reference.loc[reference["activation"] == act, "c"]
        for j, d in enumerate(dims):
            ax = axes[i, j]
            for method in methods:
                t = tv_table[(tv_table["activation"] == act) & (tv_table["dim"] == d) & (tv_table["method"] == method)]
                if t.empty:
                    continue
                st = style[method]
                ax.plot(t["n"], t["tv_median"], marker=".", label=method, **st)
                ax.fill_between(t["n"], t["tv_lo"], t["tv_hi"], color=st["color"], alpha=0.15, lw=0)
                bad = t[t["diverged"] > 0]
                ax.plot(bad["n"], bad["tv_median"], "x", color=st["color"], ms=7)
                if method == yardstick and len(c_ref):
                    n = np.geomspace(t["n"].min(), t["n"].max(), 50)
                    ax.plot(n, c_ref.iloc[0] * np.sqrt(d * (d + 1) / n), ":", color="grey",
                            label="c·√(d(d+1)/n)")
            set_log(ax)
            ax.set_title(f"{act}, d={d}")
            if i == len(activations) - 1:
                ax.set_xlabel("n")
            if j == 0:
                ax.set_ylabel("median TV")
    axes[0, 0].legend(*legend_entries(axes, first=methods), fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig


@style()
def n_eps_vs_d(n_eps: pd.DataFrame, exponents: pd.DataFrame, exponents_detail: pd.DataFrame,
               yardstick: str, headline_method: str) -> Figure:
    """n_ε of the headline method against d (bars: bootstrap interval), one colour per ε, one panel
    per activation; solid: its fit exp(c)·d^α·ε^(−β), dashed: the yardstick's."""
    activations = sorted(n_eps["activation"].unique())
    dims = sorted(n_eps["dim"].unique())
    eps_values = sorted(n_eps["eps"].unique(), reverse=True)
    cmap = plt.get_cmap("plasma")
    eps_color = {e: cmap(k / max(1, len(eps_values) - 1) * 0.85) for k, e in enumerate(eps_values)}
    d_line = np.geomspace(min(dims), max(dims), 50)
    fig, axes = plt.subplots(1, len(activations), squeeze=False, sharey=True,
                             figsize=(3.2 * len(activations), 3.2))
    for ax, act in zip(axes[0], activations):
        for e in eps_values:
            t = n_eps[(n_eps["activation"] == act) & (n_eps["method"] == headline_method) & (n_eps["eps"] == e)]
            yerr = np.vstack([t["n_eps"] - t["n_eps_lo"], t["n_eps_hi"] - t["n_eps"]]).clip(min=0)
            ax.errorbar(t["dim"], t["n_eps"], yerr=np.nan_to_num(yerr), fmt="o", ms=4,
                        color=eps_color[e], label=f"ε={e:g}")
            for method, ls in ((headline_method, "-"), (yardstick, "--")):
                fit = exponents_detail[(exponents_detail["activation"] == act)
                                       & (exponents_detail["method"] == method)]
                if len(fit) and np.isfinite(fit["alpha"].iloc[0]):
                    f = fit.iloc[0]
                    ax.plot(d_line, np.exp(f["c"]) * d_line ** f["alpha"] * e ** (-f["beta"]), ls,
                            color=eps_color[e], lw=0.8)
        row = exponents[(exponents["activation"] == act) & (exponents["method"] == headline_method)]
        identified = len(row) and np.isfinite(row["alpha"].iloc[0])
        ax.set_title(f"{act}: " + (f"α = {with_ci(row, 'alpha').iloc[0]}" if identified else "α not identified"),
                     fontsize=8)
        set_log(ax, xbase=2)
        if ax.get_xscale() == "log":
            label_ticks(ax.xaxis, dims)
        ax.set_xlabel("d")
    axes[0, 0].set_ylabel(f"n_ε ({headline_method})")
    axes[0, -1].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return fig


@style()
def efficiency(ratios: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Each method's median TV over the yardstick's at equal n (band: paired bootstrap interval),
    one line per d, one panel per method (rows) and activation (columns)."""
    activations = sorted(ratios["activation"].unique())
    dims = sorted(ratios["dim"].unique())
    methods = sorted(ratios["method"].unique(), key=lambda m: (m != headline_method, m))
    colors = dim_colors(dims)
    fig, axes = plt.subplots(max(1, len(methods)), len(activations), squeeze=False, sharey=True,
                             figsize=(3.2 * len(activations), 2.8 * max(1, len(methods))))
    for i, method in enumerate(methods):
        for j, act in enumerate(activations):
            ax = axes[i, j]
            for d in dims:
                t = ratios[(ratios["activation"] == act) & (ratios["dim"] == d) & (ratios["method"] == method)]
                ax.plot(t["n"], t["ratio"], marker=".", color=colors[d], label=f"d={d}")
                ax.fill_between(t["n"], t["ratio_lo"], t["ratio_hi"], color=colors[d], alpha=0.15, lw=0)
            set_log(ax)
            if ax.get_yscale() == "log":
                ax.set_ylim(1 / 3, 3)  # bands of tiny-n cells can be wider; see efficiency.csv
            ax.axhline(1.0, color="black", lw=0.8)
            ax.set_title(f"{act} — {method}", fontsize=8)
            ax.set_xlabel("n")
            if j == 0:
                ax.set_ylabel(f"TV ratio to {yardstick}")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return fig
