"""What compiling the gradients would buy: one C call per shard and step, against the trainer and the JAX peer.

    pip install -e ".[bench]"          # jax, for the peer (benchmarks/jax_peer.py); a C compiler (cc) builds the kernels
    python benchmarks/fused_step.py [--activation relu|tanh] [--dim 16] [--games 32] [--steps 1000] [--repeats 3]
    python benchmarks/fused_step.py --selfcheck

A measurement, not a second trainer: how much of the gap between `trainer.train_group` and the
JAX peer a compiled gradient closes, before the project takes on a compiled extension. The
"fused" side runs the trainer's mathematics for sgda/truncated (relu: the per-sample step on
B = `config.latent_vectors()` latents; tanh: the step from the latent batch's x̄ and S, the
trainer's `latent_stats` path) in the trainer's own layout and with its own random streams
(`GameStreams`: float32 latent blocks, or Bartlett-drawn statistics, each game from its own
torch.Generator), in one shard per core, each single-threaded in its own Python thread (tanh
too: a C call releases the interpreter). Per step, ONE call into C forms every game's gradients
(`MomentDiscriminator.grads`'s closed forms, checked against it by --selfcheck) with BLAS dgemm
(scipy's, through the public scipy.linalg.cython_blas) and fused loops for the elementwise work;
the update, the inverse-time step sizes (each game's η_W = lr_gen/h) and the tail average of
Σ = WWᵀ stay in torch, a handful of in-place operations, as the trainer's `sgda` does them.

Each repeat times the trainer (steps alone: a call less a one-step call, as jax_peer.py does),
the fused step and the peer (per-sample for relu, sufficient statistics for tanh: the like-for-
like peers of jax_peer.py) within seconds of each other; printed: game-steps/s and ratios per
pair, then median [min, max] over the pairs. Without flags: relu and tanh at d = 16 with 32
games and at d = 64 with 8 games, 1000 steps.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the kernel's dgemm runs inside a shard's own thread

import argparse  # noqa: E402
import ctypes  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import jax_peer  # noqa: E402  (benchmarks/, the script's folder; sets XLA's host device count before jax loads)
import numpy as np  # noqa: E402
import scipy.linalg.cython_blas  # noqa: E402
import torch  # noqa: E402

from sgdagan.activations import get_activation  # noqa: E402
from sgdagan.features import LatentMoments, make_discriminator  # noqa: E402
from sgdagan.streams import GameStreams, draws_latent_stats  # noqa: E402
from sgdagan.trainer import intra_op_threads  # noqa: E402
from throughput import timed  # noqa: E402

KERNEL = r"""
typedef void (*dgemm_t)(const char *, const char *, const int *, const int *, const int *, const double *,
                        const double *, const int *, const double *, const int *, const double *, double *, const int *);

/* Row-major C[m, n] = alpha · op(A) op(B) + beta · C through the column-major (Fortran) dgemm: Cᵀ = op(B)ᵀ op(A)ᵀ. */
static void gemm(dgemm_t f, int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc) {
    f(trans_b ? "T" : "N", trans_a ? "T" : "N", &n, &m, &k, &alpha, b, &ldb, a, &lda, &beta, c, &ldc);
}

/* sym = V2 + V2ᵀ and the discriminator's own gradients' penalty part: ∇V_k starts at m_k − λV_k. */
static void start_grads(int d, const double *v1, const double *v2, const double *m1, const double *m2, double penalty,
                        double *sym, double *grad_v1, double *grad_v2) {
    for (int i = 0; i < d; i++) {
        grad_v1[i] = m1[i] - penalty * v1[i];
        for (int j = 0; j < d; j++) {
            sym[i * d + j] = v2[i * d + j] + v2[j * d + i];
            grad_v2[i * d + j] = m2[i * d + j] - penalty * v2[i * d + j];
        }
    }
}

/* Truncated relu on a latent batch x [R, d, B] (feature-major, the trainer's MomentDiscriminator.grads):
   z = Wx, u = z·1[z > 0], ∇V1 = m1 − ū − λV1, ∇V2 = m2 − uuᵀ/B − λV2, ∇W = −(1/B) [1[z > 0] ⊙ (V1 + (V2 + V2ᵀ)u)] xᵀ.
   work: 2·d·B + d² doubles. */
void relu_grads(int games, int d, int batch, const double *w, const double *v1, const double *v2, const double *m1,
                const double *m2, double penalty, const double *latents, double *grad_w, double *grad_v1,
                double *grad_v2, double *work, dgemm_t dgemm) {
    long db = (long)d * batch, dd = (long)d * d;
    double *u = work, *gu = u + db, *sym = gu + db;
    for (int r = 0; r < games; r++) {
        const double *x = latents + r * db, *v1r = v1 + (long)r * d;
        double *gv1 = grad_v1 + (long)r * d, *gv2 = grad_v2 + r * dd;
        start_grads(d, v1r, v2 + r * dd, m1 + (long)r * d, m2 + r * dd, penalty, sym, gv1, gv2);
        gemm(dgemm, 0, 0, d, batch, d, 1.0, w + r * dd, d, x, batch, 0.0, u, batch);
        for (long i = 0; i < db; i++) u[i] = u[i] > 0.0 ? u[i] : 0.0;  /* z > 0 ⟺ u > 0 from here on */
        for (int i = 0; i < d; i++) {
            double sum = 0.0;
            for (int b = 0; b < batch; b++) sum += u[i * batch + b];
            gv1[i] -= sum / batch;
            for (int b = 0; b < batch; b++) gu[i * batch + b] = v1r[i];
        }
        gemm(dgemm, 0, 0, d, batch, d, 1.0, sym, d, u, batch, 1.0, gu, batch);
        for (long i = 0; i < db; i++) gu[i] = u[i] > 0.0 ? gu[i] : 0.0;
        gemm(dgemm, 0, 1, d, d, batch, -1.0 / batch, u, batch, u, batch, 1.0, gv2, d);
        gemm(dgemm, 0, 1, d, d, batch, -1.0 / batch, gu, batch, x, batch, 0.0, grad_w + r * dd, d);
    }
}

/* An injective game (u = Wx) from the batch's x̄ [R, d] and S = XXᵀ/B [R, d, d] (the trainer's LatentMoments path):
   ∇V1 = m1 − Wx̄ − λV1, ∇V2 = m2 − WSWᵀ − λV2, ∇W = −V1x̄ᵀ − (V2 + V2ᵀ)WS.  work: 2·d² doubles. */
void stats_grads(int games, int d, const double *w, const double *v1, const double *v2, const double *m1,
                 const double *m2, double penalty, const double *mean, const double *second, double *grad_w,
                 double *grad_v1, double *grad_v2, double *work, dgemm_t dgemm) {
    long dd = (long)d * d;
    double *ws = work, *sym = ws + dd;
    for (int r = 0; r < games; r++) {
        const double *wr = w + r * dd, *xm = mean + (long)r * d, *v1r = v1 + (long)r * d;
        double *gv1 = grad_v1 + (long)r * d, *gv2 = grad_v2 + r * dd, *gw = grad_w + r * dd;
        start_grads(d, v1r, v2 + r * dd, m1 + (long)r * d, m2 + r * dd, penalty, sym, gv1, gv2);
        for (int i = 0; i < d; i++) {
            double sum = 0.0;
            for (int j = 0; j < d; j++) sum += wr[i * d + j] * xm[j];
            gv1[i] -= sum;
            for (int j = 0; j < d; j++) gw[i * d + j] = -v1r[i] * xm[j];
        }
        gemm(dgemm, 0, 0, d, d, d, 1.0, wr, d, second + r * dd, d, 0.0, ws, d);
        gemm(dgemm, 0, 1, d, d, d, -1.0, ws, d, wr, d, 1.0, gv2, d);
        gemm(dgemm, 0, 0, d, d, d, -1.0, sym, d, ws, d, 1.0, gw, d);
    }
}
"""


def build_kernel() -> ctypes.CDLL:
    """Compile KERNEL with the system's cc into a temporary shared library (about a second)."""
    folder = Path(tempfile.mkdtemp(prefix="fused_step_"))
    (folder / "kernel.c").write_text(KERNEL)
    subprocess.run(["cc", "-O3", "-march=native", "-shared", "-fPIC", "kernel.c", "-o", "kernel.so"], cwd=folder,
                   check=True)
    lib = ctypes.CDLL(str(folder / "kernel.so"))
    lib.relu_grads.restype = lib.stats_grads.restype = None
    return lib


def scipy_dgemm() -> ctypes.c_void_p:
    """The address of scipy's Fortran dgemm (scipy.linalg.cython_blas, a public C-level API)."""
    capsule = scipy.linalg.cython_blas.__pyx_capi__["dgemm"]
    get_name, get_pointer = ctypes.pythonapi.PyCapsule_GetName, ctypes.pythonapi.PyCapsule_GetPointer
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.c_void_p(get_pointer(capsule, get_name(capsule)))


def _ptr(tensor: torch.Tensor) -> ctypes.c_void_p:
    assert tensor.is_contiguous() and tensor.dtype == torch.float64
    return ctypes.c_void_p(tensor.data_ptr())


def grad_buffers(games: int, dim: int, batch: int | None) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The kernels' outputs (∇_W U, ∇_V1 U, ∇_V2 U) and their scratch space, allocated once per shard;
    `batch` None for the sufficient-statistics kernel."""
    work = 2 * dim * dim if batch is None else 2 * dim * batch + dim * dim
    grads = [torch.empty(shape, dtype=torch.float64) for shape in ((games, dim, dim), (games, dim), (games, dim, dim))]
    return grads, torch.empty(work, dtype=torch.float64)


def kernel_grads(lib, dgemm, w, v, real, latents, penalty: float, buffers):
    """(∇_W U, [∇_V1 U, ∇_V2 U]) of every game from one C call, into `buffers` (`grad_buffers`):
    `MomentDiscriminator.grads`'s contract."""
    grads, work = buffers
    games, dim = w.shape[:2]
    pointers = [_ptr(t) for t in (w, *v, *real)] + [ctypes.c_double(penalty)]
    outputs = [_ptr(t) for t in (*grads, work)]
    if isinstance(latents, LatentMoments):
        lib.stats_grads(games, dim, *pointers, _ptr(latents.mean), _ptr(latents.second), *outputs, dgemm)
    else:
        lib.relu_grads(games, dim, latents.shape[-1], *pointers, _ptr(latents), *outputs, dgemm)
    return grads[0], grads[1:]


class FusedShard:
    """One shard's games, drawn by the trainer's own `GameStreams`: the gradients in one C call a step,
    the update, the step sizes and the tail average of Σ in a few in-place torch operations."""

    def __init__(self, lib, dgemm, specs, games, config, peer_args, latent_stats: bool):
        _, m1, m2, gen_scale, _, _, lr_gen, eta_v, average_start = peer_args
        self.lib, self.dgemm, self.penalty = lib, dgemm, config.penalty
        self.streams = GameStreams([specs[g] for g in games], config, 1, torch.device("cpu"), torch.float64,
                                   latent_stats)
        self.w = self.streams.initial_weights([specs[g] for g in games], config.init_scale)
        as_tensor = lambda a: torch.as_tensor(np.ascontiguousarray(a[games]), dtype=torch.float64)  # noqa: E731
        self.real = [as_tensor(m1), as_tensor(m2)]
        self.gen_scale = as_tensor(gen_scale)[:, None, None]
        self.lr_gen, self.eta_v, self.average_start = lr_gen, eta_v, average_start
        self.buffers = grad_buffers(len(games), config.dim, None if latent_stats else config.latent_vectors())

    def run(self) -> torch.Tensor:
        w = self.w.clone()
        v = [torch.zeros_like(m) for m in self.real]
        sigma_avg, averaged = torch.zeros_like(w), 0
        for t, (lr_gen, eta_v) in enumerate(zip(self.lr_gen, self.eta_v), start=1):
            latents, indices = self.streams.next()
            assert indices is None, "the benchmark's games use the full sample (data_batch = 0)"
            grad_w, grad_v = kernel_grads(self.lib, self.dgemm, w, v, self.real, latents, self.penalty, self.buffers)
            w.sub_(grad_w * (lr_gen * self.gen_scale))
            for p, grad in zip(v, grad_v):
                p.add_(grad, alpha=float(eta_v))
            if t >= self.average_start:
                averaged += 1
                sigma_avg += (torch.bmm(w, w.transpose(1, 2)) - sigma_avg) / averaged
        return sigma_avg


def fused_shards(lib, dgemm, specs, config, peer_args, latent_stats: bool, shards: int) -> list[FusedShard]:
    """All games in `shards` shards, interleaved as `trainer.shard_games` does (set up before the clock)."""
    return [FusedShard(lib, dgemm, specs, list(range(k, len(specs), shards)), config, peer_args, latent_stats)
            for k in range(shards)]


def run_shards(runs: list[FusedShard]) -> None:
    """Every shard at once, each single-threaded in its own thread; a shard's C call releases the
    interpreter, so shards help at every d."""
    def work(run):
        with intra_op_threads(1):  # OpenMP's count is per thread: each shard single-threaded, as the trainer's
            run.run()

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bench_case(lib, dgemm, activation_name: str, dim: int, games: int, steps: int, repeats: int) -> None:
    config, trainer_args, peer_args = jax_peer.build_case(activation_name, dim, games, steps)
    specs, activation = trainer_args[0], trainer_args[2]
    latent_stats = draws_latent_stats(config, make_discriminator("truncated", activation, config.penalty))
    batch, shards = config.latent_vectors(), torch.get_num_threads()
    peer = jax_peer.JaxPeer(*peer_args, relu=not activation.injective, suffstat=latent_stats, batch=batch,
                            penalty=config.penalty)
    peer.run(peer.initial_state())  # compiled before the clock
    run_shards(fused_shards(lib, dgemm, specs, config, peer_args, latent_stats, shards))  # warm
    print(f"== {activation_name} d={dim}: {games} games, {'latent statistics' if latent_stats else f'B={batch}'}, "
          f"{steps} steps; fused: {shards} shards; peer: {'suff-stats' if latent_stats else 'per-sample'}", flush=True)
    times = {"trainer steps": [], "fused": [], "peer": []}
    for pair in range(repeats):
        times["trainer steps"].append(jax_peer.time_trainer(trainer_args)[2])
        runs = fused_shards(lib, dgemm, specs, config, peer_args, latent_stats, shards)  # fresh streams, off the clock
        times["fused"].append(timed(lambda: run_shards(runs)))
        state = jax_peer.jax.block_until_ready(peer.initial_state())
        times["peer"].append(timed(lambda: peer.run(state)))
        rates = " | ".join(f"{name} {games * steps / t[-1]:7.0f}" for name, t in times.items())
        print(f"  pair {pair}: game-steps/s {rates}   fused/peer {times['peer'][-1] / times['fused'][-1]:.2f}"
              f"  fused/trainer {times['trainer steps'][-1] / times['fused'][-1]:.2f}", flush=True)
    for mine, other in (("fused", "peer"), ("fused", "trainer steps"), ("trainer steps", "peer")):
        ratios = [o / m for m, o in zip(times[mine], times[other])]
        print(f"  {mine}/{other}: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
              f"max {max(ratios):.2f}) over {repeats} pairs", flush=True)


def selfcheck(lib, dgemm, dim: int = 5, batch: int = 7, games: int = 3) -> None:
    """The kernels' gradients against the trainer's closed form (`MomentDiscriminator.grads`), odd shapes."""
    gen = torch.Generator().manual_seed(0)
    w, v2, m2 = (torch.randn(games, dim, dim, generator=gen, dtype=torch.float64) for _ in range(3))
    v1, m1 = (torch.randn(games, dim, generator=gen, dtype=torch.float64) for _ in range(2))
    x = torch.randn(games, dim, batch, generator=gen, dtype=torch.float64)
    stats = LatentMoments(x.mean(-1), x @ x.transpose(1, 2) / batch)
    for name, latents, kernel_batch in (("relu", x, batch), ("tanh", stats, None)):
        disc = make_discriminator("truncated", get_activation(name), 0.7)
        expected = disc.grads(w, [v1, v2], [m1, m2], latents)
        got = kernel_grads(lib, dgemm, w, [v1, v2], [m1, m2], latents, 0.7, grad_buffers(games, dim, kernel_batch))
        diff = max(float((a - b).abs().max()) for a, b in zip([got[0], *got[1]], [expected[0], *expected[1]]))
        print(f"kernel vs MomentDiscriminator.grads ({name}, d = {dim}, B = {batch}): max |diff| {diff:.1e}"
              f"  {'ok' if diff < 1e-12 else 'MISMATCH'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    jax_peer.add_case_arguments(parser, steps=1000)
    parser.add_argument("--selfcheck", action="store_true", help="check the kernels' gradients and exit")
    args = parser.parse_args()
    lib, dgemm = build_kernel(), scipy_dgemm()
    selfcheck(lib, dgemm)
    if not args.selfcheck:
        for activation, dim, games in jax_peer.chosen_cases(args):
            bench_case(lib, dgemm, activation, dim, games, args.steps, args.repeats)


if __name__ == "__main__":
    main()
