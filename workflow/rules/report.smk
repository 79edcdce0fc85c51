# Report: papermill executes each parameterized notebook into reports/ (executed .ipynb, HTML via
# nbconvert, figures as PNG and SVG); then reports/README.md, the page a reader sees first.


rule report_notebooks:
    input:
        notebook="workflow/notebooks/{notebook}.ipynb",
        data=notebook_inputs,
    output:
        notebook="reports/{notebook}.ipynb",
        html="reports/{notebook}.html",
        figures=report(
            directory("reports/figures/{notebook}"),
            patterns=["{figure}.png"],
            caption="../report/figures.rst",
            category="Figures",
            subcategory="{notebook}",
            labels={"figure": "{figure}"},
        ),
    params:
        parameters=notebook_parameters,
        captions=lambda wildcards: NOTEBOOKS[wildcards.notebook]["figures"],  # figures.rst shows them
    log:
        "logs/report_notebooks/{notebook}.log",
    conda:
        "../../environment.yml"
    shell:
        "(papermill {input.notebook} {output.notebook} --kernel python3 --cwd . --no-progress-bar"
        " {params.parameters}"
        " && jupyter nbconvert --to html --output-dir reports {output.notebook}) > {log} 2>&1"


rule report_readme:
    input:
        tables=expand("reports/tables/{table}.csv", table=experiments.tables(config)),
        notebooks=expand("reports/{notebook}.html", notebook=NOTEBOOKS),
        figures=expand("reports/figures/{notebook}", notebook=NOTEBOOKS),
        provenance="results/provenance.json",
    output:
        readme="reports/README.md",
        config="reports/config.yaml",
        provenance="reports/provenance.json",
    params:
        config=config,
        notebooks=NOTEBOOKS,
        headline_method=SETTINGS.headline_method(),
        trained_methods=SETTINGS.trained_methods(),
        main_figure=MAIN_FIGURE,
    log:
        "logs/report_readme.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/readme.py"
