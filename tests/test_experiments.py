"""The experiment registry (sgdagan.experiments): what each experiment declares is what the config,
the targets, the tables, the notebooks and the README get."""

from __future__ import annotations

import copy
import subprocess
import sys

import pandas as pd
import pytest

from sgdagan import experiments
from sgdagan.config import TrainConfig
from sgdagan.pipeline_config import PipelineConfig, load
from sgdagan.report import _ablations_section
from sgdagan.settings import ConfigError, build, to_plain

from .workdirs import REPO, merged_config

DEFAULT = to_plain(PipelineConfig())


def _without_ablations() -> dict:
    config = copy.deepcopy(DEFAULT)
    for section in config["ablations"].values():
        section["enabled"] = False
    return config


def test_the_config_has_one_ablations_section_per_registered_ablation():
    assert list(DEFAULT["ablations"]) == list(experiments.ABLATIONS)
    for name, experiment in experiments.ABLATIONS.items():
        assert to_plain(getattr(PipelineConfig().ablations, name)) == to_plain(experiment.settings())


def test_targets_tables_and_notebooks_follow_the_enabled_experiments():
    assert experiments.final_outputs(DEFAULT) == [
        "reports/README.md", "reports/training.html", "reports/sample_complexity.html", "reports/ablations.html"]
    assert experiments.final_outputs(_without_ablations()) == [
        "reports/README.md", "reports/training.html", "reports/sample_complexity.html"]
    assert experiments.tables(_without_ablations()) == list(experiments.MAIN.tables)
    only_bilinear = _without_ablations()
    only_bilinear["ablations"]["bilinear"]["enabled"] = True
    assert experiments.tables(only_bilinear)[-2:] == ["bilinear", "bilinear_boundaries"]
    notebook = experiments.notebooks(only_bilinear)["ablations"]
    assert list(notebook["figures"]) == ["bilinear"]
    assert notebook["inputs"] == ["reports/tables/bilinear.csv", "reports/tables/bilinear_boundaries.csv"]
    assert "results/metrics.parquet" in experiments.notebooks(DEFAULT)["training"]["inputs"]


def test_every_table_and_figure_is_declared_once_with_its_words():
    every = [experiments.MAIN, *experiments.ABLATIONS.values()]
    tables = [name for e in every for name in e.tables]
    assert len(tables) == len(set(tables))
    figures = [(f.notebook, f.name) for e in every for f in e.figures]
    assert len(figures) == len(set(figures))
    for e in every:
        assert all(len(text) > 20 for text in e.tables.values()), e.name
        assert all(len(f.caption) > 80 and f.notebook in experiments.NOTEBOOK_TITLES for f in e.figures), e.name
    for e in experiments.ABLATIONS.values():
        assert e.readme is not None and e.build_tables is not None and e.settings is not None


@pytest.mark.parametrize("name", [n for n, e in experiments.ABLATIONS.items() if e.is_sweep])
def test_each_sweep_variant_is_a_valid_training_configuration(name):
    experiment = experiments.ABLATIONS[name]
    for config in (DEFAULT, to_plain(load(merged_config(REPO / "config/cluster.yaml")))):
        section = build(experiment.settings, config["ablations"][name])
        groups = experiment.variant_groups(section)
        names = [variant for variants in groups.values() for variant in variants]
        assert groups and len(names) == len(set(names))
        for variants in groups.values():
            for settings in variants.values():
                build(TrainConfig, {**config["train"], **section.train, **settings}, nested=True)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["ablations"]["dynamics"]["train"].update(stpes=3), "ablations.dynamics.train.stpes: unknown"),
    (lambda c: c["ablations"]["condition"]["train"].update(dim=3), "ablations.condition.train.dim: unknown"),
    (lambda c: c["ablations"]["discriminators"]["families"]["mlp"].update(data_batch=0),
     "ablations.discriminators.families (variant 'mlp'): data_batch:"),
    (lambda c: c["ablations"]["discriminators"]["families"].update(gan={"discriminators": ["wgan"]}),
     "ablations.discriminators.families (variant 'gan'): discriminators[0]: unknown 'wgan'"),
])
def test_a_bad_variant_is_named_when_the_config_loads(change, message):
    config = copy.deepcopy(DEFAULT)
    change(config)
    with pytest.raises(ConfigError) as err:
        load(config)
    assert str(err.value).startswith(message), err.value
    config["ablations"][message.split(".")[1].split(" ")[0]]["enabled"] = False
    load(config)  # a disabled experiment is not checked


def test_the_readme_has_a_section_per_enabled_ablation_in_registry_order():
    tables = {
        "dynamics": pd.DataFrame({"activation": ["relu"], "dim": [4], "n": [100], "method": ["sgda/truncated"],
                                  "dynamics": ["sgda"], "penalty": [0.1], "lr_gen": [0.3], "lr_disc": [1.0], "tv_median": [0.1], "steps_to_target": [10.0],
                                  "reached": [1.0], "diverged": [0], "runs": [3], "target_tv": [0.2]}),
        "condition": pd.DataFrame({"activation": ["relu"], "dim": [5], "n": [2000], "method": ["sgda/truncated"],
                                   "kappa": [1.0], "tv_median": [0.05]}),
    }
    config = _without_ablations()
    config["ablations"]["dynamics"]["enabled"] = config["ablations"]["condition"]["enabled"] = True
    lines = _ablations_section(tables, config)
    headings = [line for line in lines if line.startswith("#")]
    assert headings == ["## Ablations", "### Game dynamics on the GAN", "### Condition number"]
    assert "steps to reach TV ≤ 0.2" in "\n".join(lines) and "| κ=1 |" in "\n".join(lines)
    assert "| sgda | 0.1 / 10 |" in "\n".join(lines)  # the regimes table: final TV / steps to the target per λ
    assert _ablations_section({}, _without_ablations()) == []


NEW_EXPERIMENT = '''
from dataclasses import dataclass

from sgdagan import experiments
from sgdagan.experiments import base
from sgdagan.settings import setting


@dataclass
class PenaltyAblation:
    """TV against the discriminator's penalty λ."""

    enabled: bool = setting(False, base.ENABLED)
    activations: list[str] = base.activations(["tanh"])
    dims: list[int] = base.dims([4])
    seeds: list[int] = base.seeds([0, 1])
    samples: list[int] = base.samples([2000])
    train: dict = base.train({"dynamics": ["sgda"]})
    penalties: list[float] = setting([0.1, 1.0], "Penalties λ, one variant each.", exclusive_minimum=0, min_items=1)


experiments.ABLATIONS["penalty"] = base.Experiment(
    name="penalty", title="Discriminator penalty", settings=PenaltyAblation,
    variant_groups=lambda s: {"penalties": {f"penalty={p:g}": {"penalty": p} for p in s.penalties}},
    build_tables=base.sweep_tables("penalty"), readme=lambda tables: ["(its table)", ""],
    tables={"penalty": "ablation: final TV per penalty", "penalty_steps": "ablation: TV against step per penalty"},
    figures=(base.Figure("penalty", "ablations", "Median TV against λ, one line per method; band: quartiles."),))

from sgdagan.pipeline_config import load, schema_text  # built from the registry as it now stands

config = load({"ablations": {"penalty": {"enabled": True}}})
assert config.ablations.penalty.penalties == [0.1, 1.0] and "penalty:" in schema_text()
plain = __import__("sgdagan.settings", fromlist=["to_plain"]).to_plain(config)
assert experiments.tables(plain)[-2:] == ["penalty", "penalty_steps"]
assert "penalty" in experiments.notebooks(plain)["ablations"]["figures"]
try:
    load({"ablations": {"penalty": {"enabled": True, "train": {"steps": 0}}}})
except ValueError as err:
    assert str(err).startswith("ablations.penalty.train.steps: must be >= 1"), err
else:
    raise AssertionError("a bad variant was accepted")
print("ok")
'''


def test_a_new_experiment_is_one_declaration(tmp_path):
    """An experiment declared in one place (its config section, variants, tables, caption) gets a
    config section with defaults and checks, the schema, its tables and its figure in the report."""
    script = tmp_path / "new_experiment.py"
    script.write_text(NEW_EXPERIMENT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_readme_says_what_the_truncated_design_is_for_each_activation_trained():
    from sgdagan.report import _design_notes

    notes = "\n".join(_design_notes({"activations": ["relu", "tanh", "hardtanh"],
                                     "train": {"discriminators": ["truncated", "quadratic"]}}))
    assert "For relu the truncated features are y itself" in notes
    assert "For hardtanh, invertible only on a bounded interval" in notes and "does not identify Σ" in notes
    assert "here tanh stands for them" in notes
    assert _design_notes({"activations": ["relu", "tanh"], "train": {"discriminators": ["quadratic"]}}) == []
