"""A sweep: the same (activation, dim, seeds, samples) trained under several named settings.

The ablations (discriminator families, dynamics × step sizes, condition numbers, Lei et al.'s
setting) are each a sweep. A spec is a mapping

    train:    {TrainConfig settings shared by every variant}
    variants: {name: {TrainConfig settings of this variant}, ...}

Each variant is one `trainer.train` call on all the seeds at once; its rows carry the variant's
name and resolved step sizes. A finished variant is kept in OUT/variants/{name}.parquet (beside the
settings it ran with), and the variant in progress checkpoints like `train` does, so a rerun after a
crash redoes neither.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from .config import ConfigError, TrainConfig
from .provenance import atomic_path

log = logging.getLogger(__name__)

SETTING_COLUMNS = ["penalty", "lr_gen", "lr_disc", "co_gamma", "pm_gamma", "mlp_loss"]  # copied onto every row


def variant_configs(spec: Mapping, activation: str, dim: int, seeds: Sequence[int],
                    samples: Sequence[int]) -> dict[str, TrainConfig]:
    """Each variant's resolved TrainConfig; a ConfigError names the variant and the setting."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("variants"), Mapping) or not spec["variants"]:
        raise ConfigError("variants: the spec needs a non-empty mapping of variants")
    unknown = sorted(set(spec) - {"train", "variants"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown spec key (known: train, variants)")
    configs = {}
    for name, settings in spec["variants"].items():
        values = {**(spec.get("train") or {}), **(settings or {})}
        try:
            configs[str(name)] = TrainConfig.from_sources(None, **values, activation=activation, dim=dim,
                                                          seed=seeds[0], samples=list(samples))
        except ConfigError as err:
            raise ConfigError(f"variants.{name}.{err}") from None
    return configs


def run_sweep(configs: Mapping[str, TrainConfig], seeds: Sequence[int], out: Path, checkpoint_every: float = 60.0,
              progress: bool | None = None) -> tuple[pd.DataFrame, str]:
    """Train every variant of `variant_configs(...)` (resuming finished ones from OUT/variants/);
    all rows and the device."""
    from .trainer import resolve_device, train  # torch-heavy: imported once the spec is known to be good

    done_dir = Path(out) / "variants"
    done_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for index, (name, config) in enumerate(configs.items(), start=1):
        stem = f"{index:03d}"  # variant names may hold characters unfit for file names
        rows_path, settings_path = done_dir / f"{stem}.parquet", done_dir / f"{stem}.json"
        settings = json.dumps({"variant": name, "seeds": list(seeds), "config": config.to_dict()}, sort_keys=True)
        if rows_path.exists() and settings_path.exists() and settings_path.read_text() == settings:
            log.info("variant %s: already done", name)
            frames.append(pd.read_parquet(rows_path))
            continue
        log.info("variant %d/%d: %s", index, len(configs), name)
        result = train(config, seeds=list(seeds), progress=progress, checkpoint=done_dir / f"{stem}.pt",
                       checkpoint_every=checkpoint_every)
        rows = result.metrics
        rows.insert(0, "variant", name)
        for column in SETTING_COLUMNS:
            rows[column] = getattr(config, column)
        with atomic_path(settings_path) as tmp:
            tmp.write_text(settings)
        with atomic_path(rows_path) as tmp:
            rows.to_parquet(tmp, index=False)
        (done_dir / f"{stem}.pt").unlink(missing_ok=True)
        frames.append(rows)
    devices = {str(resolve_device(config.device)) for config in configs.values()}
    return pd.concat(frames, ignore_index=True), ",".join(sorted(devices))
