"""Sample-complexity analysis of the tidy metrics table: pure pandas/numpy, no Snakemake.

The pipeline's scripts and notebooks call these functions; tests call them on synthetic tables
with closed-form answers. Conventions used throughout:

* A *game* is one (activation, dim, seed, n, method); its *final* row carries the reported TV.
* A diverged game (tables.diverged: status != "ok", or a non-finite TV) counts as TV = 1 (the largest possible
  TV) in every median, so divergence can only make a method look worse, never better. Diverged
  games are also counted separately (`status_table`) and shown as such in the report.
* Medians and bootstrap confidence intervals are over seeds. Bootstrap draws resample the seeds
  of each (activation, dim) stratum with replacement (seeds at different d are independent
  targets); the same draw is applied to every method in the stratum, so comparisons between
  methods on the same data are paired. Draws come from a generator keyed by
  (bootstrap seed, activation, dim): adding an activation or a dimension leaves the others'
  draws unchanged, and the same inputs always give the same tables.
* n_eps(ε) for a (activation, dim, method) is where the median TV first falls to ε or below,
  interpolated linearly in (log n, log TV) between the two grid points around the crossing.
  Outside the grid it is censored (NaN), and `censored` says which side.
* Exponents: ordinary least squares of log n_eps = c + α log d + β log(1/ε) over the
  uncensored (d, ε) cells; theory (Kontonis, Liu, Tzamos 2020) says α = β = 2.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .choices import YARDSTICK
from .tables import METRICS_COLUMNS, diverged, effective_tv, is_trained
SORT_KEYS = ["activation", "dim", "seed", "method", "n", "step"]
EXPONENT_COLUMNS = ["activation", "method", "alpha", "alpha_lo", "alpha_hi", "beta", "beta_lo", "beta_hi"]


# --------------------------------------------------------------------------------------------
# Loading and tidying
# --------------------------------------------------------------------------------------------

def tidy_metrics(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-job metrics tables into one tidy table, checked and sorted stably."""
    frames = [f for f in frames if len(f)]
    if not frames:
        raise ValueError("tidy_metrics: no metrics rows to aggregate")
    table = pd.concat(frames, ignore_index=True)
    missing = [c for c in METRICS_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"tidy_metrics: metrics table lacks columns {missing}")
    table = table.astype({"activation": str, "method": str, "status": str, "dim": "int64",
                          "seed": "int64", "n": "int64", "step": "int64", "final": bool})
    duplicated = table.duplicated(subset=SORT_KEYS)
    if duplicated.any():
        raise ValueError(f"tidy_metrics: {int(duplicated.sum())} duplicated rows, e.g.\n"
                         f"{table.loc[duplicated, SORT_KEYS].head()}")
    columns = list(METRICS_COLUMNS) + [c for c in table.columns if c not in METRICS_COLUMNS]
    return table[columns].sort_values(SORT_KEYS, kind="mergesort").reset_index(drop=True)


def final_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per game (the `final` rows), with `diverged` and `tv_eff` (TV, 1 if diverged)."""
    final = metrics.loc[metrics["final"].astype(bool)].copy()
    final["diverged"] = diverged(final)
    final["tv_eff"] = effective_tv(final)
    return final.sort_values(SORT_KEYS, kind="mergesort").reset_index(drop=True)


def status_table(final: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, dim, method): number of games and how many diverged."""
    out = (final.groupby(["activation", "dim", "method"], sort=True)
           .agg(games=("diverged", "size"), diverged=("diverged", "sum"))
           .reset_index())
    out["diverged"] = out["diverged"].astype("int64")
    return out


def diverged_games(final: pd.DataFrame) -> pd.DataFrame:
    """The diverged games themselves (activation, dim, seed, n, method, step, status)."""
    cols = ["activation", "dim", "seed", "n", "method", "step", "status"]
    return final.loc[final["diverged"], cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Bootstrap of per-n medians over seeds
# --------------------------------------------------------------------------------------------

@dataclass
class Cell:
    """The final TVs of one (activation, dim, method): seeds × sample sizes, plus bootstrap."""

    activation: str
    dim: int
    method: str
    ns: np.ndarray  # (N,) increasing
    seeds: np.ndarray  # (S,)
    tv: np.ndarray  # (S, N), NaN where a game is missing
    diverged: np.ndarray  # (S, N) bool
    median: np.ndarray = field(init=False)  # (N,)
    boot: np.ndarray | None = None  # (B, N) medians over resampled seeds

    def __post_init__(self):
        self.median = _nanmedian(self.tv, axis=0)


def _nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    """Median ignoring NaN (missing games); NaN where a slice has no value at all."""
    if not np.isnan(a).any():
        return np.median(a, axis=axis)
    with _quiet():
        return np.nanmedian(a, axis=axis)


def _stratum_rng(seed: int, activation: str, dim: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(activation.encode()), int(dim)])


def build_cells(final: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict[tuple, Cell]:
    """Arrange final TVs into Cells keyed by (activation, dim, method), with bootstrap medians.

    Within each (activation, dim) stratum every method sees the same resampled seeds.
    """
    cells: dict[tuple, Cell] = {}
    for (activation, dim), stratum in final.groupby(["activation", "dim"], sort=True):
        seeds = np.sort(stratum["seed"].unique())
        draws = None
        if n_boot > 0:
            draws = _stratum_rng(seed, activation, dim).integers(0, len(seeds), size=(n_boot, len(seeds)))
        for method, games in stratum.groupby("method", sort=True):
            ns = np.sort(games["n"].unique())
            tv = games.pivot_table(index="seed", columns="n", values="tv_eff", aggfunc="first")
            tv = tv.reindex(index=seeds, columns=ns).to_numpy(float)
            div = games.pivot_table(index="seed", columns="n", values="diverged", aggfunc="first")
            div = div.reindex(index=seeds, columns=ns).fillna(False).to_numpy(bool)
            cell = Cell(str(activation), int(dim), str(method), ns.astype(float), seeds, tv, div)
            if draws is not None:
                cell.boot = _nanmedian(tv[draws], axis=1)  # (B, S, N) -> (B, N)
            cells[(str(activation), int(dim), str(method))] = cell
    return cells


def _ci(samples: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap samples, ignoring NaN; NaN where fewer than half are finite."""
    tail = 100 * (1 - level) / 2
    finite = np.isfinite(samples)
    with np.errstate(all="ignore"), _quiet():
        lo = np.nanpercentile(np.where(finite, samples, np.nan), tail, axis=axis)
        hi = np.nanpercentile(np.where(finite, samples, np.nan), 100 - tail, axis=axis)
    enough = finite.mean(axis=axis) >= 0.5
    return np.where(enough, lo, np.nan), np.where(enough, hi, np.nan)


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# --------------------------------------------------------------------------------------------
# TV vs n
# --------------------------------------------------------------------------------------------

def tv_vs_n(cells: Mapping[tuple, Cell], level: float = 0.95) -> pd.DataFrame:
    """Median TV over seeds per (activation, dim, method, n), with a bootstrap CI of the median,
    the quartiles over seeds, the number of seeds and of diverged games."""
    rows = []
    for (activation, dim, method), cell in sorted(cells.items()):
        lo, hi = (_ci(cell.boot, level) if cell.boot is not None
                  else (np.full_like(cell.median, np.nan),) * 2)
        with _quiet():
            q25 = np.nanpercentile(cell.tv, 25, axis=0)
            q75 = np.nanpercentile(cell.tv, 75, axis=0)
        for j, n in enumerate(cell.ns):
            rows.append({
                "activation": activation, "dim": dim, "method": method, "n": int(n),
                "tv_median": cell.median[j], "tv_lo": lo[j], "tv_hi": hi[j],
                "tv_q25": q25[j], "tv_q75": q75[j],
                "seeds": int(np.isfinite(cell.tv[:, j]).sum()),
                "diverged": int(cell.diverged[:, j].sum()),
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# n_eps: where the median TV crosses ε
# --------------------------------------------------------------------------------------------

def crossing(ns: np.ndarray, tv: np.ndarray, eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample size at which `tv` (…, N) over the increasing grid `ns` (N,) first falls to each
    ε in `eps` (E,) or below, interpolated linearly in (log n, log TV).

    Returns (n_eps, code), both (…, E): code 0 = crossed inside the grid, +1 = never reaches ε
    (n_eps > max n; NaN), -1 = already at or below ε at the smallest n (n_eps ≤ min n; NaN),
    -2 = no finite TV at all (NaN).
    """
    ns = np.asarray(ns, float)
    tv = np.asarray(tv, float)
    eps = np.asarray(eps, float)
    below = tv[..., None, :] <= eps[:, None]  # (…, E, N); NaN compares False
    crossed = below.any(axis=-1)
    k = below.argmax(axis=-1)  # first index at or below ε
    with np.errstate(all="ignore"):
        log_tv = np.broadcast_to(np.log(tv)[..., None, :], below.shape)
        km1 = np.maximum(k - 1, 0)
        t0 = np.take_along_axis(log_tv, km1[..., None], axis=-1)[..., 0]
        t1 = np.take_along_axis(log_tv, k[..., None], axis=-1)[..., 0]
        log_ns = np.log(ns)
        n0, n1 = log_ns[km1], log_ns[k]
        frac = (np.log(eps) - t0) / (t1 - t0)
        # A NaN TV just before the crossing: take the crossing grid point itself.
        frac = np.where(np.isfinite(frac), np.clip(frac, 0.0, 1.0), 1.0)
        n_eps = np.exp(n0 + frac * (n1 - n0))
    code = np.where(~crossed, 1, np.where(k == 0, -1, 0))
    code = np.where(np.isnan(tv).all(axis=-1)[..., None], -2, code)
    n_eps = np.where(code == 0, n_eps, np.nan)
    return n_eps, code


CENSOR_NAMES = {0: "ok", 1: "above_grid", -1: "below_grid", -2: "no_data"}


def n_eps_table(cells: Mapping[tuple, Cell], epsilons: Sequence[float], level: float = 0.95) -> pd.DataFrame:
    """n_eps per (activation, method, dim, ε) from the median TV, with a bootstrap CI."""
    eps = np.asarray(sorted(epsilons, reverse=True), float)
    rows = []
    for (activation, dim, method), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        n_eps, code = crossing(cell.ns, cell.median, eps)
        if cell.boot is not None:
            boot_n, _ = crossing(cell.ns, cell.boot, eps)  # (B, E)
            lo, hi = _ci(boot_n, level)
        else:
            lo = hi = np.full(len(eps), np.nan)
        for e in range(len(eps)):
            rows.append({
                "activation": activation, "method": method, "dim": dim, "eps": eps[e],
                "n_eps": n_eps[e], "n_eps_lo": lo[e], "n_eps_hi": hi[e],
                "censored": CENSOR_NAMES[int(code[e])],
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Exponents: log n_eps = c + α log d + β log(1/ε)
# --------------------------------------------------------------------------------------------

def fit_exponents(dims: np.ndarray, eps: np.ndarray, n_eps: np.ndarray) -> np.ndarray:
    """OLS fit of log n_eps = c + α log d + β log(1/ε) for each row of `n_eps` (…, P).

    `dims`, `eps`: (P,) the cell coordinates. NaN entries of n_eps are left out row by row.
    Returns (…, 4): c, α, β, number of points used; NaN coefficients where the fit is not
    identified (fewer than 4 points, or fewer than 2 distinct d or ε among them).
    """
    dims = np.asarray(dims, float)
    eps = np.asarray(eps, float)
    n_eps = np.asarray(n_eps, float)
    X = np.column_stack([np.ones_like(dims), np.log(dims), np.log(1.0 / eps)])
    flat = n_eps.reshape(-1, n_eps.shape[-1])
    out = np.full((flat.shape[0], 4), np.nan)
    with np.errstate(all="ignore"):
        y = np.log(flat)
    mask = np.isfinite(y)
    # Rows sharing one mask share one pseudo-inverse: solve them together.
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    for p, pattern in enumerate(patterns):
        rows = np.nonzero(inverse == p)[0]
        out[rows, 3] = pattern.sum()
        if pattern.sum() < 4 or len(np.unique(dims[pattern])) < 2 or len(np.unique(eps[pattern])) < 2:
            continue
        coef, *_ = np.linalg.lstsq(X[pattern], y[np.ix_(rows, pattern)].T, rcond=None)
        out[rows, :3] = coef.T
    return out.reshape(n_eps.shape[:-1] + (4,))


def exponents_table(
    cells: Mapping[tuple, Cell], epsilons: Sequence[float], level: float = 0.95
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fitted α (d-exponent) and β (1/ε-exponent) per (activation, method) with bootstrap CIs.

    Returns (exponents, details): `exponents` has exactly EXPONENT_COLUMNS; `details` adds the
    intercept c, the number of (d, ε) cells in the fit, the fraction of bootstrap draws whose
    fit was identified, and the R² of the point fit.
    """
    eps = np.asarray(sorted(epsilons, reverse=True), float)
    groups: dict[tuple, list[Cell]] = {}
    for (activation, dim, method), cell in cells.items():
        groups.setdefault((activation, method), []).append(cell)
    rows, details = [], []
    for (activation, method), group in sorted(groups.items()):
        group = sorted(group, key=lambda c: c.dim)
        dims = np.repeat([c.dim for c in group], len(eps)).astype(float)
        eps_p = np.tile(eps, len(group))
        point = np.concatenate([crossing(c.ns, c.median, eps)[0] for c in group])
        c0, alpha, beta, used = fit_exponents(dims, eps_p, point)
        r2 = np.nan
        if np.isfinite(alpha):
            ok = np.isfinite(point)
            y = np.log(point[ok])
            pred = c0 + alpha * np.log(dims[ok]) + beta * np.log(1 / eps_p[ok])
            ss = ((y - y.mean()) ** 2).sum()
            r2 = 1 - ((y - pred) ** 2).sum() / ss if ss > 0 else np.nan
        a_lo = a_hi = b_lo = b_hi = np.nan
        valid = np.nan
        if all(c.boot is not None for c in group):
            boot = np.concatenate([crossing(c.ns, c.boot, eps)[0] for c in group], axis=-1)  # (B, P)
            fits = fit_exponents(dims, eps_p, boot)
            valid = float(np.isfinite(fits[:, 1]).mean())
            (a_lo, b_lo), (a_hi, b_hi) = _ci(fits[:, 1:3], level)
            if not np.isfinite(alpha):
                a_lo = a_hi = b_lo = b_hi = np.nan
        rows.append({"activation": activation, "method": method, "alpha": alpha, "alpha_lo": a_lo,
                     "alpha_hi": a_hi, "beta": beta, "beta_lo": b_lo, "beta_hi": b_hi})
        details.append({"activation": activation, "method": method, "c": c0, "alpha": alpha,
                        "beta": beta, "points": int(used), "r2": r2, "boot_valid": valid})
    return pd.DataFrame(rows, columns=EXPONENT_COLUMNS), pd.DataFrame(details)


# --------------------------------------------------------------------------------------------
# Statistical efficiency: median TV(method) / median TV(yardstick) at equal n
# --------------------------------------------------------------------------------------------

def _paired_ratio(cell: Cell, ref: Cell, level: float):
    """(n, i, j, ratio, lo, hi) at the sample sizes both cells hold: median TV of `cell` over `ref`'s,
    with a paired bootstrap CI (both medians over the same resampled seeds)."""
    common, i, j = np.intersect1d(cell.ns, ref.ns, return_indices=True)
    with np.errstate(all="ignore"):
        ratio = cell.median[i] / ref.median[j]
        if cell.boot is not None and ref.boot is not None:
            lo, hi = _ci(cell.boot[:, i] / ref.boot[:, j], level)
        else:
            lo = hi = np.full(len(common), np.nan)
    return common, i, j, ratio, lo, hi


def efficiency_table(cells: Mapping[tuple, Cell], yardstick: str = YARDSTICK, level: float = 0.95) -> pd.DataFrame:
    """Per (activation, method ≠ yardstick, dim, n): the ratio of median TVs, with a paired
    bootstrap CI (both medians over the same resampled seeds)."""
    rows = []
    for (activation, dim, method), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        ref = cells.get((activation, dim, yardstick))
        if method == yardstick or ref is None:
            continue
        common, i, j, ratio, lo, hi = _paired_ratio(cell, ref, level)
        for k, n in enumerate(common):
            rows.append({"activation": activation, "method": method, "dim": dim, "n": int(n),
                         "tv_method": cell.median[i[k]], "tv_yardstick": ref.median[j[k]],
                         "ratio": ratio[k], "ratio_lo": lo[k], "ratio_hi": hi[k]})
    return pd.DataFrame(rows, columns=["activation", "method", "dim", "n", "tv_method", "tv_yardstick",
                                       "ratio", "ratio_lo", "ratio_hi"])


def efficiency_best_table(cells: Mapping[tuple, Cell], level: float = 0.95) -> pd.DataFrame:
    """Per (activation, trained method, dim, n): the ratio of its median TV to the lowest median TV of
    any no-GAN estimator on the same samples (`best_estimator`, chosen per (activation, d, n)), with
    the paired bootstrap CI against that estimator."""
    rows = []
    for (activation, dim, method), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        if not is_trained(method):
            continue
        refs = {m: c for (a, d, m), c in cells.items() if a == activation and d == dim and not is_trained(m)}
        candidates = []  # (estimator's median TV, estimator, ratio row) per n
        for estimator, ref in refs.items():
            common, i, j, ratio, lo, hi = _paired_ratio(cell, ref, level)
            candidates += [(ref.median[j[k]], estimator, int(n), cell.median[i[k]], ratio[k], lo[k], hi[k])
                           for k, n in enumerate(common)]
        best = {}
        for tv_ref, estimator, n, tv, ratio, lo, hi in sorted(candidates, key=lambda c: (c[2], np.nan_to_num(c[0], nan=np.inf), c[1])):
            best.setdefault(n, {"activation": activation, "method": method, "dim": dim, "n": n,
                                "best_estimator": estimator, "tv_method": tv, "tv_best": tv_ref,
                                "ratio": ratio, "ratio_lo": lo, "ratio_hi": hi})
        rows += [best[n] for n in sorted(best)]
    return pd.DataFrame(rows, columns=["activation", "method", "dim", "n", "best_estimator", "tv_method", "tv_best",
                                       "ratio", "ratio_lo", "ratio_hi"])


def efficiency_summary(efficiency: pd.DataFrame) -> pd.DataFrame:
    """Per (activation, method): the ratio at the largest n of each d (median, min and max over
    d), the median over every (d, n) cell, and the largest ratio anywhere."""
    if efficiency.empty:
        return pd.DataFrame(columns=["activation", "method", "ratio_at_max_n", "ratio_at_max_n_min",
                                     "ratio_at_max_n_max", "ratio_median_all", "ratio_max_all", "cells"])
    largest = efficiency.loc[efficiency.groupby(["activation", "method", "dim"])["n"].idxmax()]
    a = largest.groupby(["activation", "method"])["ratio"].agg(
        ratio_at_max_n="median", ratio_at_max_n_min="min", ratio_at_max_n_max="max")
    b = efficiency.groupby(["activation", "method"])["ratio"].agg(
        ratio_median_all="median", ratio_max_all="max", cells="size")
    return a.join(b).reset_index()


# --------------------------------------------------------------------------------------------
# Reference: TV ≈ c √(d(d+1)/n)
# --------------------------------------------------------------------------------------------

def reference_constant(tv_table: pd.DataFrame, method: str = YARDSTICK, tv_max: float = 0.5) -> pd.DataFrame:
    """Per activation, the constant c of TV ≈ c·√(d(d+1)/n) fitted to `method`'s median TV
    (geometric mean of TV / √(d(d+1)/n) over cells with median TV below tv_max)."""
    t = tv_table[(tv_table["method"] == method) & (tv_table["tv_median"] < tv_max)
                 & (tv_table["tv_median"] > 0)].copy()
    t["ratio"] = t["tv_median"] / np.sqrt(t["dim"] * (t["dim"] + 1) / t["n"])
    out = t.groupby("activation")["ratio"].agg(
        c=lambda r: float(np.exp(np.log(r).mean())), c_min="min", c_max="max", cells="size").reset_index()
    out.insert(1, "method", method)
    return out


# --------------------------------------------------------------------------------------------
# Trajectories: TV vs training step
# --------------------------------------------------------------------------------------------

def trajectories(metrics: pd.DataFrame, yardstick: str = YARDSTICK) -> pd.DataFrame:
    """Median (and quartiles) over seeds of TV at each checkpoint step, per (activation, dim,
    method, n) for the trained methods (not the estimators, which have no steps); diverged
    evaluation steps count as TV = 1."""
    keep = metrics["method"].map(is_trained) & (metrics["method"] != yardstick)
    m = metrics[keep].copy()
    m["tv_eff"] = effective_tv(m)
    g = m.groupby(["activation", "dim", "method", "n", "step"], sort=True)["tv_eff"]
    out = g.agg(tv_median="median", tv_q25=lambda x: x.quantile(0.25), tv_q75=lambda x: x.quantile(0.75),
                seeds="size").reset_index()
    return out


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------

def analyze(
    metrics: pd.DataFrame,
    epsilons: Sequence[float],
    *,
    yardstick: str = YARDSTICK,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """All report tables from the tidy metrics table, keyed by table name (file stem)."""
    final = final_rows(metrics)
    cells = build_cells(final, n_boot=n_boot, seed=seed)
    tv = tv_vs_n(cells, level)
    exponents, details = exponents_table(cells, epsilons, level)
    efficiency = efficiency_table(cells, yardstick, level)
    efficiency_best = efficiency_best_table(cells, level)
    return {
        "tv_vs_n": tv,
        "n_eps": n_eps_table(cells, epsilons, level),
        "exponents": exponents,
        "exponents_detail": details,
        "efficiency": efficiency,
        "efficiency_summary": efficiency_summary(efficiency),
        "efficiency_best": efficiency_best,
        "efficiency_best_summary": efficiency_summary(efficiency_best),
        "reference": reference_constant(tv, yardstick),
        "status": status_table(final),
        "diverged": diverged_games(final),
    }


def write_csv(table: pd.DataFrame, path) -> None:
    """CSV with a fixed float format, so identical numbers give identical bytes."""
    table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


def job_seconds(metrics: pd.DataFrame) -> pd.DataFrame:
    """Seconds spent inside each training job (activation, dim, seed) on its games.

    Batched games share one wall time (every game of a batch reports the batch's wall_s), so
    the trained methods count once, by their largest wall_s; estimators count their own.
    """
    final = metrics[metrics["final"].astype(bool)]
    trained = final["method"].map(is_trained)
    keys = ["activation", "dim", "seed"]
    a = final[trained].groupby(keys)["wall_s"].max().rename("train_s")
    b = final[~trained].groupby(keys)["wall_s"].sum().rename("estimator_s")
    out = pd.concat([a, b], axis=1).fillna(0.0)
    out["total_s"] = out["train_s"] + out["estimator_s"]
    return out.reset_index()
