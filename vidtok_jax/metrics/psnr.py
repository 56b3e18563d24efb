"""Peak signal-to-noise ratio per frame, as the official VidTok evaluation computes it.

Definition (VidTok `scripts/inference_evaluate.py` with `vidtok/modules/util.py:compute_psnr`):
both frames are clamped to [-1, 1] and mapped to [0, 1] by (x + 1) / 2 (VidTok clamps the
reconstruction; the input video is already in range); per frame, MSE is the mean of the squared
difference over H, W and the three RGB channels, and PSNR = -10 log10(MSE + 1e-8) dB (data range 1;
the 1e-8 caps identical frames at 80 dB). VidTok reports the mean of the per-frame values over all
frames of all videos. `psnr` checks its inputs first; `psnr_per_frame` is the bare computation, for
callers inside jitted code (the training steps).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from vidtok_jax.metrics.inputs import pixel_pair, to_unit_range

MSE_EPSILON = 1e-8


@jax.jit
def psnr_per_frame(a: jax.Array, b: jax.Array) -> jax.Array:
    """PSNR in dB of each frame of `[..., H, W, 3]` arrays in [-1, 1], without input checks (traceable)."""
    mse = jnp.mean((to_unit_range(a) - to_unit_range(b)) ** 2, axis=(-3, -2, -1))
    return -10.0 * jnp.log10(mse + MSE_EPSILON)


def psnr(a, b) -> jax.Array:
    """PSNR in dB of each frame: `a`, `b` are `[..., H, W, 3]` in [-1, 1]; returns shape `a.shape[:-3]`.

    Videos `[B, T, H, W, 3]` give `[B, T]`; the VidTok number is the mean of all entries.
    """
    a, b = pixel_pair(a, b)
    return psnr_per_frame(a, b)
