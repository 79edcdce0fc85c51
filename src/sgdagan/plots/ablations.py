"""The ablations' figures (ablations.ipynb), one per experiment, and the captions and tables the
notebook shows beside them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..ablations import best_settings
from ..choices import DYNAMICS
from ..tables import is_trained
from .common import (CELL, FAMILIES, OUTCOME_COLORS, cell_title, cells_of, dim_colors, estimators, label_ticks,
                     legend_entries, nums, order, select, set_log, style, trained, yardstick_last)


@style()
def note(message: str) -> Figure:
    """A figure that only says `message`: an experiment without data still writes its figure."""
    fig, ax = plt.subplots(figsize=(4, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    return fig


@style()
def discriminators(summary: pd.DataFrame, steps: pd.DataFrame, yardstick: str) -> Figure:
    """Median TV (band: quartiles) against training step per discriminator family (the sweep's
    variant), one panel per cell; horizontal lines: the no-GAN estimators' final TV."""
    panels = cells_of(summary)
    families = order(trained(summary)["variant"], FAMILIES)
    color = {f: f"C{i}" for i, f in enumerate(families)}
    fig, axes = plt.subplots(1, len(panels), squeeze=False, sharey=True, figsize=(3.8 * len(panels), 3.4))
    for ax, cell in zip(axes[0], panels):
        curves, final = select(steps, cell), select(summary, cell)
        for family in families:
            c = curves[(curves["variant"] == family) & (curves["step"] > 0)].sort_values("step")
            if c.empty:
                continue
            bad = final.loc[final["variant"] == family, "diverged"].sum()
            label = family + (f" ({int(bad)} diverged)" if bad else "")
            ax.plot(c["step"], c["tv_median"], marker=".", ms=3, color=color[family], label=label)
            ax.fill_between(c["step"], c["tv_q25"], c["tv_q75"], color=color[family], alpha=0.15, lw=0)
        for _, row in estimators(final).iterrows():
            if not np.isfinite(row["tv_median"]):
                continue
            is_yard = row["method"] == yardstick
            ax.axhline(row["tv_median"], color="black" if is_yard else "grey", ls="--" if is_yard else ":",
                       lw=1.2, label=f"{row['method']} (no GAN)")
        set_log(ax)
        ax.set_title(cell_title(cell, summary))
        ax.set_xlabel("training step")
    axes[0, 0].set_ylabel("median TV over seeds")
    axes[0, 0].legend(*legend_entries(axes), fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


DYNAMICS_CELL = [*CELL, "penalty"]  # one row of the dynamics figure: a cell at one penalty λ


@style()
def dynamics(summary: pd.DataFrame, steps: pd.DataFrame, yardstick: str) -> Figure:
    """One row per cell and penalty λ: (a) final median TV (bar: quartiles; red ring: some runs
    diverged) and (b) median steps to the target TV of every method at every step-size setting,
    (c) TV against step of each method at its best setting (lowest final median TV)."""
    tr = trained(summary)
    target = float(tr["target_tv"].iloc[0])
    panels = cells_of(tr, DYNAMICS_CELL)
    methods = order(tr["dynamics"], DYNAMICS)
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
        t, curves = select(tr, cell, DYNAMICS_CELL), select(steps, cell, DYNAMICS_CELL)
        est = estimators(select(summary, cell[:len(CELL)]))
        title = f"{cell_title(cell[:len(CELL)], tr)}, λ={cell[-1]:g}"
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
        set_log(ax_tv, x=False)
        ax_tv.set_ylabel("final median TV")
        ax_tv.set_title(f"(a) final TV — {title}")
        ax_steps.axhspan(never / 1.5, never * 1.5, color="grey", alpha=0.12, lw=0)
        ax_steps.set_yscale("log")
        ax_steps.set_ylim(low, never * 1.6)
        ax_steps.set_yticks(ticks + [never], [f"{v:g}" for v in ticks] + ["never"])
        ax_steps.yaxis.set_minor_locator(plt.NullLocator())
        ax_steps.set_ylabel(f"median steps to TV ≤ {target:g}")
        ax_steps.set_title(f"(b) steps to the target — {title}")
        for ax in (ax_tv, ax_steps):
            ax.set_xticks(range(len(methods)), methods)
            ax.set_xlim(-0.6, len(methods) - 0.4)
            ax.grid(axis="x", visible=False)
            for k in range(1, len(methods)):
                ax.axvline(k - 0.5, color="lightgrey", lw=0.6)
        best = best_settings(t, [])
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
        set_log(ax_curve)
        ax_curve.set_xlabel("training step")
        ax_curve.set_ylabel("median TV")
        ax_curve.set_title(f"(c) TV vs step, each method's best setting — λ={cell[-1]:g}")
        ax_curve.legend(fontsize=6.5, loc="lower left")
    handles, labels = legend_entries(axes[:, 0])
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
    for method in order(runs["method"], DYNAMICS):
        gammas = sorted(runs.loc[runs["method"] == method, "gamma"].dropna().unique())
        rows += [(method, g) for g in gammas] if gammas else [(method, np.nan)]
    return rows


@style()
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
    ax.set_title(f"Bilinear game: measured outcome after {nums(runs['steps'])} steps vs the stability boundary")
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


@style()
def prior_work(summary: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Lei et al.'s plot: median ‖Σ − Σ*‖_F against n, one colour per d, one line style per method,
    one panel per activation and variant (with the no-GAN estimators on the variant's data, which
    depends on its width k); dotted grey: slope −1/2. Diverged games (‖Σ − Σ*‖_F = ∞) are counted in
    the title, not drawn."""
    tr = trained(summary)
    panels = [(act, variant, int(tr.loc[tr["variant"] == variant, "width"].iloc[0]))
              for act, variant in cells_of(tr, ("activation", "variant"))]
    dims = sorted(summary["dim"].unique())
    colors = dim_colors(dims)
    methods = yardstick_last(summary["method"], headline_method, yardstick)
    line_styles = ["-", "-.", (0, (1, 1)), (0, (5, 1, 1, 1))]
    markers = "os^Dv"
    style = {m: dict(ls=line_styles[i % len(line_styles)], marker=markers[i % len(markers)])
             for i, m in enumerate(x for x in methods if x != yardstick)}
    style[yardstick] = dict(ls="--", marker="x")
    columns = max(1, len({variant for _, variant, _ in panels}))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, squeeze=False, sharey=True, figsize=(4.4 * columns, 3.8 * rows))
    for ax, (act, variant, width) in zip(axes.flat, panels):
        a = summary[(summary["activation"] == act) & ((summary["variant"] == variant)
                                                      | (~summary["method"].map(is_trained) & (summary["width"] == width)))]
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
        ax.set_title(f"{act}, {variant}" + (f" ({bad} diverged, not drawn)" if bad else ""), fontsize=9)
        set_log(ax)
        ax.set_xlabel("n")
    for ax in axes[:, 0]:
        ax.set_ylabel("median ‖Σ − Σ*‖_F")
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    handles = ([Line2D([], [], color=colors[d], lw=2, label=f"d={d}") for d in dims]
               + [Line2D([], [], color="black", lw=1.2, label=m, **style[m]) for m in methods]
               + [Line2D([], [], color="grey", ls=":", label="slope −1/2")])
    axes[0, -1].legend(handles=handles, fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@style()
def condition(summary: pd.DataFrame, yardstick: str, headline_method: str) -> Figure:
    """Final median TV (band: quartiles) against κ, colour per method (the yardstick thick and faint
    underneath, so a method on top of it stays visible), line style per n, one panel per
    (activation, d)."""
    panels = cells_of(summary, ("activation", "dim"))
    methods = yardstick_last(summary["method"], headline_method, yardstick)
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
        set_log(ax)
        if ax.get_xscale() == "log":
            label_ticks(ax.xaxis, sorted(a["kappa"].unique()))
        ax.set_xlabel("κ (condition number of Σ*)")
    axes[0, 0].set_ylabel("final median TV")
    handles = ([Line2D([], [], color=color[m], label=m, **thickness(m)) for m in methods]
               + [Line2D([], [], color="grey", ls=n_style[n], label=f"n={n}") for n in ns])
    axes[0, -1].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    return fig


@style()
def vanilla(summary: pd.DataFrame, steps: pd.DataFrame, yardstick: str) -> Figure:
    """One column per (activation, d): final median TV against n per variant (top) and median TV
    against step at the largest n (bottom); the yardstick dashed; the headline schedule black."""
    panels = cells_of(summary, ("activation", "dim"))
    variants = sorted(trained(summary)["variant"].unique(), key=lambda v: (not v.startswith("headline"), v))
    color = {v: "black" if v.startswith("headline") else f"C{i}" for i, v in enumerate(variants)}
    fig, axes = plt.subplots(2, len(panels), squeeze=False, figsize=(4.6 * len(panels), 7.0))
    for (ax_n, ax_step), (act, d) in zip(axes.T, panels):
        cell = summary[(summary["activation"] == act) & (summary["dim"] == d)]
        n_max = cell["n"].max()
        yard = cell[cell["method"] == yardstick].sort_values("n")
        ax_n.plot(yard["n"], yard["tv_median"], "k--", lw=1.2, label=f"{yardstick} (no GAN)")
        for v in variants:
            t = cell[cell["variant"] == v].sort_values("n")
            bad = int(t["diverged"].sum())
            ax_n.plot(t["n"], t["tv_median"], marker="o", ms=3, color=color[v],
                      label=v + (f" ({bad} diverged)" if bad else ""))
            ax_n.fill_between(t["n"], t["tv_q25"], t["tv_q75"], color=color[v], alpha=0.12, lw=0)
            c = steps[(steps["activation"] == act) & (steps["dim"] == d) & (steps["n"] == n_max)
                      & (steps["variant"] == v) & (steps["step"] > 0)].sort_values("step")
            ax_step.plot(c["step"], c["tv_median"], color=color[v], marker=".", ms=3)
        floor = yard.loc[yard["n"] == n_max, "tv_median"]
        if len(floor):
            ax_step.axhline(floor.iloc[0], color="black", ls="--", lw=1.2)
        set_log(ax_n)
        set_log(ax_step)
        ax_n.set_title(f"{act}, d={d}")
        ax_n.set_xlabel("n")
        ax_step.set_title(f"{act}, d={d}, n={n_max}")
        ax_step.set_xlabel("training step")
    axes[0, 0].set_ylabel("final median TV")
    axes[1, 0].set_ylabel("median TV")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


# -- captions and tables shown beside the ablations' figures ------------------------------------------


def setting(summary: pd.DataFrame, steps: pd.DataFrame | None = None) -> str:
    """The setting of a sweep read off its tables, as one Markdown line."""
    tr = trained(summary)
    parts = [f"activations: {', '.join(sorted(summary['activation'].unique()))}",
             f"d ∈ {{{nums(summary['dim'])}}}", f"n ∈ {{{nums(summary['n'])}}}"]
    if summary["kappa"].nunique() > 1:
        parts.append(f"κ ∈ {{{nums(summary['kappa'])}}}")
    parts.append(f"runs (seeds) per cell: {nums(summary['runs'])}")
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
    families = order(trained(summary)["variant"], FAMILIES)
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
    """(every method at every penalty and step-size setting, each method's best setting per penalty:
    lowest final median TV), the strongest penalty first."""
    tr = trained(summary)
    methods = order(tr["dynamics"], DYNAMICS)
    every = tr.assign(rank=tr["dynamics"].map(methods.index)).sort_values(
        [*DYNAMICS_CELL, "rank", "lr_gen", "lr_disc"], ascending=[True] * len(CELL) + [False, True, True, True])
    best = best_settings(every, DYNAMICS_CELL).sort_values([*DYNAMICS_CELL, "rank"],
                                                           ascending=[True] * len(CELL) + [False, True])
    return (every[["activation", "dim", "n", "penalty", "dynamics", "lr_gen", "lr_disc", "runs", "diverged",
                   "tv_median", "tv_q25", "tv_q75", "frob_abs_median", "steps_to_target", "reached"]],
            best[["activation", "dim", "n", "penalty", "method", "lr_gen", "lr_disc", "tv_median",
                  "steps_to_target", "reached"]])


def bilinear_setting(runs: pd.DataFrame, tol: float) -> str:
    """The bilinear sweep's setting as one Markdown line; `tol` is convergence_grid's threshold."""
    sigma_max = float(np.median(runs["eta_sigma_max"] / runs["eta"]))
    gammas = runs["gamma"].dropna()
    with_gamma = ", ".join(sorted(runs.loc[runs["gamma"].notna(), "method"].unique()))
    return (f"**Setting** — {len(runs)} runs: {runs['method'].nunique()} methods × "
            f"{runs['eta'].nunique()} values of η (η·σ_max from {runs['eta_sigma_max'].min():g} to "
            f"{runs['eta_sigma_max'].max():g}, σ_max = {sigma_max:g})"
            + (f", γ ∈ {{{nums(gammas)}}} for {with_gamma}" if len(gammas) else "")
            + f"; {nums(runs['steps'])} steps each; tol = {tol:g} (the default of `convergence_grid`).")


def bilinear_tables(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per method: runs, agreements and measured outcomes; the outcome of every run by row and
    η·σ_max as C/B/D, * where it disagrees with the exact prediction)."""
    methods = order(runs["method"], DYNAMICS)
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
