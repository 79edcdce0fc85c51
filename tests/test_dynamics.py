"""The game dynamics in the GAN trainer: each runs, is deterministic and resumes bit for bit."""

import io

import pytest
import torch

from sgdagan.activations import get_activation
from sgdagan.bilinear import BilinearOracle
from sgdagan.config import ConfigError, TrainConfig
from sgdagan.dynamics import DYNAMICS_REGISTRY, co, eg, get_dynamics, pm, sgda, ttur
from sgdagan.targets import sample_target, target_weights
from sgdagan.streams import RNG_BLOCK, GameSpec
from sgdagan.trainer import GroupRun, StepOracle, train

ALL = ["sgda", "alt", "ttur", "omd", "eg", "pm", "co", "bilevel"]
# lr_disc·λ = 0.5: OGDA on the discriminator's strongly concave part needs η_V λ < 2/3.
TINY = dict(dim=2, steps=40, samples=[200, 400], eval_points=2, tv_samples=500, gen_batch=64, lr_disc=0.5,
            device="cpu")


def test_registry_holds_every_rule():
    assert list(DYNAMICS_REGISTRY) == ALL
    assert {name: d.draws for name, d in DYNAMICS_REGISTRY.items()} == {
        "sgda": 1, "alt": 1, "ttur": 1, "omd": 1, "eg": 1, "pm": 1, "co": 1, "bilevel": 2}


def test_every_dynamics_trains_and_is_deterministic():
    config = TrainConfig.from_sources(None, dynamics=ALL, discriminators=["truncated"], **TINY)
    first, second = train(config, progress=False), train(config, progress=False)
    assert first.metrics.drop(columns="wall_s").equals(second.metrics.drop(columns="wall_s"))
    games = first.metrics[first.metrics.dynamics != ""]  # not the no-GAN estimators
    assert set(games.dynamics) == set(ALL)
    assert (games.status == "ok").all() and games.tv.between(0, 1).all()
    for key, sigma in first.sigmas.items():
        assert torch.equal(torch.as_tensor(sigma), torch.as_tensor(second.sigmas[key]))


def _group(dynamics: str, config: TrainConfig) -> GroupRun:
    act = get_activation(config.activation)
    w_star = target_weights(config.dim, config.kappa, 0)
    data = {0: sample_target(act, w_star, max(config.samples), 0)}
    specs = [GameSpec(0, n, "truncated", dynamics) for n in config.samples]
    star = torch.stack([torch.as_tensor(w_star @ w_star.T)] * len(specs))
    return GroupRun(specs, config, act, data, star, "cpu", torch.float64)


@pytest.mark.parametrize("dynamics", ALL)
def test_checkpoint_round_trip_continues_identically(dynamics):
    config = TrainConfig.from_sources(None, dynamics=[dynamics], **TINY)
    saved = {}

    def save_first(run):
        if not saved:
            buffer = io.BytesIO()
            torch.save(run.state_dict(), buffer)  # what Checkpoint writes; loaded as it loads it
            saved["bytes"] = buffer.getvalue()

    whole_rows, whole_final = _group(dynamics, config).run(progress=False, on_block=save_first)
    state = torch.load(io.BytesIO(saved["bytes"]), weights_only=True)
    assert state["step"] == RNG_BLOCK
    if dynamics == "ttur":
        assert state["dyn_state"]["t"].tolist() == [RNG_BLOCK] * 2
    if dynamics == "omd":
        assert set(state["dyn_state"]) == {"g_w", "g_v0", "g_v1"}
    resumed = _group(dynamics, config)
    resumed.load_state_dict(state)
    rows, final = resumed.run(progress=False)
    drop = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    assert drop(rows) == drop(whole_rows)
    assert torch.equal(final, whole_final)


def _oracle(activation="tanh", discriminator="quadratic"):
    config = TrainConfig.from_sources(None, activation=activation, discriminators=[discriminator], **TINY)
    run = GroupRun([GameSpec(0, 400, discriminator, "co")], config, get_activation(activation),
                   {0: sample_target(get_activation(activation), target_weights(2, config.kappa, 0), 400, 0)},
                   torch.eye(2, dtype=torch.float64)[None], "cpu", torch.float64)
    latents, _ = run.streams.next()
    gen = torch.Generator().manual_seed(1)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.3 for p in run.v]
    return StepOracle(run.disc, run.real_full, latents), run.w, v


def test_consensus_term_is_the_gradient_of_half_the_squared_field():
    # co − sgda = −η γ (∇_W ½‖ξ‖², −∇_V ½‖ξ‖²); its inner product with a direction d must equal the
    # central difference of ½‖ξ‖² along d (the double backward through StepOracle).
    oracle, w, v = _oracle()

    def half_sq(w, v):
        gw, gv = oracle.grads(w, v)
        return 0.5 * sum(g.pow(2).sum() for g in (gw, *gv))

    eta_w, eta_v, gamma = 0.3, 0.5, 0.2
    w_co, v_co = co(oracle, w, v, eta_w, eta_v, {}, gamma=gamma)
    w_gd, v_gd = sgda(oracle, w, v, eta_w, eta_v, {})
    assert not w_co.requires_grad and not any(p.requires_grad for p in v_co)
    grad_w = (w_gd - w_co) / (eta_w * gamma)
    grad_v = [(p_co - p_gd) / (-eta_v * gamma) for p_co, p_gd in zip(v_co, v_gd)]
    gen = torch.Generator().manual_seed(2)
    dw = torch.randn(w.shape, generator=gen, dtype=torch.float64)
    dv = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in v]
    eps = 1e-5
    numeric = (half_sq(w + eps * dw, [p + eps * d for p, d in zip(v, dv)])
               - half_sq(w - eps * dw, [p - eps * d for p, d in zip(v, dv)])) / (2 * eps)
    analytic = (grad_w * dw).sum() + sum((g * d).sum() for g, d in zip(grad_v, dv))
    assert analytic.item() == pytest.approx(numeric.item(), rel=1e-6)


def test_pm_with_gamma_one_is_extragradient_and_gamma_scales_the_full_step():
    oracle, w, v = _oracle(activation="relu", discriminator="truncated")
    w_eg, v_eg = eg(oracle, w, v, 0.3, 0.5, {})
    w_pm, v_pm = pm(oracle, w, v, 0.3, 0.5, {}, gamma=1.0)
    assert torch.equal(w_eg, w_pm) and all(torch.equal(a, b) for a, b in zip(v_eg, v_pm))
    w_half, _ = pm(oracle, w, v, 0.3, 0.5, {}, gamma=0.5)
    assert torch.allclose(w_half - w, 0.5 * (w_eg - w), atol=1e-14)


def test_ttur_time_scales_and_counter():
    # U = θω (C = [[1]]): from (θ, ω) = (0, 1) the generator moves by −a_t, from (1, 0) the
    # discriminator by +b_t: a_t = η/(1 + t/τ), b_t = η/(1 + t/τ)^{2/3}.
    oracle, tau, eta = BilinearOracle(torch.ones(1, 1, dtype=torch.float64)), 10.0, 0.4
    state, scheduled_state = {}, {}
    for t in (1, 2, 3):
        base_w = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        base_v = [torch.tensor([[1.0], [0.0]], dtype=torch.float64)]
        w, (v,) = ttur(oracle, base_w, base_v, eta, eta, state, decay=tau, scheduled=False)
        slow = 1 + t / tau
        assert w[0, 0].item() == pytest.approx(-eta / slow) and v[1, 0].item() == pytest.approx(eta * slow ** (-2 / 3))
        # With the trainer's inverse-time schedule already in the step sizes, the steps are the same.
        w_s, (v_s,) = ttur(oracle, base_w, base_v, eta / slow, eta / slow, scheduled_state, decay=tau,
                           scheduled=True)
        assert torch.allclose(w_s, w, atol=1e-15) and torch.allclose(v_s, v, atol=1e-15)
        assert state["t"].dtype == torch.int64 and state["t"].tolist() == [t, t]


def test_config_binds_each_rules_settings():
    config = TrainConfig.from_sources(None, co_gamma=0.37, pm_gamma=0.8, lr_decay=250.0)
    assert get_dynamics("co", config).step.keywords == {"gamma": 0.37}
    assert get_dynamics("pm", config).step.keywords == {"gamma": 0.8}
    assert get_dynamics("ttur", config).step.keywords == {"decay": 250.0, "scheduled": True}
    constant = TrainConfig.from_sources(None, lr_schedule="constant")
    assert get_dynamics("ttur", constant).step.keywords["scheduled"] is False
    assert get_dynamics("sgda", config) is DYNAMICS_REGISTRY["sgda"]
    with pytest.raises(ValueError, match="unknown dynamics"):
        get_dynamics("adam")


@pytest.mark.parametrize("setting, value", [("co_gamma", 0.0), ("pm_gamma", -1.0), ("co_gamma", "x")])
def test_bad_dynamics_settings_are_rejected(setting, value):
    with pytest.raises(ConfigError, match=setting):
        TrainConfig.from_sources(None, **{setting: value})


def test_every_registered_dynamics_is_a_valid_config_choice():
    assert TrainConfig.from_sources(None, dynamics=ALL).dynamics == ALL
    with pytest.raises(ConfigError, match="dynamics"):
        TrainConfig.from_sources(None, dynamics=["sgda", "nesterov"])
