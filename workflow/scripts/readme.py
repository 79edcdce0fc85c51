"""Rule report_readme: tables, config and provenance → reports/README.md (+ config, provenance)."""

import json
from pathlib import Path

import pandas as pd
import yaml

from sgdagan.report import render_readme

smk = snakemake  # noqa: F821 (injected by Snakemake)

tables = {Path(p).stem: pd.read_csv(p) for p in smk.input.tables}
config = json.loads(json.dumps(dict(smk.params.config)))  # plain dicts and lists
config_text = yaml.safe_dump(config, sort_keys=False, default_flow_style=None, allow_unicode=True)
provenance = json.loads(Path(smk.input.provenance).read_text())

readme = render_readme(
    tables,
    config=config,
    provenance=provenance,
    notebooks=smk.params.notebooks,
    headline=smk.params.headline_method,
    main_figure=str(Path(smk.params.main_figure).relative_to("reports")),
    title=config["report"]["title"],
    config_text=config_text,
)
Path(smk.output.config).write_text(config_text)
Path(smk.output.provenance).write_text(json.dumps(provenance, indent=2) + "\n")
Path(smk.output.readme).write_text(readme)
Path(smk.log[0]).write_text(f"wrote {smk.output.readme} ({len(readme)} characters)\n")
