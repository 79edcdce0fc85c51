"""The resume file of a training job (its "checkpoint"): finished method groups and the one in
progress, saved atomically every so many seconds and keyed by a fingerprint of the run, so that a
rerun after preemption or a time limit continues bit for bit and a file from another run is ignored."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch

from .config import TrainConfig
from .provenance import atomic_path, git_revision

if TYPE_CHECKING:
    from .trainer import GroupRun

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2  # 2: the group in progress is saved per shard


def fingerprint(config: TrainConfig, seeds: Sequence[int]) -> str:
    """What a checkpoint must match to be resumed; the format guards installs without a git revision."""
    return json.dumps({"config": config.to_dict(), "seeds": list(seeds), "revision": git_revision(),
                       "format": CHECKPOINT_FORMAT}, sort_keys=True)


class Checkpoint:
    """A training job's resumable state on disk: finished groups and the one in progress.

    The group in progress is saved as its shards' layout and each shard's latest state at one of
    its own RNG-block boundaries (shards run independently, so each resumes from its own step).
    Saved atomically every `every` seconds, keyed by a fingerprint of the config, seeds and code
    revision: a checkpoint from any other run is ignored, not mixed in.
    """

    def __init__(self, path: Path, fingerprint: str, every: float):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every
        self.finished: dict[str, dict] = {}
        self.current: dict | None = None
        self._last_save = time.monotonic()
        self._lock = threading.Lock()  # shards report from their own threads
        if self.path.exists():
            try:
                saved = torch.load(self.path, map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001  (truncated, empty or foreign: any load failure)
                log.warning("ignoring %s: unreadable (%s); training from the start", self.path,
                            " ".join(str(err).split())[:200] or type(err).__name__)
                saved = {}
            if not isinstance(saved, dict):
                saved = {}
            if saved.get("fingerprint") == fingerprint:
                self.finished, self.current = saved["finished"], saved["current"]
                log.info("resuming from %s (%d groups done)", self.path, len(self.finished))
            elif saved:
                log.warning("ignoring %s: it belongs to another configuration", self.path)

    def save(self) -> None:
        with atomic_path(self.path) as tmp:
            torch.save({"fingerprint": self.fingerprint, "finished": self.finished, "current": self.current}, tmp)
        self._last_save = time.monotonic()

    def in_progress(self, method: str) -> dict | None:
        """The saved shards of `method`'s group ({"shards": [game indices], "states": [...]}), if any."""
        return self.current if self.current is not None and self.current["method"] == method else None

    def start_group(self, method: str, shards: list[list[int]], runs: list[GroupRun]) -> None:
        self.current = {"method": method, "shards": shards, "states": [_snapshot(r.state_dict()) for r in runs]}

    def on_block(self, shard: int):
        def save_if_due(run: GroupRun) -> None:
            # A copy: the other shards' threads go on while this one writes the file.
            state = _snapshot(run.state_dict())
            with self._lock:
                self.current["states"][shard] = state
                if time.monotonic() - self._last_save >= self.every:
                    self.save()
        return save_if_due

    def finish_group(self, method: str, rows: list[dict], final: torch.Tensor) -> None:
        self.finished[method] = {"rows": rows, "final": final.cpu()}
        self.current = None
        self.save()


def _snapshot(state):
    """A copy of a state dict that later training steps cannot change (tuples — the rows — are kept:
    nothing changes them)."""
    if isinstance(state, torch.Tensor):
        return state.clone()
    if isinstance(state, dict):
        return {k: _snapshot(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_snapshot(v) for v in state]
    return state


def to_device(state, device):
    """Move a saved state's tensors to the training device; generator states stay on the CPU."""
    if isinstance(state, torch.Tensor):
        return state.to(device)
    if isinstance(state, dict):
        return {k: (v if k == "generators" else to_device(v, device)) for k, v in state.items()}
    if isinstance(state, list):
        return [to_device(v, device) for v in state]
    return state
