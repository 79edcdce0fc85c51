# Aggregation: every cell's metrics into one tidy table; provenance and job timings into one record.


rule aggregate:
    input:
        metrics=train_cells(TRAIN_OUTPUTS["metrics"]),
        provenance=train_cells(TRAIN_OUTPUTS["provenance"]),
    output:
        **AGGREGATE_OUTPUTS,
    params:
        rebuilds=rebuilds(*(train_cells(p) for p in TRAIN_OUTPUTS.values()), *AGGREGATE_OUTPUTS.values()),
        # Written by each train job as it finishes (not rule outputs, so read if present).
        benchmarks=train_cells("results/benchmarks/train/{activation}/d{dim}/s{seed}.tsv"),
    log:
        "logs/aggregate.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/aggregate.py"
