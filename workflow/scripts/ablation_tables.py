"""Rule ablation_tables: one experiment's sweep metrics → reports/tables/{experiment}{,_steps}.csv."""

import logging

import pandas as pd

from sgdagan.ablations import steps_table, summary_table, tidy_sweeps
from sgdagan.analysis import write_csv

smk = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

table = tidy_sweeps(pd.read_parquet(path) for path in smk.input)
summary = summary_table(table, target_tv=smk.params.target_tv)
write_csv(summary, smk.output.summary)
write_csv(steps_table(table), smk.output.steps)
logging.info("%s: %d summary rows from %d sweep jobs", smk.wildcards.experiment, len(summary), len(smk.input))
