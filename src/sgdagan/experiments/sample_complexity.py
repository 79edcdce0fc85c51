"""The main experiment: TV against n for every (activation, d, seed) cell, n_ε and its exponents.

Its fan-out (rule train over the config's activations × dims × seeds) and settings (the top-level
keys) are the pipeline's own; rule analyze builds its tables (analysis.analyze).
"""

from __future__ import annotations

from .base import Experiment, Figure

EXPERIMENT = Experiment(
    name="sample_complexity",
    title="Sample complexity",
    tables={
        "exponents": "fitted α (d-exponent) and β (1/ε-exponent) of n_ε with 95% bootstrap CIs over seeds",
        "exponents_detail": "the same fits with intercept c, number of (d, ε) cells, R², share of identified "
                            "bootstrap fits",
        "n_eps": "n_ε per (activation, method, d, ε): where the median TV crosses ε (log-log interpolation), with CI",
        "efficiency": "median TV(method) / median TV(yardstick) per (activation, method, d, n), paired bootstrap CI",
        "efficiency_summary": "the efficiency ratio per (activation, method): at the largest n of each d, and over "
                              "all cells",
        "efficiency_best": "median TV(trained method) / the lowest median TV of any no-GAN estimator on the same "
                           "samples, per (activation, method, d, n), with the estimator and a paired bootstrap CI",
        "efficiency_best_summary": "efficiency_best per (activation, trained method): at the largest n of each d, and "
                                   "over all cells",
        "tv_vs_n": "median final TV over seeds per (activation, d, method, n), bootstrap CI, quartiles, diverged count",
        "reference": "c in TV ≈ c·√(d(d+1)/n), fitted to the yardstick per activation",
        "status": "games and diverged games per (activation, d, method)",
        "diverged": "every diverged game (counted as TV = 1 in all medians)",
    },
    figures=(
        Figure("tv_vs_step", "training",
               "TV against training step, per activation: median over seeds of TV(N(0, Σ_t), N(0, Σ*)) at each "
               "checkpoint, at the largest n of each d's grid, with interquartile bands; the dashed line of the "
               "same colour is the moment-inversion yardstick on the same samples (the statistical floor).",
               reads_metrics=True),
        Figure("tv_vs_n", "sample_complexity",
               "TV against n (log-log), per activation (rows) and d (columns): the median final TV over seeds of "
               "each method (trained GANs; no-GAN baselines such as wds) beside the moment-inversion yardstick "
               "(dashed black), with bootstrap bands, and the reference c·√(d(d+1)/n) (dotted grey; c fitted to "
               "the yardstick, `reference.csv`), the slope −1/2 of the statistical rate. × marks sample sizes "
               "where some games diverged (counted as TV = 1)."),
        Figure("n_eps_vs_d", "sample_complexity",
               "n_ε against d (log-log), per activation: where the headline method's median TV reaches ε, with "
               "bootstrap intervals, one colour per ε; solid lines are the fit exp(c)·d^α·ε^(−β), dashed lines "
               "the yardstick's fit. Theory: slope α = 2."),
        Figure("efficiency", "sample_complexity",
               "Statistical efficiency against n: median TV of each other method (trained GANs and any no-GAN "
               "baseline) over the yardstick's on the same samples, per d (band: paired bootstrap interval; log "
               "axis clipped to [1/3, 3]); 1 = as good as moment inversion."),
    ),
)
