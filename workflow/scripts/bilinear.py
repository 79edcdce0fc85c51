"""Rule bilinear: the dynamics on U = θᵀCω over a grid of η (and γ) → reports/tables/bilinear*.csv."""

import logging

import numpy as np

from sgdagan.analysis import write_csv
from sgdagan.bilinear import boundary_table, convergence_grid

smk = snakemake  # noqa: F821 (injected by Snakemake)
logging.basicConfig(filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(message)s")

s = smk.params.settings
sigma = np.asarray(s["singular_values"], dtype=float)
grid = convergence_grid(s["methods"], s["etas"], s["gammas"], sigma, steps=s["steps"], seed=s["seed"])
write_csv(grid, smk.output.grid)
write_csv(boundary_table(sigma, gammas=s["gammas"], seed=s["seed"]), smk.output.boundaries)
logging.info("%d runs; measured outcome agrees with the exact prediction in %d", len(grid), int(grid["agrees"].sum()))
