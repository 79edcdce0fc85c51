"""Game dynamics: one update of (W, V) given a gradient oracle (DESIGN §5).

The generator descends U, the discriminator ascends it. Every rule sees the game through a
`GameOracle` for the current step, whose latent batches are fixed for the step; `draws` says how
many independent latent batches a rule consumes per step (part of each game's random stream).
A rule that remembers something between steps keeps it in `state` (a dict of per-game tensors
with a leading games dimension), which the trainer checkpoints with the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch

Params = list[torch.Tensor]


class GameOracle(Protocol):
    def grads(self, w: torch.Tensor, v: Params, draw: int = 0) -> tuple[torch.Tensor, Params]:
        """(∇_W U, ∇_V U) at (w, v) on latent batch `draw`."""

    def best_response(self, w: torch.Tensor, draw: int = 0) -> Params:
        """argmax_V U(w, V) with the generator moments estimated on latent batch `draw`."""


def sgda(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: float, lr_disc: float, state: dict):
    """Simultaneous descent-ascent: both players step from the same point."""
    grad_w, grad_v = oracle.grads(w, v)
    return w - lr_gen * grad_w, [p + lr_disc * g for p, g in zip(v, grad_v)]


def alt(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: float, lr_disc: float, state: dict):
    """Alternating: the discriminator steps first, the generator answers the updated one."""
    _, grad_v = oracle.grads(w, v)
    v = [p + lr_disc * g for p, g in zip(v, grad_v)]
    grad_w, _ = oracle.grads(w, v)
    return w - lr_gen * grad_w, v


def bilevel(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: float, lr_disc: float, state: dict):
    """The limit of a fast discriminator: V = V*(W) every step, then a generator step.

    V* is estimated on its own latent batch so that the generator's gradient is not biased by
    reusing the batch that chose V (the envelope gradient needs independent estimates).
    """
    v = [p.detach() for p in oracle.best_response(w, draw=1)]
    grad_w, _ = oracle.grads(w, v, draw=0)
    return w - lr_gen * grad_w, v


@dataclass(frozen=True)
class Dynamics:
    name: str
    step: Callable
    draws: int


DYNAMICS_REGISTRY = {
    "sgda": Dynamics("sgda", sgda, draws=1),
    "alt": Dynamics("alt", alt, draws=1),
    "bilevel": Dynamics("bilevel", bilevel, draws=2),
}


def get_dynamics(name: str) -> Dynamics:
    try:
        return DYNAMICS_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dynamics {name!r}; choose one of {', '.join(DYNAMICS_REGISTRY)}") from None
