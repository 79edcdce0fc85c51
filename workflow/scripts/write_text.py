"""Write params.text to the rule's single output (the training settings YAML)."""

from pathlib import Path

Path(snakemake.output[0]).write_text(snakemake.params.text)  # noqa: F821 (injected by Snakemake)
