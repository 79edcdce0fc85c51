"""The report's figures, one function per figure, drawn from the tables the pipeline writes.

Each figure function takes tables already read (reports/tables/*.csv through `read_tables`; the
training figure also results/metrics.parquet) and plain parameters, and returns a matplotlib Figure;
only `save` writes files. The last section shapes the captions and tables that the ablations
notebook shows beside its figures. The notebooks in workflow/notebooks/ (run by papermill in rule
report_notebooks) call these functions and name the figure files.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .analysis import trajectories
from .markdown import with_ci
from .tables import is_trained

# The report's look; figure functions draw under it whatever the caller's rcParams are, and `save`
# writes under it (hashsalt: the same figure gives the same SVG bytes).
STYLE = {"figure.dpi": 90, "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3,
         "svg.hashsalt": "sgdagan", "font.size": 9}
CELL = ["activation", "dim", "n", "kappa"]  # the keys of one cell of an ablation sweep
FAMILIES = ["linear", "quadratic", "truncated", "mlp", "wgan_gp"]  # legend order of the discriminators
DYNAMICS = ["sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel"]  # order of the game dynamics
OUTCOME_COLORS = {"converged": "tab:green", "bounded": "tab:orange", "diverged": "tab:red"}


@contextlib.contextmanager
def _style():
    """STYLE for the duration, restoring only its own keys afterwards. mpl.rc_context restores every
    key: when a notebook's first figure loads IPython's inline backend inside it, the interactive
    mode that backend turns on is reverted, and later figures are no longer shown in the notebook."""
    saved = {key: mpl.rcParams[key] for key in STYLE}
    mpl.rcParams.update(STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


# -- notebook setup ---------------------------------------------------------------------------------


def chdir_to_repository(tables_dir) -> None:
    """Move to the repository root when `tables_dir` (relative to it) is not found from here, as when
    a notebook is opened on its own from workflow/notebooks/."""
    if Path(tables_dir).exists():
        return
    for parent in Path.cwd().resolve().parents:
        if (parent / "Snakefile").exists() and (parent / tables_dir).exists():
            os.chdir(parent)
            return


def read_tables(tables_dir, names) -> dict[str, pd.DataFrame | None]:
    """{name: tables_dir/{name}.csv} for each name, None where the file is absent. Only an empty
    field reads as NaN (the estimators' empty variant), never a name such as 'none' or 'NA'."""
    paths = {name: Path(tables_dir) / f"{name}.csv" for name in names}
    return {name: pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else None
            for name, path in paths.items()}


def save(fig: Figure, figures_dir, name: str) -> None:
    """Write figures_dir/{name}.png and .svg (no timestamps in the files, so reruns give equal bytes)."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    with _style():
        fig.savefig(figures_dir / f"{name}.png", bbox_inches="tight", metadata={"Software": None})
        fig.savefig(figures_dir / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})


# -- helpers of the figures -------------------------------------------------------------------------


def _set_log(ax, x=True, y=True, xbase=10) -> None:
    """Log scales where the axes hold positive finite data; otherwise say there is none
    (e.g. every game of a panel diverged, or every n_eps is censored)."""
    ax.relim()
    lim = ax.dataLim
    finite = np.all(np.isfinite([lim.x0, lim.x1, lim.y0, lim.y1]))
    if not finite or (x and lim.x0 <= 0) or (y and lim.y0 <= 0):
        ax.text(0.5, 0.5, "no finite data", transform=ax.transAxes, ha="center", va="center")
        return
    if x:
        ax.set_xscale("log", base=xbase)
    if y:
        ax.set_yscale("log")


def _label_ticks(axis, values) -> None:
    """Ticks at exactly `values` (the d or κ of the grid) on a log axis, without minor ticks."""
    axis.set_ticks(values, [f"{v:g}" for v in values])
    axis.set_minor_locator(plt.NullLocator())


def _legend_entries(axes, first=()) -> tuple[list, list[str]]:
    """(handles, labels) of every label drawn on any of `axes`, once each: a series that only some
    panels hold (wds is ReLU-only) still gets its entry. Labels in `first` lead, in that order; the
    rest follow in the order first drawn."""
    entries = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    labels = sorted(entries, key=lambda label: list(first).index(label) if label in first else len(first))
    return [entries[label] for label in labels], labels


def _dim_colors(dims) -> dict:
    cmap = plt.get_cmap("viridis")
    return {d: cmap(i / max(1, len(dims) - 1) * 0.9) for i, d in enumerate(sorted(dims))}


def _order(values, first=()) -> list:
    """Distinct values in the order of `first`, then the rest sorted."""
    values = list(dict.fromkeys(values))
    return sorted(values, key=lambda v: (list(first).index(v) if v in first else len(first), str(v)))


def _yardstick_last(values, headline_method: str, yardstick: str) -> list:
    """The methods in legend order: the headline method first, the yardstick last."""
    methods = _order(values, [headline_method])
    return [m for m in methods if m != yardstick] + ([yardstick] if yardstick in methods else [])


def _trained(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["method"].map(is_trained)]


def _estimators(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["method"].map(is_trained)]


def _cells_of(table: pd.DataFrame, keys=CELL) -> list[tuple]:
    """The distinct cells (values of `keys`) of a table, sorted: one panel each."""
    keys = list(keys)
    return [tuple(r) for r in table[keys].drop_duplicates().sort_values(keys).itertuples(index=False)]


def _select(table: pd.DataFrame, cell, keys=CELL) -> pd.DataFrame:
    mask = np.ones(len(table), dtype=bool)
    for key, value in zip(keys, cell):
        mask &= (table[key] == value).to_numpy()
    return table[mask]


def _cell_title(cell, table: pd.DataFrame) -> str:
    act, d, n, kappa = cell
    return f"{act}, d={d}, n={n}" + (f", κ={kappa:g}" if table["kappa"].nunique() > 1 else "")


def _nums(values) -> str:
    """Sorted distinct numbers as '3, 5, 7' (integers without a decimal point)."""
    vals = sorted({float(v) for v in values if pd.notna(v)})
    return ", ".join(str(int(v)) if v.is_integer() else f"{v:g}" for v in vals)


# -- training.ipynb -------------------------------------------------------------------------------


@_style()
def tv_vs_step(metrics: pd.DataFrame, tv_table: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Median TV (band: quartiles) against training step at each d's largest n, one panel per method
    and activation; dashed: the yardstick's final median TV on the same samples (tv_vs_n.csv)."""
    traj = trajectories(metrics, yardstick)
    activations = sorted(metrics["activation"].unique())
    methods = sorted(traj["method"].unique(), key=lambda m: (m != headline_method, m))
    dims = sorted(metrics["dim"].unique())
    colors = _dim_colors(dims)
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
            _set_log(ax)
            ax.set_title(f"{act} — {method}")
            ax.set_xlabel("training step + 1")
            if j == 0:
                ax.set_ylabel("median TV")
            ax.legend(fontsize=6, loc="lower left")
    fig.suptitle("TV vs training step at each d's largest n (dashed: yardstick on the same data)")
    fig.tight_layout()
    return fig


# -- sample_complexity.ipynb ------------------------------------------------------------------------


@_style()
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
            _set_log(ax)
            ax.set_title(f"{act}, d={d}")
            if i == len(activations) - 1:
                ax.set_xlabel("n")
            if j == 0:
                ax.set_ylabel("median TV")
    axes[0, 0].legend(*_legend_entries(axes, first=methods), fontsize=6, loc="lower left")
    fig.tight_layout()
    return fig


@_style()
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
        _set_log(ax, xbase=2)
        if ax.get_xscale() == "log":
            _label_ticks(ax.xaxis, dims)
        ax.set_xlabel("d")
    axes[0, 0].set_ylabel(f"n_ε ({headline_method})")
    axes[0, -1].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return fig


@_style()
def efficiency(ratios: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Each method's median TV over the yardstick's at equal n (band: paired bootstrap interval),
    one line per d, one panel per method (rows) and activation (columns)."""
    activations = sorted(ratios["activation"].unique())
    dims = sorted(ratios["dim"].unique())
    methods = sorted(ratios["method"].unique(), key=lambda m: (m != headline_method, m))
    colors = _dim_colors(dims)
    fig, axes = plt.subplots(max(1, len(methods)), len(activations), squeeze=False, sharey=True,
                             figsize=(3.2 * len(activations), 2.8 * max(1, len(methods))))
    for i, method in enumerate(methods):
        for j, act in enumerate(activations):
            ax = axes[i, j]
            for d in dims:
                t = ratios[(ratios["activation"] == act) & (ratios["dim"] == d) & (ratios["method"] == method)]
                ax.plot(t["n"], t["ratio"], marker=".", color=colors[d], label=f"d={d}")
                ax.fill_between(t["n"], t["ratio_lo"], t["ratio_hi"], color=colors[d], alpha=0.15, lw=0)
            _set_log(ax)
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


# -- ablations.ipynb ------------------------------------------------------------------------------


@_style()
def note(message: str) -> Figure:
    """A figure that only says `message`: an experiment without data still writes its figure."""
    fig, ax = plt.subplots(figsize=(4, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    return fig


@_style()
def discriminators(summary: pd.DataFrame, steps: pd.DataFrame, yardstick: str) -> Figure:
    """Median TV (band: quartiles) against training step per discriminator family (the sweep's
    variant), one panel per cell; horizontal lines: the no-GAN estimators' final TV."""
    panels = _cells_of(summary)
    families = _order(_trained(summary)["variant"], FAMILIES)
    color = {f: f"C{i}" for i, f in enumerate(families)}
    fig, axes = plt.subplots(1, len(panels), squeeze=False, sharey=True, figsize=(3.8 * len(panels), 3.4))
    for ax, cell in zip(axes[0], panels):
        curves, final = _select(steps, cell), _select(summary, cell)
        for family in families:
            c = curves[(curves["variant"] == family) & (curves["step"] > 0)].sort_values("step")
            if c.empty:
                continue
            bad = final.loc[final["variant"] == family, "diverged"].sum()
            label = family + (f" ({int(bad)} diverged)" if bad else "")
            ax.plot(c["step"], c["tv_median"], marker=".", ms=3, color=color[family], label=label)
            ax.fill_between(c["step"], c["tv_q25"], c["tv_q75"], color=color[family], alpha=0.15, lw=0)
        for _, row in _estimators(final).iterrows():
            if not np.isfinite(row["tv_median"]):
                continue
            is_yard = row["method"] == yardstick
            ax.axhline(row["tv_median"], color="black" if is_yard else "grey", ls="--" if is_yard else ":",
                       lw=1.2, label=f"{row['method']} (no GAN)")
        _set_log(ax)
        ax.set_title(_cell_title(cell, summary))
        ax.set_xlabel("training step")
    axes[0, 0].set_ylabel("median TV over seeds")
    axes[0, 0].legend(*_legend_entries(axes), fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@_style()
def dynamics(summary: pd.DataFrame, steps: pd.DataFrame, yardstick: str) -> Figure:
    """One row per cell: (a) final median TV (bar: quartiles; red ring: some runs diverged) and
    (b) median steps to the target TV of every method at every step-size setting, (c) TV against
    step of each method at its best setting (lowest final median TV)."""
    tr = _trained(summary)
    target = float(tr["target_tv"].iloc[0])
    panels = _cells_of(tr)
    methods = _order(tr["dynamics"], DYNAMICS)
    settings = sorted({(g, d) for g, d in zip(tr["lr_gen"], tr["lr_disc"])})
    markers = "osD^vP*Xh<>p"
    style = {s: dict(color=f"C{i % 10}", marker=markers[i % len(markers)]) for i, s in enumerate(settings)}
    # the settings of a method side by side around its x position
    offset = dict(zip(settings, np.linspace(-0.3, 0.3, len(settings)) if len(settings) > 1 else [0.0]))
    xpos = {m: i for i, m in enumerate(methods)}
    never = 2.0 * max(float(steps["step"].max()), 1.0)  # where "never reached" is drawn
    reach_all = tr["steps_to_target"].to_numpy(dtype=float)
    low = max(1.0, np.min(reach_all[np.isfinite(reach_all)], initial=never / 2) / 1.6)
    ticks = [v for k in range(8) for v in (10 ** k, 2 * 10 ** k, 5 * 10 ** k) if low <= v <= never / 1.6]
    fig, axes = plt.subplots(len(panels), 3, squeeze=False, figsize=(14, 3.9 * len(panels)))
    for (ax_tv, ax_steps, ax_curve), cell in zip(axes, panels):
        t, curves = _select(tr, cell), _select(steps, cell)
        est = _estimators(_select(summary, cell))
        yard = est.loc[est["method"] == yardstick, "tv_median"]
        ringed = False
        for s in settings:
            u = t[(t["lr_gen"] == s[0]) & (t["lr_disc"] == s[1])]
            if u.empty:
                continue
            x = u["dynamics"].map(xpos).to_numpy() + offset[s]
            label = f"η_G={s[0]:g}, η_D={s[1]:g}"
            st = style[s]
            ax_tv.vlines(x, u["tv_q25"], u["tv_q75"], color=st["color"], lw=1, alpha=0.6)
            ax_tv.scatter(x, u["tv_median"], s=26, label=label, zorder=3, **st)
            bad = (u["diverged"] > 0).to_numpy()
            if bad.any():
                ax_tv.scatter(x[bad], u["tv_median"].to_numpy()[bad], s=110, facecolors="none",
                              edgecolors="red", lw=1.2, zorder=4, label=None if ringed else "some runs diverged")
                ringed = True
            reach = u["steps_to_target"].to_numpy(dtype=float)
            fin = np.isfinite(reach)
            ax_steps.scatter(x[fin], np.maximum(reach[fin], 1), s=26, label=label, zorder=3, **st)
            ax_steps.scatter(x[~fin], np.full((~fin).sum(), never), s=34, facecolors="none",
                             edgecolors=st["color"], marker=st["marker"], lw=1.2, zorder=3)
        if len(yard):
            ax_tv.axhline(yard.iloc[0], color="black", ls="--", lw=1.2, label=f"{yardstick} (no GAN)")
        ax_tv.axhline(target, color="grey", ls=":", lw=1.2, label=f"target TV = {target:g}")
        _set_log(ax_tv, x=False)
        ax_tv.set_ylabel("final median TV")
        ax_tv.set_title(f"(a) final TV — {_cell_title(cell, tr)}")
        ax_steps.axhspan(never / 1.5, never * 1.5, color="grey", alpha=0.12, lw=0)
        ax_steps.set_yscale("log")
        ax_steps.set_ylim(low, never * 1.6)
        ax_steps.set_yticks(ticks + [never], [f"{v:g}" for v in ticks] + ["never"])
        ax_steps.yaxis.set_minor_locator(plt.NullLocator())
        ax_steps.set_ylabel(f"median steps to TV ≤ {target:g}")
        ax_steps.set_title(f"(b) steps to the target — {_cell_title(cell, tr)}")
        for ax in (ax_tv, ax_steps):
            ax.set_xticks(range(len(methods)), methods)
            ax.set_xlim(-0.6, len(methods) - 0.4)
            ax.grid(axis="x", visible=False)
            for k in range(1, len(methods)):
                ax.axvline(k - 0.5, color="lightgrey", lw=0.6)
        best = t.sort_values(["tv_median", "steps_to_target"]).drop_duplicates("dynamics")
        for i, m in enumerate(methods):
            b = best[best["dynamics"] == m]
            if b.empty:
                continue
            b = b.iloc[0]
            c = curves[(curves["variant"] == b["variant"]) & (curves["step"] > 0)].sort_values("step")
            ax_curve.plot(c["step"], c["tv_median"], color=plt.get_cmap("tab10")(i % 10), marker=".", ms=3,
                          label=f"{m} (η_G={b['lr_gen']:g}, η_D={b['lr_disc']:g})")
        if len(yard):
            ax_curve.axhline(yard.iloc[0], color="black", ls="--", lw=1.2)
        ax_curve.axhline(target, color="grey", ls=":", lw=1.2)
        _set_log(ax_curve)
        ax_curve.set_xlabel("training step")
        ax_curve.set_ylabel("median TV")
        ax_curve.set_title("(c) TV vs step, each method's best setting")
        ax_curve.legend(fontsize=6.5, loc="lower left")
    handles, labels = _legend_entries(axes[:, 0])
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=7.5,
               bbox_to_anchor=(0.5, -0.01), frameon=False)
    fig.tight_layout(rect=(0, 0.07 / len(panels) + 0.03, 1, 1))
    return fig


def _same_gamma(series: pd.Series, gamma: float) -> pd.Series:
    """Rows of `gamma`; NaN (a method without γ) matches NaN."""
    return series.isna() if np.isnan(gamma) else np.isclose(series, gamma)


def _bilinear_note(method: str, exact: float) -> str:
    if method == "sgda":
        return "diverges for every η > 0"
    if method == "ttur":
        return "never converges (det M_t > 1)"
    if method == "alt":
        return f"bounded up to η·σ_max = {exact:g}; never converges"
    if not np.isfinite(exact):
        return "no boundary found"
    return f"converges iff η·σ_max < {exact:.4g}"


def _bilinear_rows(runs: pd.DataFrame) -> list[tuple[str, float]]:
    """The (method, γ) rows of the bilinear figure; γ is NaN for a method without γ."""
    rows = []
    for method in _order(runs["method"], DYNAMICS):
        gammas = sorted(runs.loc[runs["method"] == method, "gamma"].dropna().unique())
        rows += [(method, g) for g in gammas] if gammas else [(method, np.nan)]
    return rows


@_style()
def bilinear(runs: pd.DataFrame, boundaries: pd.DataFrame | None) -> Figure:
    """One row per (method, γ): each run's measured outcome at its η·σ_max (black ring: disagrees with
    the exact prediction), the exact stability boundary (black bar) and a closed-form one that
    differs from it (dashed grey), and the boundary in words on the right."""
    rows = _bilinear_rows(runs)
    xmax = float(runs["eta_sigma_max"].max()) * 1.08
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(rows) + 1.4))
    drawn = set()  # which of the optional legend entries the figure needs
    for y, (m, g) in enumerate(rows):
        t = runs[(runs["method"] == m) & _same_gamma(runs["gamma"], g)]
        for outcome, color in OUTCOME_COLORS.items():
            u = t[t["outcome"] == outcome]
            ax.scatter(u["eta_sigma_max"], np.full(len(u), y), color=color, s=30, zorder=3)
        off = t[~t["agrees"].astype(bool)]
        if len(off):
            ax.scatter(off["eta_sigma_max"], np.full(len(off), y), s=110, facecolors="none", edgecolors="black",
                       zorder=4)
            drawn.add("ring")
        b = (boundaries[(boundaries["method"] == m) & _same_gamma(boundaries["gamma"], g)]
             if boundaries is not None else pd.DataFrame())
        exact = float(b["sigma_max_eta_exact"].iloc[0]) if len(b) else np.nan
        stated = float(b["sigma_max_eta_stated"].iloc[0]) if len(b) else np.nan
        has_boundary = m not in ("sgda", "ttur") and np.isfinite(exact)
        if has_boundary and 0 < exact <= xmax:
            ax.plot([exact, exact], [y - 0.38, y + 0.38], color="black", lw=2, zorder=2)
            drawn.add("bar")
            if np.isfinite(stated) and abs(stated - exact) > 1e-6 * max(1, exact) and 0 < stated <= xmax:
                ax.plot([stated, stated], [y - 0.38, y + 0.38], color="grey", ls="--", lw=1.5, zorder=2)
                drawn.add("stated")
        elif has_boundary and exact > xmax:
            ax.plot([xmax], [y], marker=">", color="black", ms=6, clip_on=False, zorder=2)
            drawn.add("beyond")
        ax.text(1.035, y, _bilinear_note(m, exact), transform=ax.get_yaxis_transform(), va="center", ha="left",
                fontsize=7.5)
    ax.set_yticks(range(len(rows)), [m if np.isnan(g) else f"{m} (γ={g:g})" for m, g in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, xmax)
    ax.set_xlabel("η·σ_max")
    ax.set_title(f"Bilinear game: measured outcome after {_nums(runs['steps'])} steps vs the stability boundary")
    handles = [Line2D([], [], ls="", marker="o", color=c, label=o) for o, c in OUTCOME_COLORS.items()]
    optional = {"ring": Line2D([], [], ls="", marker="o", ms=10, mfc="none", mec="black",
                               label="disagrees with the exact prediction"),
                "bar": Line2D([], [], color="black", lw=2, label="exact boundary (ρ = 1)"),
                "stated": Line2D([], [], color="grey", ls="--", lw=1.5, label="closed-form boundary"),
                "beyond": Line2D([], [], ls="", marker=">", color="black", label="boundary beyond the grid")}
    handles += [h for k, h in optional.items() if k in drawn]
    axes_height = 0.45 * len(rows) + 0.4  # inches, roughly: puts the legend just below the x label
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 0.45 / axes_height),
              ncol=min(len(handles), 4), fontsize=7.5, frameon=False)
    fig.tight_layout()
    return fig


@_style()
def prior_work(summary: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Lei et al.'s plot: median ‖Σ − Σ*‖_F against n, one colour per d, one line style per method,
    one panel per activation; dotted grey: slope −1/2. Diverged games (‖Σ − Σ*‖_F = ∞) are counted
    in the title, not drawn."""
    acts = sorted(summary["activation"].unique())
    dims = sorted(summary["dim"].unique())
    colors = _dim_colors(dims)
    methods = _yardstick_last(summary["method"], headline_method, yardstick)
    line_styles = ["-", "-.", (0, (1, 1)), (0, (5, 1, 1, 1))]
    markers = "os^Dv"
    style = {m: dict(ls=line_styles[i % len(line_styles)], marker=markers[i % len(markers)])
             for i, m in enumerate(x for x in methods if x != yardstick)}
    style[yardstick] = dict(ls="--", marker="x")
    fig, axes = plt.subplots(1, len(acts), squeeze=False, sharey=True, figsize=(4.4 * len(acts), 3.8))
    for ax, act in zip(axes[0], acts):
        a = summary[summary["activation"] == act]
        for d in dims:
            for m in methods:
                t = a[(a["dim"] == d) & (a["method"] == m)].sort_values("n")
                t = t[np.isfinite(t["frob_abs_median"])]
                if t.empty:
                    continue
                ax.plot(t["n"], t["frob_abs_median"], color=colors[d], ms=4, lw=1.2, **style[m])
        ref = a[(a["method"] == yardstick) & (a["dim"] == max(dims))].sort_values("n")
        ref = ref[np.isfinite(ref["frob_abs_median"])]
        if len(ref):
            n = np.geomspace(ref["n"].min(), ref["n"].max(), 20)
            ax.plot(n, 1.6 * ref["frob_abs_median"].iloc[0] * np.sqrt(ref["n"].iloc[0] / n), ":", color="grey")
        bad = int(a["diverged"].sum())
        ax.set_title(f"{act}" + (f" ({bad} diverged games, not drawn)" if bad else ""))
        _set_log(ax)
        ax.set_xlabel("n")
    axes[0, 0].set_ylabel("median ‖Σ − Σ*‖_F")
    handles = ([Line2D([], [], color=colors[d], lw=2, label=f"d={d}") for d in dims]
               + [Line2D([], [], color="black", lw=1.2, label=m, **style[m]) for m in methods]
               + [Line2D([], [], color="grey", ls=":", label="slope −1/2")])
    axes[0, -1].legend(handles=handles, fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@_style()
def condition(summary: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Final median TV (band: quartiles) against κ, colour per method (the yardstick thick and faint
    underneath, so a method on top of it stays visible), line style per n, one panel per
    (activation, d)."""
    panels = _cells_of(summary, ("activation", "dim"))
    methods = _yardstick_last(summary["method"], headline_method, yardstick)
    color = {m: f"C{i}" for i, m in enumerate(m for m in methods if m != yardstick)}
    color[yardstick] = "black"
    ns = sorted(summary["n"].unique(), reverse=True)
    line_styles = ["-", "--", ":", "-."]
    n_style = {n: line_styles[i % len(line_styles)] for i, n in enumerate(ns)}

    def thickness(method):
        return dict(lw=2.4, alpha=0.6) if method == yardstick else dict(lw=1.3, alpha=1)

    fig, axes = plt.subplots(1, len(panels), squeeze=False, sharey=True, figsize=(4.4 * len(panels), 3.8))
    for ax, (act, d) in zip(axes[0], panels):
        a = summary[(summary["activation"] == act) & (summary["dim"] == d)]
        for m in methods:
            for n in ns:
                t = a[(a["method"] == m) & (a["n"] == n)].sort_values("kappa")
                if t.empty:
                    continue
                ax.plot(t["kappa"], t["tv_median"], color=color[m], ls=n_style[n], marker=".", ms=5,
                        zorder=2 if m == yardstick else 3, **thickness(m))
                ax.fill_between(t["kappa"], t["tv_q25"], t["tv_q75"], color=color[m], alpha=0.1, lw=0)
        bad = int(a["diverged"].sum())
        ax.set_title(f"{act}, d={d}" + (f" ({bad} diverged games)" if bad else ""))
        _set_log(ax)
        if ax.get_xscale() == "log":
            _label_ticks(ax.xaxis, sorted(a["kappa"].unique()))
        ax.set_xlabel("κ (condition number of Σ*)")
    axes[0, 0].set_ylabel("final median TV")
    handles = ([Line2D([], [], color=color[m], label=m, **thickness(m)) for m in methods]
               + [Line2D([], [], color="grey", ls=n_style[n], label=f"n={n}") for n in ns])
    axes[0, -1].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    return fig


# -- captions and tables shown beside the ablations' figures ------------------------------------------


def setting(summary: pd.DataFrame, steps: pd.DataFrame | None = None) -> str:
    """The setting of a sweep read off its tables, as one Markdown line."""
    tr = _trained(summary)
    parts = [f"activations: {', '.join(sorted(summary['activation'].unique()))}",
             f"d ∈ {{{_nums(summary['dim'])}}}", f"n ∈ {{{_nums(summary['n'])}}}"]
    if summary["kappa"].nunique() > 1:
        parts.append(f"κ ∈ {{{_nums(summary['kappa'])}}}")
    parts.append(f"runs (seeds) per cell: {_nums(summary['runs'])}")
    if steps is not None and len(steps):
        parts.append(f"training: {int(steps['step'].max())} steps, {steps['step'].nunique()} evaluation steps")
    if len(tr):
        lr = tr[["lr_gen", "lr_disc"]].drop_duplicates()
        if len(lr) == 1:
            parts.append(f"step sizes η_G = {lr['lr_gen'].iloc[0]:g}, η_D = {lr['lr_disc'].iloc[0]:g}")
        parts.append(f"{int(tr['diverged'].sum())} of {int(tr['runs'].sum())} trained games diverged")
    return "**Setting** — " + "; ".join(parts) + "."


def discriminators_table(summary: pd.DataFrame, yardstick: str) -> pd.DataFrame:
    """Every family beside the no-GAN estimators, per cell, with its final TV over the yardstick's."""
    families = _order(_trained(summary)["variant"], FAMILIES)
    yard = summary[summary["method"] == yardstick].set_index(CELL)["tv_median"]
    shown = summary.assign(family=summary["variant"].fillna("(no GAN)"),
                           identifies_sigma=summary["identifies_sigma"].fillna(""))
    shown["tv_over_yardstick"] = shown["tv_median"].to_numpy() / yard.reindex(
        pd.MultiIndex.from_frame(shown[CELL])).to_numpy()
    shown["rank"] = [families.index(f) if f in families else len(families) for f in shown["family"]]
    shown = shown.sort_values([*CELL, "rank", "method"])
    return shown[["activation", "dim", "n", "family", "method", "runs", "diverged", "tv_median", "tv_q25",
                  "tv_q75", "tv_over_yardstick", "frob_abs_median", "identifies_sigma"]]


def dynamics_tables(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every method at every step-size setting, each method's best setting: lowest final median TV)."""
    tr = _trained(summary)
    methods = _order(tr["dynamics"], DYNAMICS)
    every = tr.assign(rank=tr["dynamics"].map(methods.index)).sort_values([*CELL, "rank", "lr_gen", "lr_disc"])
    best = (every.sort_values(["tv_median", "steps_to_target"]).drop_duplicates([*CELL, "dynamics"])
            .sort_values([*CELL, "rank"]))
    return (every[["activation", "dim", "n", "dynamics", "lr_gen", "lr_disc", "runs", "diverged", "tv_median",
                   "tv_q25", "tv_q75", "frob_abs_median", "steps_to_target", "reached"]],
            best[["activation", "dim", "n", "method", "lr_gen", "lr_disc", "tv_median", "steps_to_target",
                  "reached"]])


def bilinear_setting(runs: pd.DataFrame, tol: float) -> str:
    """The bilinear sweep's setting as one Markdown line; `tol` is convergence_grid's threshold."""
    sigma_max = float(np.median(runs["eta_sigma_max"] / runs["eta"]))
    gammas = runs["gamma"].dropna()
    with_gamma = ", ".join(sorted(runs.loc[runs["gamma"].notna(), "method"].unique()))
    return (f"**Setting** — {len(runs)} runs: {runs['method'].nunique()} methods × "
            f"{runs['eta'].nunique()} values of η (η·σ_max from {runs['eta_sigma_max'].min():g} to "
            f"{runs['eta_sigma_max'].max():g}, σ_max = {sigma_max:g})"
            + (f", γ ∈ {{{_nums(gammas)}}} for {with_gamma}" if len(gammas) else "")
            + f"; {_nums(runs['steps'])} steps each; tol = {tol:g} (the default of `convergence_grid`).")


def bilinear_tables(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per method: runs, agreements and measured outcomes; the outcome of every run by row and
    η·σ_max as C/B/D, * where it disagrees with the exact prediction)."""
    methods = _order(runs["method"], DYNAMICS)
    per = runs.groupby("method", sort=False).agg(
        runs=("agrees", "size"), agree=("agrees", "sum"), converged=("converged", "sum"),
        bounded=("outcome", lambda s: int((s == "bounded").sum())),
        diverged=("outcome", lambda s: int((s == "diverged").sum())),
        theory_converges=("theory_converges", "sum")).reset_index()
    per = per.iloc[np.argsort([methods.index(m) for m in per["method"]], kind="stable")]
    grid = runs.assign(
        row=[m if pd.isna(g) else f"{m} (γ={g:g})" for m, g in zip(runs["method"], runs["gamma"])],
        cell=runs["outcome"].str[0].str.upper() + np.where(runs["agrees"], "", "*"))
    wide = grid.pivot_table(index="row", columns="eta_sigma_max", values="cell", aggfunc="first", sort=False)
    wide.columns = [f"{c:g}" for c in wide.columns]
    return per, wide.reset_index().rename(columns={"row": "method"})


def against(summary: pd.DataFrame, index: list[str], column: str, values: str, header) -> pd.DataFrame:
    """`values` per row of `index` (one column per value of `column`, named by `header(value)`)."""
    wide = summary.pivot_table(index=index, columns=column, values=values, aggfunc="first").reset_index()
    wide.columns = [c if isinstance(c, str) else header(c) for c in wide.columns]
    return wide
