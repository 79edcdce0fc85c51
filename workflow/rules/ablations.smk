# Ablations (config key ablations): each training experiment fans out as sweep jobs, one per
# (experiment, variant group, activation, dim), every variant × seed × n of a job trained by
# `python -m sgdagan sweep`; rule ablation_tables builds a sweep's tables; rule bilinear runs the
# bilinear game. What each experiment runs and tabulates is declared in sgdagan.experiments; the
# ablations notebook (rule report_notebooks) draws them.


rule sweep_spec:
    output:
        SWEEP_SPEC,
    params:
        rebuilds=rebuilds(SWEEP_SPEC),
        text=lambda wildcards: sweep_spec_yaml(wildcards.experiment, wildcards.group),
    log:
        "logs/ablations/{experiment}/{group}/spec.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/write_text.py"


rule sweep:
    input:
        spec=SWEEP_SPEC,
    output:
        metrics=SWEEP_METRICS,
        provenance=SWEEP_PROVENANCE,
    params:
        rebuilds=rebuilds(SWEEP_METRICS, SWEEP_PROVENANCE),
        seeds=lambda wildcards: ",".join(map(str, config["ablations"][wildcards.experiment]["seeds"])),
        samples=lambda wildcards: ",".join(map(str, config["ablations"][wildcards.experiment]["samples"])),
        outdir=lambda wildcards, output: os.path.dirname(output.metrics),
    log:
        "logs/ablations/{experiment}/{group}/{activation}/d{dim}.log",
    benchmark:
        "results/benchmarks/ablations/{experiment}/{group}/{activation}/d{dim}.tsv"
    threads: config["resources"]["train"]["threads"]
    resources:
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
    conda:
        "../../environment.yml"
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "python -m sgdagan sweep --spec {input.spec}"
        " --activation {wildcards.activation} --dim {wildcards.dim}"
        " --seeds {params.seeds} --samples {params.samples} --out {params.outdir}"
        " > {log} 2>&1"


rule ablation_tables:
    input:
        lambda wildcards: sweep_outputs(wildcards.experiment),
    output:
        "reports/tables/{experiment}.csv",
        "reports/tables/{experiment}_steps.csv",
    params:
        rebuilds=lambda wildcards: rebuilds(sweep_outputs(wildcards.experiment), "reports/tables/{experiment}.csv", "reports/tables/{experiment}_steps.csv")(wildcards),
        settings=lambda wildcards: config["ablations"][wildcards.experiment],
    log:
        "logs/ablations/{experiment}/tables.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/ablation_tables.py"


# The one ablation that is not a sweep: no samples, one job.
rule bilinear:
    output:
        "reports/tables/bilinear.csv",
        "reports/tables/bilinear_boundaries.csv",
    params:
        rebuilds=rebuilds("reports/tables/bilinear.csv", "reports/tables/bilinear_boundaries.csv"),
        settings=config["ablations"]["bilinear"],
    log:
        "logs/ablations/bilinear.log",
    benchmark:
        "results/benchmarks/ablations/bilinear.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/ablation_tables.py"
