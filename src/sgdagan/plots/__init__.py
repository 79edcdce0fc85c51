"""The report's figures, one function per figure, drawn from the tables the pipeline writes.

Each figure function takes tables already read (reports/tables/*.csv through `read_tables`; the
training figure also results/metrics.parquet) and plain parameters, and returns a matplotlib Figure;
only `save` writes files. main.py draws the main experiment's figures, ablations.py the ablations'
(and shapes the captions and tables their notebook shows beside them), common.py what they share. The notebooks in workflow/notebooks/ (run by papermill in rule
report_notebooks) call these functions and name the figure files.
"""

from .ablations import (against, bilinear, bilinear_setting, bilinear_tables, condition, discriminators,
                        discriminators_table, dynamics, dynamics_tables, note, prior_work, setting, vanilla)
from .common import STYLE, chdir_to_repository, read_tables, save
from .main import efficiency, n_eps_vs_d, tv_vs_n, tv_vs_step

__all__ = ["STYLE", "against", "bilinear", "bilinear_setting", "bilinear_tables", "chdir_to_repository", "condition",
           "discriminators", "discriminators_table", "dynamics", "dynamics_tables", "efficiency", "n_eps_vs_d", "note",
           "prior_work", "read_tables", "save", "setting", "tv_vs_n", "tv_vs_step", "vanilla"]
