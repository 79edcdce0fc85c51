# The sample-complexity pipeline: train (activation × dim × seed) → aggregate → analyze → report,
# beside the ablations (config key ablations): sweep → ablation_tables, and bilinear.
#
#   snakemake --cores all                                 # the default experiment (config.yaml)
#   snakemake --cores all --configfile config/cluster.yaml   # the larger preset
#   snakemake --report report.html                        # Snakemake's own HTML report
#
# Rules by stage in workflow/rules/; every config key is declared in src/sgdagan/pipeline_config.py
# (reference: workflow/schemas/config.schema.yaml, generated from it).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"


SETTINGS = load_config(config)
RUN_LOCK_HANDLE = hold_run_lock()
NOTEBOOKS = experiments.notebooks(config)


report: "workflow/report/workflow.rst"


wildcard_constraints:
    activation="[a-z_]+",
    dim=r"\d+",
    seed=r"\d+",
    notebook="|".join(NOTEBOOKS),
    experiment="|".join(SWEEP_EXPERIMENTS),
    group="[a-z_]+",


localrules:
    all,
    train_config,
    aggregate,
    analyze,
    report_notebooks,
    report_readme,
    sweep_spec,
    ablation_tables,
    bilinear,


include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/ablations.smk"
include: "workflow/rules/report.smk"


REBUILD_COUNTS = count_damaged_results()


onsuccess:
    remove_stale_reports()


rule all:
    input:
        experiments.final_outputs(config),
    default_target: True
