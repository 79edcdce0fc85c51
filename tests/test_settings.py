"""Settings declared once (settings.py, config.py, pipeline_config.py): the generated files are
current, the generated JSON schema and the dataclasses' own validation agree (jsonschema is the
independent judge), and each registry implements exactly the names the configuration offers."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml

from sgdagan import choices
from sgdagan.cli import _config_from_args, build_parser
from sgdagan.config import TrainConfig
from sgdagan.pipeline_config import PipelineConfig, default_config_text, load, schema_text
from sgdagan.resources import estimated_peak_mb
from sgdagan.settings import ConfigError, to_plain

from .workdirs import REPO, merged_config

SCHEMA = yaml.safe_load(schema_text())


def test_generated_schema_and_default_config_are_current():
    # After changing a field: python -m sgdagan.pipeline_config
    assert (REPO / "workflow/schemas/config.schema.yaml").read_text() == schema_text()
    assert (REPO / "config.yaml").read_text() == default_config_text()


def _walk(schema, path="config"):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{key}")


def test_every_schema_key_is_described_and_defaulted():
    for path, sub in _walk(SCHEMA):
        assert sub.get("description"), f"{path} has no description"
        if path != "config":
            assert "default" in sub, f"{path} has no default"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{path} accepts unknown keys"


def test_the_default_config_is_valid_and_loads_to_the_defaults():
    plain = yaml.safe_load((REPO / "config.yaml").read_text())
    jsonschema.validate(plain, SCHEMA)
    assert to_plain(load(plain)) == to_plain(PipelineConfig()) == plain
    cluster = merged_config(REPO / "config/cluster.yaml")
    jsonschema.validate(cluster, SCHEMA)
    load(cluster)


# Each: a change to the default config, and the key path the error must name.
BAD = [
    ({"activations": ["relu", "swish"]}, "activations[1]"),
    ({"dims": [0, 2]}, "dims[0]"),
    ({"dims": [2, 2]}, "dims"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [-1]}, "seeds[0]"),
    ({"samples": {"points": 1}}, "samples.points"),
    ({"samples": {"tv_max": 1.5}}, "samples.tv_max"),
    ({"train": {"lr_gen": "fast"}}, "train.lr_gen"),
    ({"train": {"lr_gen": 0}}, "train.lr_gen"),
    ({"train": {"lr_disc": [0.1]}}, "train.lr_disc"),
    ({"train": {"learning_rate": 0.1}}, "train.learning_rate"),
    ({"train": {"dim": 3}}, "train.dim"),  # set by the fan-out, not by the train section
    ({"train": {"dynamics": ["sgda", "adam"]}}, "train.dynamics[1]"),
    ({"train": {"latent_stats": "maybe"}}, "train.latent_stats"),
    ({"train": {"average_from": 1.0}}, "train.average_from"),
    ({"ablations": {"dynamics": {"methods": ["newton"]}}}, "ablations.dynamics.methods[0]"),
    ({"ablations": {"bilinear": {"methods": ["bilevel"]}}}, "ablations.bilinear.methods[0]"),
    ({"ablations": {"discriminators": {"families": {}}}}, "ablations.discriminators.families"),
    ({"ablations": {"condition": {"kappas": [0.5]}}}, "ablations.condition.kappas[0]"),
    ({"analysis": {"epsilons": [0.1]}}, "analysis.epsilons"),
    ({"analysis": {"yardstick": "moment_inversoin"}}, "analysis.yardstick"),
    ({"analysis": {"ci_level": 1.0}}, "analysis.ci_level"),
    ({"resources": {"train": {"overrides": [{"dims": [0]}]}}}, "resources.train.overrides[0].dims[0]"),
    ({"resources": {"train": {"overrides": [{"memory": 10}]}}}, "resources.train.overrides[0].memory"),
]


def _merged(change: dict) -> dict:
    def merge(base, update):
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict) and value:
                merge(base[key], value)
            else:
                base[key] = value
        return base

    return merge(copy.deepcopy(to_plain(PipelineConfig())), change)


@pytest.mark.parametrize("change, key", BAD)
def test_schema_and_loader_reject_the_same_configs_naming_the_key(change, key):
    config = _merged(change)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, SCHEMA)
    with pytest.raises(ConfigError) as err:
        load(config)
    assert str(err.value).startswith(f"{key}:"), err.value


@pytest.mark.parametrize("change, key", [
    ({"samples": {"tv_min": 0.6, "tv_max": 0.5}}, "samples.tv_min"),
    ({"report": {"headline_method": "alt/linear"}}, "report.headline_method"),
    ({"analysis": {"yardstick": "wds"}}, "analysis.yardstick"),  # wds runs for relu only
    ({"ablations": {"dynamics": {"method_grids": {"omd": {"lr_gen": [0]}}}}},
     "ablations.dynamics.method_grids.omd.lr_gen[0]"),
    ({"ablations": {"dynamics": {"method_grids": {"omd": {"eta": [0.1]}}}}},
     "ablations.dynamics.method_grids.omd.eta"),
])
def test_rules_across_keys_name_the_key(change, key):
    with pytest.raises(ConfigError) as err:
        load(_merged(change))
    assert str(err.value).startswith(f"{key}"), err.value


def test_jobs_that_would_not_fit_their_memory_request_are_named_when_the_config_loads():
    with pytest.raises(ConfigError, match=r"^dims\[1\]: a training job at d = 4096 .* above the 2000 MB"):
        load(_merged({"dims": [4, 4096]}))
    with pytest.raises(ConfigError, match=r"^dims\[0\]: .* above the 650 MB it requests for relu"):
        load(_merged({"dims": [32], "resources": {"train": {"mem_mb": 650}}}))
    load(_merged({"dims": [32], "resources": {"train": {"mem_mb": 650, "overrides": [{"dims": [32], "mem_mb": 900}]}}}))
    with pytest.raises(ConfigError, match=r"^ablations.discriminators.dims: a sweep job at d = 2000"):
        load(_merged({"ablations": {"discriminators": {"dims": [2000], "samples": [10**6]}}}))


def test_the_memory_estimate_covers_the_measured_peaks_closely():
    # Measured on the cluster preset (README): relu, 12 sample sizes up to the grid's largest n, B = 512.
    for dim, n_max, measured_mb in [(64, 940000, 1800), (128, 3700000, 12000)]:
        estimate = estimated_peak_mb(dim, n_max, 12, 20000, 512)
        assert measured_mb <= estimate <= 1.3 * measured_mb


def test_strings_are_read_as_the_numbers_their_keys_take():
    # YAML 1.1 reads 1e-3 as a string; Snakemake's --config passes list items as strings.
    config = load(_merged({"dims": ["2", "3"], "train": {"lr_gen": "1e-3", "latent_stats": "false", "steps": "10"}}))
    assert config.dims == [2, 3] and config.train.lr_gen == 0.001
    assert config.train.latent_stats is False and config.train.steps == 10
    with pytest.raises(ConfigError, match=r"^dims\[0\]: expected an integer, got '2.5'"):
        load(_merged({"dims": ["2.5"]}))
    for infinite in (float("nan"), float("inf"), ".inf"):  # JSON schema cannot say "finite": the loader does
        with pytest.raises(ConfigError, match="^train.lr_gen: expected a finite number"):
            load(_merged({"train": {"lr_gen": infinite}}))


def test_the_train_section_is_the_package_configuration():
    train = to_plain(PipelineConfig())["train"]
    package = to_plain(TrainConfig())
    assert set(package) - set(train) == {"activation", "dim", "seed", "samples"}
    # the default sweep trains Lei et al.'s quadratic discriminator beside the package's default, truncated
    assert train["discriminators"] == ["truncated", "quadratic"] and package["discriminators"] == ["truncated"]
    assert all(train[key] == package[key] for key in train if key != "discriminators")


def test_every_setting_is_a_command_line_flag_and_flags_win_over_the_file(tmp_path):
    (tmp_path / "settings.yaml").write_text("lr_gen: 0.5\npenalty: 2.0\n")
    args = build_parser().parse_args([
        "train", "--activation", "tanh", "--dim", "3", "--seed", "1", "--samples", "100,200",
        "--lr-gen", "0.25", "--latent-stats", "false", "--dynamics", "sgda,alt", "--mlp-gp-weight", "1e1",
        "--config", str(tmp_path / "settings.yaml"), "--out", str(tmp_path / "out")])
    config = _config_from_args(args)
    assert (config.activation, config.dim, config.seed, config.samples) == ("tanh", 3, 1, [100, 200])
    assert config.lr_gen == 0.25 and config.penalty == 2.0 and config.latent_stats is False
    assert config.dynamics == ["sgda", "alt"] and config.mlp_gp_weight == 10.0
    flags = {action.dest for action in build_parser()._subparsers._group_actions[0].choices["train"]._actions}
    assert set(to_plain(TrainConfig())) <= flags


def test_each_registry_implements_exactly_the_offered_names():
    from sgdagan.activations import get_activation
    from sgdagan.dynamics import DYNAMICS_REGISTRY
    from sgdagan.features import make_discriminator

    assert tuple(DYNAMICS_REGISTRY) == choices.DYNAMICS
    assert set(choices.BILINEAR_METHODS) == set(choices.DYNAMICS) - {"bilevel"}  # bilevel needs a best response
    assert [get_activation(name).name for name in choices.ACTIVATIONS] == list(choices.ACTIVATIONS)
    relu = get_activation("relu")
    for name in choices.DISCRIMINATORS:
        make_discriminator(name, relu, 1.0)
    for loss in choices.MLP_LOSSES:
        make_discriminator("mlp", relu, 1.0, mlp_loss=loss)
    with pytest.raises(ValueError, match="unknown discriminator"):
        make_discriminator("wgan", relu, 1.0)
