# Training: one job per (activation, dim, seed) cell, every sample size of the cell's grid, the
# configured dynamics × discriminators and the moment-inversion yardstick, in one batched process.


rule train_config:
    output:
        "results/train_config.yaml",
    params:
        rebuilds=rebuilds("results/train_config.yaml"),
        text=train_yaml(config),
    log:
        "logs/train_config.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/write_text.py"


rule train:
    input:
        config="results/train_config.yaml",
    output:
        metrics=TRAIN_OUTPUTS["metrics"],
        sigma=TRAIN_OUTPUTS["sigma"],
        provenance=TRAIN_OUTPUTS["provenance"],
    params:
        rebuilds=rebuilds(*TRAIN_OUTPUTS.values()),
        samples=lambda wildcards: ",".join(map(str, samples_for(wildcards.dim))),
        outdir=lambda wildcards, output: os.path.dirname(output.metrics),
    log:
        "logs/train/{activation}/d{dim}/s{seed}.log",
    benchmark:
        "results/benchmarks/train/{activation}/d{dim}/s{seed}.tsv"
    threads: config["resources"]["train"]["threads"]
    resources:
        mem_mb=lambda wildcards: train_job_resources(wildcards)["mem_mb"],
        runtime=lambda wildcards: train_job_resources(wildcards)["runtime"],
    conda:
        "../../environment.yml"
    shell:
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} "
        "python -m sgdagan train"
        " --activation {wildcards.activation} --dim {wildcards.dim} --seed {wildcards.seed}"
        " --samples {params.samples} --config {input.config} --out {params.outdir}"
        " > {log} 2>&1"
