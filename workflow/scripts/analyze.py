"""Rule analyze: results/metrics.parquet → the CSV tables in reports/tables/."""

import logging

import pandas as pd

from sgdagan.analysis import analyze, write_csv

smk = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

metrics = pd.read_parquet(smk.input.metrics)
tables = analyze(
    metrics,
    smk.params.epsilons,
    yardstick=smk.params.yardstick,
    n_boot=smk.params.bootstrap,
    seed=smk.params.bootstrap_seed,
    level=smk.params.ci_level,
)
for name, table in tables.items():
    write_csv(table, smk.output[name])
    logging.info("%s: %d rows", name, len(table))
