"""Game dynamics: one update of (W, V) given a gradient oracle (DESIGN §5).

The generator descends U, the discriminator ascends it; with ξ = (∇_W U, −∇_V U), the descent
field of the game, every rule below is written for z = (W, V) as "z ← z − η·(something built
from ξ)". Step sizes are per player: η_W = `lr_gen` for W, η_V = `lr_disc` for V (the bilinear
experiment, bilinear.py, gives both players one η). A step size or a rule's γ may be a python
number or a per-game tensor of shape [R] (the bilinear grid runs R settings at once); `_mul`
broadcasts it along a game's own axes.

Every rule sees the game through a `GameOracle` for the current step, whose latent batches are
fixed for the step; `draws` says how many independent latent batches a rule consumes per step
(part of each game's random stream). The rules that evaluate the field twice in a step (eg, pm)
or differentiate it (co) use the step's one batch for both ("same-sample" stochastic
extragradient, Mishchenko et al. 2020): the extrapolation and the update see the same game.

A rule that remembers something between steps keeps it in `state`: a flat dict of per-game
tensors with a leading games dimension R, which the trainer checkpoints with the parameters
(`torch.load(weights_only=True)` reads it) and zeroes for a diverged game. Rules with settings of
their own (γ of co and pm, the time scales of ttur) take them as keyword arguments;
`get_dynamics(name, config)` binds them from a TrainConfig.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable, Protocol, Union

import torch

from .choices import CO_GAMMA, PM_GAMMA

Params = list[torch.Tensor]
Scale = Union[float, torch.Tensor]  # a python number, or one value per game ([R])

TTUR_DECAY = 500.0


class GameOracle(Protocol):
    def grads(self, w: torch.Tensor, v: Params, draw: int = 0,
              create_graph: bool = False) -> tuple[torch.Tensor, Params]:
        """(∇_W U, ∇_V U) at (w, v) on latent batch `draw`.

        With `create_graph`, the gradients stay differentiable functions of the caller's `w` and
        `v` (which must require grad), for rules that differentiate the field itself (co)."""

    def best_response(self, w: torch.Tensor, draw: int = 0) -> Params:
        """argmax_V U(w, V) with the generator moments estimated on latent batch `draw`."""


def _mul(scale: Scale, tensor: torch.Tensor) -> torch.Tensor:
    """scale · tensor, a per-game scale [R] broadcast over the game's own axes."""
    if isinstance(scale, torch.Tensor):
        scale = scale.to(tensor.dtype).reshape(-1, *[1] * (tensor.dim() - 1))
    return scale * tensor


def _descend(w, v, grad_w, grad_v, lr_gen: Scale, lr_disc: Scale):
    """One GDA move along given gradients: W − η_W ∇_W, V + η_V ∇_V."""
    return w - _mul(lr_gen, grad_w), [p + _mul(lr_disc, g) for p, g in zip(v, grad_v)]


def sgda(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict):
    """Simultaneous descent-ascent: z_{t+1} = z_t − η ξ(z_t), both players from the same point."""
    grad_w, grad_v = oracle.grads(w, v)
    return _descend(w, v, grad_w, grad_v, lr_gen, lr_disc)


def alt(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict):
    """Alternating: V_{t+1} = V_t + η_V ∇_V U(W_t, V_t), then W_{t+1} = W_t − η_W ∇_W U(W_t, V_{t+1})."""
    _, grad_v = oracle.grads(w, v)
    v = [p + _mul(lr_disc, g) for p, g in zip(v, grad_v)]
    grad_w, _ = oracle.grads(w, v)
    return w - _mul(lr_gen, grad_w), v


def ttur(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict, *,
         decay: float = TTUR_DECAY, scheduled: bool = True):
    """Two time scales: simultaneous steps a_t = η_W/(1 + t/τ) for W, b_t = η_V/(1 + t/τ)^{2/3} for V.

    a_t/b_t → 0: the discriminator runs on the faster time scale (DESIGN §5's a = c/t, b = c'/t^{2/3},
    shifted to start at the base step sizes). τ = `decay`. The step index t (1 at the first step)
    is kept in state["t"], one int64 per game. `scheduled` says that the caller's step sizes
    already carry the inverse-time decay 1/(1 + t/τ) (the trainer's lr_schedule = inverse_time with
    lr_decay = τ): ttur then only slows the discriminator's decay to the 2/3 power, so the steps
    are the same either way.
    """
    t = state.get("t")
    t = torch.zeros(w.shape[0], dtype=torch.int64, device=w.device) if t is None else t
    t = t + 1
    state["t"] = t
    slow = 1.0 + t.to(w.dtype) / decay
    if scheduled:
        gen_factor, disc_factor = torch.ones_like(slow), slow ** (1.0 / 3.0)
    else:
        gen_factor, disc_factor = 1.0 / slow, slow ** (-2.0 / 3.0)
    grad_w, grad_v = oracle.grads(w, v)
    return _descend(w, v, grad_w, grad_v, lr_gen * gen_factor, lr_disc * disc_factor)


def omd(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict):
    """Optimistic GDA (OGDA): z_{t+1} = z_t − 2η ξ_t + η ξ_{t−1}; the first step is plain GDA.

    ξ_{t−1} (the previous step's gradients, on the previous step's batch) is kept in
    state["g_w"], state["g_v0"], state["g_v1"], ...
    """
    grad_w, grad_v = oracle.grads(w, v)
    prev_w = state.get("g_w", grad_w)
    prev_v = [state.get(f"g_v{i}", g) for i, g in enumerate(grad_v)]
    state["g_w"] = grad_w
    state.update({f"g_v{i}": g for i, g in enumerate(grad_v)})
    return _descend(w, v, 2.0 * grad_w - prev_w, [2.0 * g - p for g, p in zip(grad_v, prev_v)], lr_gen, lr_disc)


def _extrapolated(oracle: GameOracle, w, v, lr_gen, lr_disc, full_gen, full_disc):
    """z_{t+½} = z_t − η ξ(z_t), then z_{t+1} = z_t − γ ξ(z_{t+½}) (γ per player: full_gen, full_disc)."""
    grad_w, grad_v = oracle.grads(w, v)
    w_half, v_half = _descend(w, v, grad_w, grad_v, lr_gen, lr_disc)
    grad_w, grad_v = oracle.grads(w_half, v_half)
    return _descend(w, v, grad_w, grad_v, full_gen, full_disc)


def eg(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict):
    """Extragradient (Korpelevich): z_{t+½} = z_t − η ξ(z_t), z_{t+1} = z_t − η ξ(z_{t+½})."""
    return _extrapolated(oracle, w, v, lr_gen, lr_disc, lr_gen, lr_disc)


def pm(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict, *,
       gamma: Scale = PM_GAMMA):
    """Predictive method (DESIGN §5): z_{t+½} = z_t − η ξ(z_t), z_{t+1} = z_t − γη ξ(z_{t+½}).

    The half (prediction) step is each player's η; the full step from z_t is `gamma` times it
    (γ·η_W for W, γ·η_V for V), so the players keep their step-size ratio; γ = 1 is extragradient.
    """
    return _extrapolated(oracle, w, v, lr_gen, lr_disc, gamma * lr_gen, gamma * lr_disc)


def co(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict, *,
       gamma: Scale = CO_GAMMA):
    """Consensus optimisation (Mescheder et al. 2017): z_{t+1} = z_t − η (I + γ Hᵀ) ξ(z_t), H = ∂ξ/∂z.

    That is GDA on U ± (γ/2)‖ξ‖²: W descends U + (γ/2)‖ξ‖², V ascends U − (γ/2)‖ξ‖²
    (∇ ½‖ξ‖² = Hᵀξ). ‖ξ‖² is per game; its gradient comes from a double backward through the oracle.
    """
    with torch.enable_grad():
        w_in = w.detach().requires_grad_(True)
        v_in = [p.detach().requires_grad_(True) for p in v]
        grad_w, grad_v = oracle.grads(w_in, v_in, create_graph=True)
        half_sq = 0.5 * sum(g.pow(2).flatten(1).sum(1) for g in (grad_w, *grad_v))  # ½‖ξ‖² per game, [R]
        inputs = [w_in, *v_in]
        if half_sq.requires_grad:
            reg = torch.autograd.grad(half_sq.sum(), inputs, allow_unused=True)
            reg = [torch.zeros_like(x) if r is None else r for r, x in zip(reg, inputs)]
        else:  # a field that does not depend on z (constant gradients): ‖ξ‖² has no gradient
            reg = [torch.zeros_like(x) for x in inputs]
    reg = [_mul(gamma, r.detach()) for r in reg]
    grad_w = grad_w.detach() + reg[0]
    grad_v = [g.detach() - r for g, r in zip(grad_v, reg[1:])]
    return _descend(w, v, grad_w, grad_v, lr_gen, lr_disc)


def bilevel(oracle: GameOracle, w: torch.Tensor, v: Params, lr_gen: Scale, lr_disc: Scale, state: dict):
    """The limit of a fast discriminator: V_t = V*(W_t) every step, then W_{t+1} = W_t − η_W ∇_W U(W_t, V_t).

    V* is estimated on its own latent batch so that the generator's gradient is not biased by
    reusing the batch that chose V (the envelope gradient needs independent estimates).
    """
    v = [p.detach() for p in oracle.best_response(w, draw=1)]
    grad_w, _ = oracle.grads(w, v, draw=0)
    return w - _mul(lr_gen, grad_w), v


def _no_settings(config) -> dict:
    return {}


@dataclass(frozen=True)
class Dynamics:
    name: str
    step: Callable
    draws: int
    settings: Callable = _no_settings  # TrainConfig → the rule's keyword settings

    def configured(self, config) -> "Dynamics":
        """This rule with its own settings (γ, time scales) taken from a TrainConfig."""
        kwargs = self.settings(config)
        return dataclasses.replace(self, step=functools.partial(self.step, **kwargs)) if kwargs else self


DYNAMICS_REGISTRY = {
    "sgda": Dynamics("sgda", sgda, draws=1),
    "alt": Dynamics("alt", alt, draws=1),
    "ttur": Dynamics("ttur", ttur, draws=1, settings=lambda c: {
        "decay": c.lr_decay, "scheduled": c.lr_schedule == "inverse_time"}),
    "omd": Dynamics("omd", omd, draws=1),
    "eg": Dynamics("eg", eg, draws=1),
    "pm": Dynamics("pm", pm, draws=1, settings=lambda c: {"gamma": c.pm_gamma}),
    "co": Dynamics("co", co, draws=1, settings=lambda c: {"gamma": c.co_gamma}),
    "bilevel": Dynamics("bilevel", bilevel, draws=2),
}


def get_dynamics(name: str, config=None) -> Dynamics:
    """The named rule; with a TrainConfig, its own settings (co_gamma, pm_gamma, ttur's τ) bound."""
    try:
        dynamics = DYNAMICS_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dynamics {name!r}; choose one of {', '.join(DYNAMICS_REGISTRY)}") from None
    return dynamics if config is None else dynamics.configured(config)
