"""Command line: `python -m sgdagan train ...` — the contract the pipeline calls — and `sweep`.

    python -m sgdagan train --activation A --dim D --seed S --samples N1,N2,... [--kappa K]
        [--discriminators F[,F2]] [--dynamics G[,G2]] [--steps T] [--SETTING VALUE ...]
        [--config FILE.yaml] --out DIR

Every TrainConfig setting is a flag (`--help` lists them with their descriptions); flags win over
the --config file, which wins over the defaults.

writes DIR/metrics.parquet, DIR/sigma.npz and DIR/provenance.json, each atomically. While it
trains it keeps a checkpoint (default DIR/checkpoint.pt, every 60 s); a rerun of the same command
resumes from it — after preemption or a time limit — and it is removed once the outputs exist.
Bad arguments exit with status 2 and one line naming the argument.

    python -m sgdagan sweep --spec SPEC.yaml --activation A --dim D --seeds S1,S2,... --samples N1,...
        --out DIR

trains every variant of a sweep spec (sweep.py: shared settings plus named variants) on all the
seeds at once and writes DIR/metrics.parquet (train's columns plus variant and step sizes) and
DIR/provenance.json; finished variants survive a crash in DIR/variants/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import typing
from pathlib import Path

import numpy as np
import yaml

from . import settings
from .choices import ACTIVATIONS
from .config import ConfigError, TrainConfig, read_settings_file
from .provenance import atomic_path, provenance, utc_now
from .resources import available_mb, estimated_peak_mb
from .sweep import run_sweep as train_variants
from .sweep import variant_configs

PER_JOB_FLAGS = ("activation", "dim", "seed", "samples")  # required: the cell a job trains


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; the contract is one line naming the argument."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]  # an empty part is an error the config check names


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in _comma_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (its description as help); values are checked with the config."""
    for f, kind in settings.fields(TrainConfig):
        is_list = typing.get_origin(kind) is list
        parser.add_argument(_flag(f.name), dest=f.name, type=_comma_list if is_list else str,
                            required=f.name in PER_JOB_FLAGS, metavar=f.name.upper(),
                            help=f.metadata["description"] + (" Comma-separated." if is_list else ""))


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="sgdagan", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train = commands.add_parser("train", help="train the GANs of one (activation, dim, seed) cell")
    _add_setting_flags(train)
    train.add_argument("--config", type=Path, help="YAML file of further TrainConfig settings (flags win)")
    train.add_argument("--out", type=Path, required=True, help="output directory")
    train.add_argument("--checkpoint", type=Path, help="resumable state file (default: OUT/checkpoint.pt)")
    train.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                       help="seconds between checkpoint saves (default 60)")
    sweep = commands.add_parser("sweep", help="train named variants of one (activation, dim) on several seeds")
    sweep.add_argument("--spec", type=Path, required=True, help="YAML: train (shared settings), variants (name → settings)")
    sweep.add_argument("--activation", required=True, help=", ".join(ACTIVATIONS))
    sweep.add_argument("--dim", type=int, required=True, help="dimension d of y")
    sweep.add_argument("--seeds", type=_int_list, required=True, help="seeds, comma-separated")
    sweep.add_argument("--samples", type=_int_list, required=True, help="sample sizes n, comma-separated")
    sweep.add_argument("--out", type=Path, required=True, help="output directory")
    sweep.add_argument("--checkpoint-every", type=float, default=60.0, metavar="SECONDS",
                       help="seconds between checkpoint saves of the variant in progress (default 60)")
    return parser


def run_sweep(args: argparse.Namespace) -> None:
    started = utc_now()
    if not args.seeds:
        _fail("argument --seeds: needs at least one seed", command="sweep")
    try:
        spec = yaml.safe_load(args.spec.read_text())
    except (OSError, yaml.YAMLError) as err:
        _fail(f"argument --spec: {err}", command="sweep")
    try:
        configs = variant_configs(spec, args.activation, args.dim, args.seeds, args.samples)
    except ConfigError as err:
        _fail(f"argument --spec: {err}", command="sweep")
    for config in configs.values():
        _check_memory(args.dim, args.samples, len(args.seeds) * len(args.samples), config, "sweep")
    _check_writable(args.out, "sweep")
    metrics, device = train_variants(configs, args.seeds, args.out, args.checkpoint_every)
    record = provenance({"spec": spec, "activation": args.activation, "dim": args.dim, "seeds": args.seeds,
                         "samples": args.samples, "variants": {k: c.to_dict() for k, c in configs.items()}},
                        device, started)
    with atomic_path(args.out / "provenance.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    with atomic_path(args.out / "metrics.parquet") as tmp:  # last: its presence means the directory is complete
        metrics.to_parquet(tmp, index=False)
    shutil.rmtree(args.out / "variants", ignore_errors=True)


def run_train(args: argparse.Namespace) -> None:
    started = utc_now()
    config = _config_from_args(args)
    from .trainer import train  # torch-heavy import after the arguments are known to be good

    out: Path = args.out
    _check_memory(config.dim, config.samples, len(config.samples), config, "train")
    _check_writable(out, "train")
    checkpoint = args.checkpoint or out / "checkpoint.pt"
    result = train(config, checkpoint=checkpoint, checkpoint_every=args.checkpoint_every)

    arrays = {"sigma_star": result.sigma_star[config.seed]}
    arrays.update({f"{method}/n{n}": sigma for (_, method, n), sigma in result.sigmas.items()})
    with atomic_path(out / "sigma.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    with atomic_path(out / "provenance.json") as tmp:
        tmp.write_text(json.dumps(provenance(config.to_dict(), result.device, started), indent=2) + "\n")
    # metrics.parquet last: its presence means the directory is complete.
    with atomic_path(out / "metrics.parquet") as tmp:
        result.metrics.to_parquet(tmp, index=False)
    checkpoint.unlink(missing_ok=True)


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = [f.name for f, _ in settings.fields(TrainConfig)]
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    from_file: dict = {}
    try:
        from_file = read_settings_file(args.config) if args.config is not None else {}
        config = settings.build(TrainConfig, {**from_file, **given})
    except ConfigError as err:
        name = err.setting
        if name not in names or name in from_file and name not in given:
            _fail(f"argument --config: {err}")
        # Named as the flag that sets it, also where the value is a default a rule across settings rejects.
        _fail(f"argument {_flag(name)}: {str(err).removeprefix(f'{name}: ')}")
    except OSError as err:  # an unreadable --config file
        _fail(f"argument --config: {err}")
    if config.device == "cuda":  # checked here, in the job: the host that plans a cluster run may have no GPU
        import torch

        if not torch.cuda.is_available():
            _fail("argument --device: cuda, but torch sees no CUDA device here; use auto or cpu")
    return config


def _check_memory(dim: int, samples: list[int], games: int, config: TrainConfig, command: str) -> None:
    """The job's estimated peak memory (resources.estimated_peak_mb) fits what this process may use."""
    need = estimated_peak_mb(dim, max(samples), games, config.tv_samples, config.latent_vectors(dim))
    have = available_mb()
    if have is not None and need > have:
        _fail(f"arguments --dim/--samples: d = {dim} with n up to {max(samples)} needs about {need} MB; "
              f"{have} MB are available here", command=command)


def _check_writable(out: Path, command: str) -> None:
    """--out is (or becomes) a directory this process can write, with room for at least a megabyte:
    found before any training, not at the first write after it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-") as probe:
            probe.write(bytes(2**20))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        _fail(f"argument --out: cannot write there ({err.strerror or err})", command=command)


def _fail(message: str, command: str = "train") -> None:
    print(f"sgdagan {command}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.command == "train":
        run_train(args)
    elif args.command == "sweep":
        run_sweep(args)
    return 0
