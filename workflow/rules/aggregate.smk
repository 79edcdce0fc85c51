# Aggregation: every cell's metrics into one tidy table; provenance and job timings into one record.


rule aggregate:
    input:
        metrics=train_cells(f"{TRAIN_DIR}/metrics.parquet"),
        provenance=train_cells(f"{TRAIN_DIR}/provenance.json"),
    output:
        parquet="results/metrics.parquet",
        csv="results/metrics.csv",
        provenance="results/provenance.json",
    params:
        rebuilds=rebuilds(*(train_cells(p) for p in TRAIN_OUTPUTS), *AGGREGATE_OUTPUTS),
        # Written by each train job as it finishes (not rule outputs, so read if present).
        benchmarks=train_cells("results/benchmarks/train/{activation}/d{dim}/s{seed}.tsv"),
    log:
        "logs/aggregate.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/aggregate.py"
