# Analysis: the tidy table into the report's CSV tables (n_eps, exponents, efficiency, status).


rule analyze:
    input:
        metrics=AGGREGATE_OUTPUTS["parquet"],
    output:
        exponents=report(
            "reports/tables/exponents.csv",
            caption="../report/exponents.rst",
            category="Tables",
        ),
        exponents_detail="reports/tables/exponents_detail.csv",
        n_eps=report(
            "reports/tables/n_eps.csv", caption="../report/n_eps.rst", category="Tables"
        ),
        efficiency=report(
            "reports/tables/efficiency.csv",
            caption="../report/efficiency.rst",
            category="Tables",
        ),
        efficiency_summary="reports/tables/efficiency_summary.csv",
        efficiency_best="reports/tables/efficiency_best.csv",
        efficiency_best_summary="reports/tables/efficiency_best_summary.csv",
        tv_vs_n="reports/tables/tv_vs_n.csv",
        reference="reports/tables/reference.csv",
        status=report(
            "reports/tables/status.csv", caption="../report/status.rst", category="Tables"
        ),
        diverged="reports/tables/diverged.csv",
    params:
        rebuilds=rebuilds(AGGREGATE_OUTPUTS["parquet"], [f"reports/tables/{t}.csv" for t in experiments.MAIN.tables]),
        epsilons=config["analysis"]["epsilons"],
        yardstick=config["analysis"]["yardstick"],
        bootstrap=config["analysis"]["bootstrap"],
        bootstrap_seed=config["analysis"]["bootstrap_seed"],
        ci_level=config["analysis"]["ci_level"],
    log:
        "logs/analyze.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/analyze.py"
