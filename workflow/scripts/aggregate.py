"""Rule aggregate: per-job metrics → results/metrics.{parquet,csv}; provenance → one record."""

import json
import logging
import os
from pathlib import Path

import pandas as pd

from sgdagan.analysis import job_seconds, tidy_metrics
from sgdagan.provenance import fold_provenance

smk = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

table = tidy_metrics(pd.read_parquet(path) for path in smk.input.metrics)
logging.info("aggregated %d rows from %d jobs", len(table), len(smk.input.metrics))

benchmarks = []
for path in smk.params.benchmarks:
    if os.path.exists(path):
        b = pd.read_csv(path, sep="\t")
        b.insert(0, "job", str(Path(path).with_suffix("")).replace("results/benchmarks/train/", ""))
        benchmarks.append(b)
benchmarks = pd.concat(benchmarks, ignore_index=True) if benchmarks else None

records = [json.loads(Path(p).read_text()) for p in smk.input.provenance]
summary = fold_provenance(records, benchmarks, games_wall_s=job_seconds(table)["total_s"].sum())

table.to_parquet(smk.output.parquet, index=False)
table.to_csv(smk.output.csv, index=False, lineterminator="\n")
Path(smk.output.provenance).write_text(json.dumps(summary, indent=2, default=str) + "\n")
