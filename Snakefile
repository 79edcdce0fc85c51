# The sample-complexity pipeline: train (activation × dim × seed) → aggregate → analyze → report.
#
#   snakemake --cores all                                 # the default experiment (config.yaml)
#   snakemake --cores all --configfile config/cluster.yaml   # the larger preset
#   snakemake --report report.html                        # Snakemake's own HTML report
#
# Rules by stage in workflow/rules/; configuration reference in workflow/schemas/config.schema.yaml.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"


coerce_numeric_strings(config)
validate_config(config, "workflow/schemas/config.schema.yaml")
check_config(config)


report: "workflow/report/workflow.rst"


wildcard_constraints:
    activation="[a-z_]+",
    dim=r"\d+",
    seed=r"\d+",
    notebook="|".join(NOTEBOOKS),


localrules:
    all,
    train_config,
    aggregate,
    analyze,
    report_notebooks,
    report_readme,


include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        "reports/README.md",
        expand("reports/{notebook}.html", notebook=NOTEBOOKS),
    default_target: True
