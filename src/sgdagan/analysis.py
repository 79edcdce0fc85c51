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

import json
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .choices import YARDSTICK
from .pipeline_config import round_sig
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

def efficiency_table(cells: Mapping[tuple, Cell], yardstick: str = YARDSTICK, level: float = 0.95) -> pd.DataFrame:
    """Per (activation, method ≠ yardstick, dim, n): the ratio of median TVs, with a paired
    bootstrap CI (both medians over the same resampled seeds)."""
    rows = []
    for (activation, dim, method), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        ref = cells.get((activation, dim, yardstick))
        if method == yardstick or ref is None:
            continue
        common, i, j = np.intersect1d(cell.ns, ref.ns, return_indices=True)
        with np.errstate(all="ignore"):
            ratio = cell.median[i] / ref.median[j]
            if cell.boot is not None and ref.boot is not None:
                lo, hi = _ci(cell.boot[:, i] / ref.boot[:, j], level)
            else:
                lo = hi = np.full(len(common), np.nan)
        for k, n in enumerate(common):
            rows.append({"activation": activation, "method": method, "dim": dim, "n": int(n),
                         "tv_method": cell.median[i[k]], "tv_yardstick": ref.median[j[k]],
                         "ratio": ratio[k], "ratio_lo": lo[k], "ratio_hi": hi[k]})
    return pd.DataFrame(rows, columns=["activation", "method", "dim", "n", "tv_method", "tv_yardstick",
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
    checkpoints count as TV = 1."""
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
    return {
        "tv_vs_n": tv,
        "n_eps": n_eps_table(cells, epsilons, level),
        "exponents": exponents,
        "exponents_detail": details,
        "efficiency": efficiency,
        "efficiency_summary": efficiency_summary(efficiency),
        "reference": reference_constant(tv, yardstick),
        "status": status_table(final),
        "diverged": diverged_games(final),
    }


def write_csv(table: pd.DataFrame, path) -> None:
    """CSV with a fixed float format, so identical numbers give identical bytes."""
    table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


# --------------------------------------------------------------------------------------------
# Provenance and the generated README
# --------------------------------------------------------------------------------------------

def summarize_provenance(provenance: Sequence[Mapping], benchmarks: pd.DataFrame | None = None) -> dict:
    """Fold the per-job provenance.json records (and Snakemake benchmark tables) into one record:
    the distinct values of every descriptive field, job count, total and per-job wall time."""
    summary: dict = {"jobs": len(provenance)}
    skip = {"config", "start", "end", "start_time", "end_time", "wall_s", "args", "argv", "out"}
    distinct: dict[str, list] = {}
    for record in provenance:
        for key, value in record.items():
            if key in skip:
                continue
            text = json.dumps(value, sort_keys=True, default=str)
            if text not in distinct.setdefault(key, []):
                distinct[key].append(text)
    summary["fields"] = {k: [json.loads(t) for t in v] for k, v in sorted(distinct.items())}
    if benchmarks is not None and len(benchmarks):
        s = benchmarks["s"].astype(float)
        summary["job_wall_s"] = {"total": float(s.sum()), "min": float(s.min()),
                                 "median": float(s.median()), "max": float(s.max())}
        if "max_rss" in benchmarks:
            rss = pd.to_numeric(benchmarks["max_rss"], errors="coerce")
            summary["job_max_rss_mb"] = float(rss.max()) if rss.notna().any() else None
    return summary


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


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; floats to `digits` significant digits, NaN as '–'."""
    def fmt(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "–"
            if abs(v) >= 10 ** digits:  # sample sizes: an integer, `digits` significant
                return str(round_sig(abs(v), digits) * (1 if v > 0 else -1))
            return f"{v:.{digits}g}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def with_ci(table: pd.DataFrame, name: str, digits: int = 3) -> pd.Series:
    """Format `name` with its `name_lo`/`name_hi` columns as 'x [lo, hi]'."""
    def f(v):
        return "–" if not np.isfinite(v) else f"{v:.{digits}g}"
    return pd.Series([f"{f(a)} [{f(b)}, {f(c)}]" for a, b, c in
                      zip(table[name], table[f"{name}_lo"], table[f"{name}_hi"])], index=table.index)


TABLE_DESCRIPTIONS = {
    "exponents": "fitted α (d-exponent) and β (1/ε-exponent) of n_ε with 95% bootstrap CIs over seeds",
    "exponents_detail": "the same fits with intercept c, number of (d, ε) cells, R², share of identified bootstrap fits",
    "n_eps": "n_ε per (activation, method, d, ε): where the median TV crosses ε (log-log interpolation), with CI",
    "efficiency": "median TV(method) / median TV(yardstick) per (activation, method, d, n), paired bootstrap CI",
    "efficiency_summary": "the efficiency ratio per (activation, method): at the largest n of each d, and over all cells",
    "tv_vs_n": "median final TV over seeds per (activation, d, method, n), bootstrap CI, quartiles, diverged count",
    "reference": "c in TV ≈ c·√(d(d+1)/n), fitted to the yardstick per activation",
    "status": "games and diverged games per (activation, d, method)",
    "diverged": "every diverged game (counted as TV = 1 in all medians)",
    "discriminators": "ablation: final TV and ‖Σ − Σ*‖_F per discriminator family (quartiles over seeds)",
    "discriminators_steps": "ablation: TV against training step per discriminator family",
    "dynamics": "ablation: final TV, steps to the target TV and reach per method and step-size setting",
    "dynamics_steps": "ablation: TV against training step per method and step-size setting",
    "bilinear": "ablation: bilinear game, measured outcome per (method, η, γ) beside the exact spectral radius",
    "bilinear_boundaries": "ablation: bilinear game, critical η of the closed-form boundary vs the exact one",
    "prior_work": "ablation: Lei et al.'s setting, ‖Σ − Σ*‖_F per (activation, d, n, method)",
    "prior_work_steps": "ablation: Lei et al.'s setting against training step",
    "condition": "ablation: final TV against the condition number κ of Σ*",
    "condition_steps": "ablation: the κ sweep against training step",
}


def _ablations_section(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The ablations' headline numbers (full tables in tables/, figures in ablations.html)."""
    lines = []
    if "discriminators" in tables:
        t = tables["discriminators"]
        shown = t.assign(family=t["variant"].fillna("").replace("", "(no GAN)"))[
            ["activation", "dim", "n", "family", "method", "tv_median", "tv_q25", "tv_q75", "identifies_sigma"]]
        lines += ["### Discriminator families", "",
                  "Final TV (median and quartiles over seeds) of SGDA with each discriminator family, beside the "
                  "no-GAN estimators on the same data. Linear features see first moments only, which do not "
                  "identify Σ: its TV stalls.", "", markdown_table(shown), ""]
    if "dynamics" in tables:
        t = tables["dynamics"]
        target = t["target_tv"].iloc[0] if len(t) else float("nan")
        shown = t[["activation", "dim", "n", "method", "lr_gen", "lr_disc", "tv_median", "steps_to_target",
                   "reached", "diverged", "runs"]]
        lines += ["### Game dynamics on the GAN", "",
                  f"Every method at every step-size setting of the grid (not only the best): final TV (median over "
                  f"seeds), steps to reach TV ≤ {target:g} (median over runs, at the log-spaced checkpoints; – where "
                  "most runs never did) and the fraction of runs that reached it. Rows without step sizes are "
                  "the no-GAN estimators on the same data.", "", markdown_table(shown), ""]
    if "bilinear" in tables:
        t = tables["bilinear"]
        per = t.groupby("method").agg(runs=("agrees", "size"), agree=("agrees", "sum"),
                                      converged=("converged", "sum"), theory_converges=("theory_converges", "sum"))
        lines += ["### Game dynamics on the bilinear game θᵀCω", "",
                  f"Measured outcome against the exact prediction: agreement in {int(t['agrees'].sum())} of "
                  f"{len(t)} runs. Per method:", "", markdown_table(per.reset_index()), ""]
        if "bilinear_boundaries" in tables:
            b = tables["bilinear_boundaries"][["method", "gamma", "sigma_max_eta_stated", "sigma_max_eta_exact"]]
            lines += ["Critical η·σ_max, closed form against the exact spectral-radius crossing:", "",
                      markdown_table(b), ""]
    if "prior_work" in tables:
        t = tables["prior_work"]
        wide = t.pivot_table(index=["activation", "method", "dim"], columns="n", values="frob_abs_median",
                             aggfunc="first").reset_index()
        wide.columns = [c if isinstance(c, str) else f"n={c}" for c in wide.columns]
        runs = int(t["runs"].max()) if len(t) else 0
        lines += ["### Lei et al.'s setting", "",
                  f"‖Σ − Σ*‖_F (median over {runs} runs) for d ∈ {{3, 5, 7}} against n, as in Lei et al. (2020): "
                  "SGDA with their quadratic discriminator and with the truncated one, and the yardstick.", "",
                  markdown_table(wide), ""]
    if "condition" in tables:
        t = tables["condition"]
        wide = t.pivot_table(index=["activation", "dim", "n", "method"], columns="kappa", values="tv_median",
                             aggfunc="first").reset_index()
        wide.columns = [c if isinstance(c, str) else f"κ={c:g}" for c in wide.columns]
        lines += ["### Condition number", "", "Median final TV against κ of Σ* (Wu et al.'s sweep).", "",
                  markdown_table(wide), ""]
    return (["## Ablations", "", "Figures and methods: [ablations.html](ablations.html).", ""] + lines) if lines else []


def _injective_note(config: Mapping) -> list[str]:
    """Why one injective φ stands for all of them, where the truncated discriminator is trained."""
    from .activations import ACTIVATIONS, get_activation  # torch: not at the Snakefile's parse time

    injective = [name for name in ACTIVATIONS if get_activation(name).injective]
    trained = [name for name in config["activations"] if name in injective]
    if "truncated" not in config["train"]["discriminators"] or not trained or trained == injective:
        return []
    return ["", f"Under the truncated discriminator every injective φ ({', '.join(injective)}) is seen through "
            "u = φ⁻¹(y) = W*x, so all of them give the same numbers to rounding, for the GAN and the "
            f"yardstick alike; here {', '.join(trained)} stands for them (config/cluster.yaml trains them all)."]


def render_readme(
    tables: Mapping[str, pd.DataFrame],
    *,
    config: Mapping,
    provenance: Mapping,
    notebooks: Mapping[str, Mapping],
    headline: str,
    main_figure: str,
    title: str,
    config_text: str,
) -> str:
    """reports/README.md: headline tables, main figure, diverged games, config and provenance."""
    yardstick = config["analysis"]["yardstick"]
    level = int(round(100 * config["analysis"]["ci_level"]))
    ex = tables["exponents"]
    status = tables["status"]
    games = int(status["games"].sum())
    diverged = int(status["diverged"].sum())
    lines = [
        f"# {title}",
        "",
        "*Generated by the Snakemake pipeline (`snakemake --cores all`); do not edit by hand — "
        "rerun the pipeline instead.*",
        "",
        f"{len(config['activations'])} activations × {len(config['dims'])} dimensions × "
        f"{len(config['seeds'])} seeds = {len(config['activations']) * len(config['dims']) * len(config['seeds'])} "
        f"training jobs; {games} trained or estimated games, {diverged} diverged. "
        f"Methods: {', '.join(sorted(status['method'].unique()))} (yardstick: `{yardstick}`, "
        "the moment-inversion estimator on the same data, no GAN).",
        *_injective_note(config),
        "",
        "## Sample complexity exponents",
        "",
        "Fit of log n_ε = c + α log d + β log(1/ε) over the (d, ε) cells where the median TV over "
        f"seeds crosses ε inside the sample grid; {level}% bootstrap intervals resample seeds. "
        "Theory (Kontonis, Liu, Tzamos 2020; and the Θ(d²/ε²) lower bound for learning a Gaussian): "
        "α = β = 2.",
        "",
    ]
    if len(ex):
        shown = pd.DataFrame({
            "activation": ex["activation"], "method": ex["method"],
            "α (d-exponent)": with_ci(ex, "alpha"), "β (1/ε-exponent)": with_ci(ex, "beta"),
        })
        lines += [markdown_table(shown), ""]
    eff = tables["efficiency_summary"]
    lines += [
        "## Statistical efficiency",
        "",
        f"Median TV of each method (the trained GANs `dynamics/discriminator`, and any other no-GAN "
        f"baseline) / median TV of `{yardstick}` on the same samples, at equal n (1 = as good as the "
        "yardstick, which for injective activations is the Gaussian MLE; below 1 is possible for "
        "ReLU, where it is not). `at max n`: the ratio at each d's largest n — median [min, max] "
        "over d; `all cells`: median over every (d, n).",
        "",
    ]
    if len(eff):
        def fmt(v):
            return "–" if not np.isfinite(v) else f"{v:.3g}"
        shown = pd.DataFrame({
            "activation": eff["activation"], "method": eff["method"],
            "at max n": [f"{fmt(a)} [{fmt(b)}, {fmt(c)}]" for a, b, c in
                         zip(eff["ratio_at_max_n"], eff["ratio_at_max_n_min"], eff["ratio_at_max_n_max"])],
            "all cells": [fmt(v) for v in eff["ratio_median_all"]],
            "worst cell": [fmt(v) for v in eff["ratio_max_all"]],
        })
        lines += [markdown_table(shown), ""]
    lines += [
        "## Main figure",
        "",
        f"![Median TV against n for {headline} and the yardstick]({main_figure})",
        "",
        f"Median final TV over seeds against the sample size n (log-log), per activation (rows) and "
        f"dimension (columns): `{headline}` and the other methods beside the `{yardstick}` "
        "yardstick, with bootstrap bands, and the reference c·√(d(d+1)/n) (c fitted to the yardstick, "
        "`tables/reference.csv`). Diverged games count as TV = 1 and are marked ×.",
        "",
    ]
    ne = tables["n_eps"]
    head = ne[ne["method"] == headline]
    if len(head):
        pivot = head.pivot_table(index=["activation", "eps"], columns="dim", values="n_eps", aggfunc="first")
        pivot = pivot.sort_index(level=[0, 1], ascending=[True, False]).reset_index()
        pivot.columns = [c if isinstance(c, str) else f"d={c}" for c in pivot.columns]
        lines += [
            f"## n_ε for {headline}",
            "",
            "The sample size at which the median TV over seeds reaches ε (– = outside the sample grid).",
            "",
            markdown_table(pivot),
            "",
        ]
    lines += _ablations_section(tables)
    lines += ["## Diverged games", ""]
    if diverged == 0:
        lines += [f"None of the {games} games diverged.", ""]
    else:
        bad = status[status["diverged"] > 0]
        lines += [
            f"{diverged} of {games} games diverged (NaN/inf or a blow-up of the generator); they count as "
            "TV = 1 in every median. Per cell:",
            "",
            markdown_table(bad),
            "",
            "Every diverged game is listed in `tables/diverged.csv`.",
            "",
        ]
    lines += ["## Notebooks and figures", ""]
    for name, entry in notebooks.items():
        figs = ", ".join(f"[{f}](figures/{name}/{f}.png) ([svg](figures/{name}/{f}.svg))" for f in entry["figures"])
        lines.append(f"- [{name}.html]({name}.html) ([ipynb]({name}.ipynb)) — {entry['title']}. Figures: {figs}.")
    lines += ["", "## Tables", ""]
    for name in tables:
        lines.append(f"- [tables/{name}.csv](tables/{name}.csv) — {TABLE_DESCRIPTIONS.get(name, '')}")
    lines += ["", "## Configuration", "", "The resolved configuration (also in [config.yaml](config.yaml)):", "",
              "```yaml", config_text.rstrip(), "```", "", "## Provenance", ""]
    fields = provenance.get("fields", {})
    lines.append(f"- training jobs: {provenance.get('jobs')}")
    for key in ("git_revision", "versions", "hardware"):
        values = [v for v in fields.get(key, []) if v is not None]
        if key == "git_revision" and not values:
            values = ["unknown (the package was not run from a git checkout)"]
        if key == "hardware":
            values = [{k: v for k, v in h.items() if k != "hostname"} if isinstance(h, dict) else h for h in values]
            uniq = []
            for v in values:
                if v not in uniq:
                    uniq.append(v)
            values = uniq
        if values:
            shown = "; ".join(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v for v in values)
            lines.append(f"- {key.replace('_', ' ')}: {shown}")
    if provenance.get("started"):
        lines.append(f"- first job started {provenance['started']}, last finished {provenance.get('finished')}")
    wall = provenance.get("job_wall_s")
    if wall:
        lines.append(f"- wall time per training job (Snakemake benchmark, s): min {wall['min']:.1f}, median "
                     f"{wall['median']:.1f}, max {wall['max']:.1f}; total {wall['total']:.0f}")
    if provenance.get("train_wall_s_total") is not None:
        lines.append(f"- time inside the jobs spent on games (training and estimators): "
                     f"{provenance['train_wall_s_total']:.0f} s in total")
    lines += ["- per-job records: [provenance.json](provenance.json)", ""]
    return "\n".join(lines)
