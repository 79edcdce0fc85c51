"""Rules ablation_tables and bilinear: one ablation's tables (sgdagan.experiments declares them),
from its sweep jobs' metrics when it is a sweep → reports/tables/*.csv."""

import logging
from pathlib import Path

import pandas as pd

from sgdagan.analysis import write_csv
from sgdagan.experiments import ABLATIONS
from sgdagan.settings import build

smk = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

experiment = ABLATIONS[smk.wildcards.get("experiment", smk.rule)]
section = build(experiment.settings, smk.params.settings)
if experiment.is_sweep:
    tables = experiment.build_tables(section, [pd.read_parquet(path) for path in smk.input])
else:
    tables = experiment.build_tables(section)
paths = {Path(path).stem: path for path in smk.output}
for name, table in tables.items():
    write_csv(table, paths[name])
    logging.info("%s: %d rows", name, len(table))
