"""JAX peer: the trainer's SGDA game step written independently in JAX, timed side by side with it.

    pip install -e ".[bench]"          # jax is a benchmark-only extra; nothing in src/ imports it
    python benchmarks/jax_peer.py [--activation relu|tanh] [--dim 16] [--games 32] [--steps 300] [--repeats 3]
    python benchmarks/jax_peer.py --selfcheck

What it measures: game-steps per second of `trainer.train_group` (sgda/truncated, inverse-time
step sizes with each game's η_W = lr_gen/h, tail averaging of Σ = WWᵀ over the second half;
exactly `--steps` steps) and of a JAX peer running the same games' mathematics — the per-sample
step on the trainer's latent batch B = max(gen_batch, 8d) (256 at d = 16, 512 at d = 64 with the default gen_batch 256), and for
injective activations also the sufficient-statistics step (the trainer's own path for them,
`latent_stats`, with the trainer's B = max(gen_batch, n)), which draws the batch's x̄ and S = xxᵀ/B
directly (x̄ ~ N(0, I/B), centred scatter ~ Wishart(B−1, I) by Bartlett) and costs O(d³), not
O(d²B). The peer is vmap over games, lax.scan over steps (one block per half of the run: the
second half also averages Σ), jit, and shard_map over one XLA host device per core.

Each repeat times the trainer, a one-step trainer call and then the peer within seconds of each
other; the ratio is trainer game-steps/s ÷ peer game-steps/s (> 1: the trainer is faster), once per
whole call ("trainer") and once per step alone ("trainer steps": the call less the one-step call,
the like-for-like figure, since the peer's clock covers its steps only). Without flags it runs
relu and tanh at d = 16 with 32 games and at d = 64 with 8 games.

Not identical work: a trainer call also sets up its games (real moments of up to 1e5 samples,
W₀, one torch.Generator per game), checks for divergence once per RNG block of steps, and
evaluates each game once at the end (eval_points=1: TV by Monte Carlo and Frobenius errors). The
peer's timing covers its steps only (compiled beforehand, block_until_ready). The trainer's fixed
cost is printed per case: a one-step call. GFLOP/s count 8·d²·B flops per per-sample game-step
(Wx, uuᵀ, (V₂+V₂ᵀ)u, g xᵀ) and 8·d³ per sufficient-statistics game-step (AAᵀ, WS, (WS)Wᵀ,
(V₂+V₂ᵀ)WS); the reference is a plain float64 torch.matmul [R, d, d] @ [R, d, B] in the same run.
"""

import os

# One XLA host device per core; must be set before jax is imported.
_CORES = len(os.sched_getaffinity(0))
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={_CORES}".strip()

import argparse  # noqa: E402
import statistics  # noqa: E402
from functools import partial  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from jax.sharding import PartitionSpec  # noqa: E402

from sgdagan.activations import get_activation  # noqa: E402
from sgdagan.config import TrainConfig  # noqa: E402
from sgdagan.features import make_discriminator  # noqa: E402
from sgdagan.streams import draws_latent_stats, latent_batch  # noqa: E402
from sgdagan.trainer import generator_step_scale, train_group  # noqa: E402
from throughput import build_games, plain_bmm_seconds, timed  # noqa: E402  (benchmarks/, the script's folder)

jax.config.update("jax_enable_x64", True)
F64 = jnp.float64
STANDARD_GAMES = {16: 32, 64: 8}  # the two standard cases: d → number of games


def inverse_time(eta0: float, t0: float, steps: int) -> np.ndarray:
    """η(t) = η0 / (1 + t/t0) for t = 1..steps, the trainer's `inverse_time` schedule."""
    return eta0 / (1.0 + np.arange(1, steps + 1) / t0)


# ---- one game (vmapped over games below) ----------------------------------------------------

def per_sample_grads(w, v1, v2, m1_real, m2_real, x, *, relu: bool, penalty: float):
    """(∇_W U, ∇_V1 U, ∇_V2 U) on a feature-major latent batch x [d, B]."""
    batch = x.shape[1]
    z = w @ x
    u = jnp.where(z > 0, z, 0.0) if relu else z  # truncated relu: u = z on z > 0, else 0
    grad_v1 = m1_real - u.mean(axis=1) - penalty * v1
    grad_v2 = m2_real - (u @ u.T) / batch - penalty * v2
    grad_u = v1[:, None] + (v2 + v2.T) @ u
    grad_z = jnp.where(z > 0, grad_u, 0.0) if relu else grad_u
    return -(grad_z @ x.T) / batch, grad_v1, grad_v2


def sufficient_stats(key, dim: int, batch):
    """(x̄, S = xxᵀ/B) of B standard normal latents, drawn exactly in distribution without x (B may be traced)."""
    k_mean, k_chi, k_normal = jax.random.split(key, 3)
    x_mean = jax.random.normal(k_mean, (dim,), F64) / jnp.sqrt(batch)
    # Bartlett: C = AAᵀ ~ Wishart(B−1, I) with A_ii² ~ χ²(B−i), i = 1..d, and N(0, 1) below the diagonal.
    df = (batch - 1) - jnp.arange(dim)
    diag = jnp.sqrt(2.0 * jax.random.gamma(k_chi, df / 2.0, dtype=F64))  # χ²(k) = 2·Gamma(k/2)
    a = jnp.tril(jax.random.normal(k_normal, (dim, dim), F64), -1) + jnp.diag(diag)
    return x_mean, (a @ a.T) / batch + jnp.outer(x_mean, x_mean)


def suffstat_grads(w, v1, v2, m1_real, m2_real, x_mean, s, *, penalty: float):
    """The per-sample gradients of an injective game (u = Wx) from the batch's x̄ and S."""
    ws = w @ s
    grad_v1 = m1_real - w @ x_mean - penalty * v1
    grad_v2 = m2_real - ws @ w.T - penalty * v2
    return -(jnp.outer(v1, x_mean) + (v2 + v2.T) @ ws), grad_v1, grad_v2


def game_step(state, game, key, step_inputs, *, relu, suffstat, batch, penalty, average):
    """One simultaneous SGDA step of one game; `game` = (m1_real, m2_real, the game's η_W factor 1/h,
    its latent batch as sufficient statistics), `step_inputs` = (t, lr_gen(t), η_V(t), averaging weight)."""
    w, v1, v2, sigma_avg = state
    *real, gen_scale, stats_batch = game
    t, lr_gen, eta_v, weight = step_inputs
    eta_w = lr_gen * gen_scale
    key = jax.random.fold_in(key, t)  # the game's own stream, independent of which games run beside it
    if suffstat:
        grads = suffstat_grads(w, v1, v2, *real, *sufficient_stats(key, w.shape[0], stats_batch), penalty=penalty)
    else:
        # float32 draws used in float64, as the trainer does (LATENT_DTYPE).
        x = jax.random.normal(key, (w.shape[0], batch), jnp.float32).astype(F64)
        grads = per_sample_grads(w, v1, v2, *real, x, relu=relu, penalty=penalty)
    grad_w, grad_v1, grad_v2 = grads
    w, v1, v2 = w - eta_w * grad_w, v1 + eta_v * grad_v1, v2 + eta_v * grad_v2
    if average:  # running mean of Σ_t = W_t W_tᵀ over the tail
        sigma_avg = sigma_avg + weight * (w @ w.T - sigma_avg)
    return w, v1, v2, sigma_avg


def make_block(mesh, **options):
    """jit(shard_map(scan over a block of steps of vmap over games)); the state is donated."""
    step = jax.vmap(partial(game_step, **options), in_axes=(0, 0, 0, None))

    def block(state, real, keys, inputs):
        return jax.lax.scan(lambda s, xs: (step(s, real, keys, xs), None), state, inputs)[0]

    games, replicated = PartitionSpec("games"), PartitionSpec()
    sharded = jax.shard_map(block, mesh=mesh, in_specs=(games, games, games, replicated), out_specs=games)
    return jax.jit(sharded, donate_argnums=0)


class JaxPeer:
    """R games of the JAX peer: fixed real moments and initial W per game; `run()` trains all steps."""

    def __init__(self, w0, m1_real, m2_real, gen_scale, stats_batch, keys, lr_gen, eta_v, average_start, *, relu, suffstat, batch,
                 penalty):
        self.mesh = jax.make_mesh((len(jax.devices()),), ("games",))
        self.games = jax.sharding.NamedSharding(self.mesh, PartitionSpec("games"))
        self.w0 = w0
        self.real = jax.device_put((m1_real, m2_real, gen_scale, stats_batch), self.games)
        self.keys = jax.device_put(keys, self.games)
        steps = len(lr_gen)
        t = np.arange(1, steps + 1)
        # The trainer averages from step `average_start` on: weight 1/k at the k-th averaged step.
        weight = np.where(t >= average_start, 1.0 / np.maximum(t - average_start + 1, 1), 0.0)
        inputs = (t, np.asarray(lr_gen, np.float64), np.asarray(eta_v, np.float64), weight)
        split = min(max(average_start - 1, 0), steps)
        self.phases = [(make_block(self.mesh, relu=relu, suffstat=suffstat, batch=batch, penalty=penalty,
                                   average=average), tuple(jnp.asarray(a[lo:hi]) for a in inputs))
                       for average, lo, hi in ((False, 0, split), (True, split, steps)) if hi > lo]

    def initial_state(self):
        w = jnp.asarray(self.w0)
        return jax.device_put((w, jnp.zeros(w.shape[:2], F64), jnp.zeros_like(w), jnp.zeros_like(w)), self.games)

    def run(self, state):
        for block, inputs in self.phases:
            state = block(state, self.real, self.keys, inputs)
        return jax.block_until_ready(state)


# ---- the side-by-side comparison ------------------------------------------------------------

def build_case(activation_name: str, dim: int, games: int, steps: int):
    """The trainer's games (benchmarks/throughput.py's `build_games`) and the same games for the peer:
    the same real moments and per-game η_W (`generator_step_scale`), its own W₀ and latent streams."""
    device = torch.device("cpu")
    config, activation, data, _, specs, sigma_star = build_games(
        activation_name, dim, games, steps, device, lr_schedule="inverse_time", averaging="tail")
    trainer_args = (specs, config, activation, data, sigma_star, device, torch.float64)

    disc = make_discriminator("truncated", activation, config.penalty)
    real = [disc.moments(disc.data_transform(data[s.seed][: s.n])[None]) for s in specs]
    m1_real, m2_real = (np.stack([r[k][0].numpy() for r in real]) for k in (0, 1))
    # The trainer's latent batch per game: max(gen_batch, n) where drawn as statistics (tanh), else config.latent_vectors().
    stats = draws_latent_stats(config, disc)
    batches = np.array([latent_batch(config, s.n, stats) for s in specs], dtype=np.float64)
    gen_scale = np.array([generator_step_scale(disc, data[s.seed][: s.n], [m[0] for m in r], int(b), config)
                          for s, r, b in zip(specs, real, batches)])
    keys = jnp.stack([jax.random.key(s.seed * 100_003 + s.n) for s in specs])
    init_keys, stream_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
    w0 = config.init_scale * jax.vmap(lambda k: jax.random.normal(k, (dim, dim), F64))(init_keys) / np.sqrt(dim)
    lr_gen = inverse_time(config.lr_gen, config.lr_decay, steps)  # × each game's 1/h inside the step
    eta_v = inverse_time(config.lr_disc, config.lr_decay, steps)
    peer_args = (np.asarray(w0), m1_real, m2_real, gen_scale, batches, stream_keys, lr_gen, eta_v,
                 int(config.average_from * steps))
    return config, trainer_args, peer_args


def time_trainer(trainer_args) -> tuple[float, float, float]:
    """Seconds of a whole `train_group` call (set-up and final evaluation included), of an adjacent
    one-step call (its fixed cost), and of its steps alone: the difference, scaled from steps − 1 to
    all steps — what a peer's clock covers (its compilation and set-up are outside it)."""
    specs, config, *rest = trainer_args
    one_step = TrainConfig.from_sources(None, **{**config.to_dict(), "steps": 1})
    whole = timed(lambda: train_group(*trainer_args))
    fixed = timed(lambda: train_group(specs, one_step, *rest))
    return whole, fixed, (whole - fixed) * config.steps / (config.steps - 1)


def bench_case(activation_name: str, dim: int, games: int, steps: int, repeats: int) -> None:
    config, trainer_args, peer_args = build_case(activation_name, dim, games, steps)
    batch, games = config.latent_vectors(), len(trainer_args[0])  # throughput.py's layout: seeds × up to 8 sample sizes
    if games % len(jax.devices()):
        raise SystemExit(f"{games} games do not split evenly over {len(jax.devices())} XLA host devices")
    activation = trainer_args[2]
    options = dict(relu=not activation.injective, batch=batch, penalty=config.penalty)
    peers = {"per-sample": JaxPeer(*peer_args, suffstat=False, **options)}
    if activation.injective:  # u = Wx: the step sees the batch only through (x̄, S)
        peers["suff-stats"] = JaxPeer(*peer_args, suffstat=True, **options)
    for peer in peers.values():
        peer.run(peer.initial_state())  # compile both blocks: timed runs are steady state
    print(f"== {activation_name} d={dim}: {games} games, B={batch}, {steps} steps; {len(jax.devices())} XLA host "
          f"devices, torch threads {torch.get_num_threads()}; trainer/peer = ratio of game-steps/s", flush=True)

    # The trainer's rate twice: per whole call, and per step alone (`time_trainer`).
    game_steps = games * steps
    times: dict[str, list[float]] = {"trainer": [], "trainer steps": [], **{name: [] for name in peers}}
    fixed = []
    for pair in range(repeats):
        whole, one_step, steps_alone = time_trainer(trainer_args)
        times["trainer"].append(whole)
        fixed.append(one_step)
        times["trainer steps"].append(steps_alone)
        for name, peer in peers.items():
            state = jax.block_until_ready(peer.initial_state())  # placed before the clock: only steps are timed
            times[name].append(timed(lambda: peer.run(state)))
        line = " | ".join(f"{name} {game_steps / t[-1]:7.0f}" for name, t in times.items())
        ratios = "  ".join(f"{mine}/{name} {times[name][-1] / times[mine][-1]:5.2f}"
                           for mine in ("trainer", "trainer steps") for name in peers)
        print(f"  pair {pair}: game-steps/s {line}   {ratios}", flush=True)
    for mine in ("trainer", "trainer steps"):
        for name in peers:
            ratios = [p / t for t, p in zip(times[mine], times[name])]
            print(f"  {mine}/{name}: median {statistics.median(ratios):.2f} over {len(ratios)} pairs "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    print(f"  trainer fixed cost (a one-step call: set-up + final evaluation): median {statistics.median(fixed):.3f} s, "
          f"{statistics.median(fixed) / statistics.median(times['trainer']):.0%} of a median call")

    per_sample_flops, suffstat_flops = 8 * dim**2 * batch * game_steps, 8 * dim**3 * game_steps
    bmm = plain_bmm_seconds(games, dim, batch, 4 * steps, torch.device("cpu"), torch.float64)
    trainer_stats = draws_latent_stats(config, make_discriminator("truncated", activation, config.penalty))
    counted_as_stats = {"suff-stats", *(("trainer", "trainer steps") if trainer_stats else ())}
    gflops = {name: (suffstat_flops if name in counted_as_stats else per_sample_flops) / statistics.median(t) / 1e9
              for name, t in times.items()}
    print("  GFLOP/s: " + ", ".join(f"{name} {value:.2f}" for name, value in gflops.items())
          + f", plain torch bmm {per_sample_flops / bmm / 1e9:.2f}"
          + f" ({4 * steps} × {(games, dim, dim)} @ {(games, dim, batch)})"
          + (f" [{' and '.join(sorted(counted_as_stats & set(gflops)))} count 8·d³ per game-step]"
             if counted_as_stats & set(gflops) else ""), flush=True)


def selfcheck(dim: int = 4, batch: int = 16, draws: int = 40_000) -> None:
    """The peer's gradients against the trainer's closed form, and the sufficient statistics' law by Monte Carlo."""
    rng = np.random.default_rng(0)
    w, v2, m2 = (rng.standard_normal((dim, dim)) for _ in range(3))
    v1, m1 = rng.standard_normal(dim), rng.standard_normal(dim)
    x = rng.standard_normal((dim, batch))
    for name in ("relu", "tanh"):
        disc = make_discriminator("truncated", get_activation(name), 1.0)
        t = [torch.as_tensor(a)[None] for a in (w, v1, v2, m1, m2, x)]
        expected = disc.grads(t[0], t[1:3], t[3:5], t[5])
        got = per_sample_grads(w, v1, v2, m1, m2, x, relu=name == "relu", penalty=1.0)
        diff = max(float(np.abs(np.asarray(g) - e[0].numpy()).max()) for g, e in zip(got, [expected[0], *expected[1]]))
        print(f"per-sample grads vs trainer ({name}): max |diff| {diff:.1e}")
    exact = suffstat_grads(w, v1, v2, m1, m2, x.mean(axis=1), x @ x.T / batch, penalty=1.0)
    per_sample = per_sample_grads(w, v1, v2, m1, m2, x, relu=False, penalty=1.0)
    print(f"suff-stats grads from the batch's own (x̄, S) vs per-sample (tanh): max |diff| "
          f"{max(float(np.abs(a - b).max()) for a, b in zip(exact, per_sample)):.1e}")

    keys = jax.random.split(jax.random.key(1), draws)
    _, s_drawn = jax.vmap(partial(sufficient_stats, dim=dim, batch=batch))(keys)
    xs = jax.vmap(lambda k: jax.random.normal(k, (dim, batch), F64))(jax.random.split(jax.random.key(2), draws))
    s_direct = xs @ xs.mT / batch
    mean_err = float(jnp.abs(s_drawn.mean(0) - jnp.eye(dim)).max())
    se = np.sqrt(2 / batch / draws)  # of a diagonal entry's mean; off-diagonal ones have less
    print(f"E[S] = I: max |mean − I| {mean_err:.4f}, s.e. {se:.4f}  {'ok' if mean_err < 5 * se else 'MISMATCH'}")
    for (i, j), theory in (((0, 0), 2 / batch), ((0, 1), 1 / batch)):
        a, b = float(s_drawn[:, i, j].var()), float(s_direct[:, i, j].var())
        ok = abs(a / b - 1) < 5 * np.sqrt(6 / draws)  # relative s.e. of a ratio of two sample variances, kurtosis ≈ 4
        print(f"Var S[{i},{j}]: suff-stats {a:.5f}, per-sample {b:.5f}, theory {theory:.5f}"
              f"  {'ok' if ok else 'MISMATCH'}")


def add_case_arguments(parser: argparse.ArgumentParser, steps: int) -> None:
    """The options that choose the cases (shared with fused_step.py)."""
    parser.add_argument("--activation", choices=("relu", "tanh"), help="default: both")
    parser.add_argument("--dim", type=int, help="default: the standard cases 16 and 64")
    parser.add_argument("--games", type=int, help=f"default: {STANDARD_GAMES} by dimension, else 8")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--repeats", type=int, default=3)


def chosen_cases(args: argparse.Namespace):
    """(activation, d, games) of each case the options choose, in order."""
    for dim in [args.dim] if args.dim else list(STANDARD_GAMES):
        for activation in [args.activation] if args.activation else ["relu", "tanh"]:
            yield activation, dim, args.games or STANDARD_GAMES.get(dim, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_case_arguments(parser, steps=300)
    parser.add_argument("--selfcheck", action="store_true", help="check the peer's maths and exit")
    args = parser.parse_args()
    if args.selfcheck:
        return selfcheck()
    for activation, dim, games in chosen_cases(args):
        bench_case(activation, dim, games, args.steps, args.repeats)


if __name__ == "__main__":
    main()
