"""Targets: W* = U diag(s) Vᵀ from (d, κ, seed), and the fixed real sample y = φ(W*x).

Every draw here comes from its own numpy stream keyed by (seed, stream) so the target and the
data depend on the seed alone: the sample of size n is the first n rows of one stream, the same
whichever other sizes run beside it (DESIGN §2).
"""

from __future__ import annotations

import numpy as np
import torch

from .activations import Activation

TARGET_STREAM = 0
DATA_STREAM = 1
# Latents are drawn in chunks so that memory stays bounded for large n; the stream is sequential,
# so chunking does not change the numbers.
_CHUNK_ROWS = 4096
# Bytes of the products x_i W*_ij formed at once: a cache-sized buffer, reused. Freshly allocated
# per chunk (537 MB at d = 128) they cost 5× the time in page faults and memory traffic.
_PRODUCT_BYTES = 1 << 22


def haar_orthogonal(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal matrix (QR of a Gaussian matrix, signs fixed by diag(R))."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def target_weights(dim: int, kappa: float, seed: int, width: int | None = None) -> np.ndarray:
    """W* = U diag(s) Vᵀ [d, k] (k = width, default d) with U the first k columns of a Haar d×d, V Haar
    k×k and s log-spaced in [1/√κ, 1]: the k non-zero eigenvalues of W*W*ᵀ have ratio κ."""
    width = dim if width is None else width
    rng = np.random.default_rng([seed, TARGET_STREAM])
    u, v = haar_orthogonal(dim, rng)[:, :width], haar_orthogonal(width, rng)
    s = np.geomspace(1.0, 1.0 / np.sqrt(kappa), width)
    return (u * s) @ v.T


def sample_target(activation: Activation, w_star: np.ndarray, n: int, seed: int) -> torch.Tensor:
    """The first n real samples y = φ(W*x) of this seed's data stream, float64 on the CPU, [n, d]
    (x ∈ ℝ^k for W* of shape [d, k])."""
    rng = np.random.default_rng([seed, DATA_STREAM])
    dim, width = w_star.shape
    w = torch.from_numpy(w_star)
    out = torch.empty((n, dim), dtype=torch.float64)
    block = max(1, _PRODUCT_BYTES // (8 * dim * width))
    products = torch.empty((min(block, n), dim, width), dtype=torch.float64)
    for start in range(0, n, _CHUNK_ROWS):
        x = torch.from_numpy(rng.standard_normal((min(_CHUNK_ROWS, n - start), width)))
        for first in range(0, len(x), block):
            rows = x[first : first + block]
            # Row by row (no BLAS): a row's value must not depend on how many rows share the call.
            torch.mul(rows[:, None, :], w, out=products[: len(rows)])
            out[start + first : start + first + len(rows)] = activation.forward(products[: len(rows)].sum(-1))
    return out
