"""The reconstruction part of VidTok's loss: L1 + LPIPS (VGG16) on every frame, with a learned log-variance.

As the official ``GeneralLPIPSWithDiscriminator`` with ``dims=3``: frames of ``[B, T, H, W, C]``
videos are compared one by one; the per-pixel map is ``|x − x̂| + perceptual_weight · LPIPS(x, x̂)``
(the frame's LPIPS added to every pixel and channel), and

    nll = sum over frames, pixels and channels of (map / exp(logvar) + logvar) / (B · T).

``rec_loss`` and ``p_loss`` are the means of the map and of the LPIPS values, for logging.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from vidtok_jax.metrics.lpips import LPIPS


def video_frames(video: jax.Array) -> jax.Array:
    """``[B, T, H, W, C]`` → ``[B·T, H, W, C]``."""
    return video.reshape((-1,) + video.shape[-3:])


def reconstruction_nll(video: jax.Array, recon: jax.Array, logvar: jax.Array, lpips_params: Any,
                       perceptual_weight: float, lpips_dtype: Any = jnp.float32) -> tuple[jax.Array, dict]:
    """``(nll, logs)`` of a reconstruction; ``lpips_params`` from ``load_lpips_params("vgg")``."""
    real, fake = video_frames(video.astype(jnp.float32)), video_frames(recon.astype(jnp.float32))
    frames, pixels_per_frame = real.shape[0], real.shape[1] * real.shape[2] * real.shape[3]
    l1_per_frame = jnp.sum(jnp.abs(real - fake), axis=(1, 2, 3))
    if perceptual_weight > 0:
        p_loss = LPIPS("vgg", dtype=lpips_dtype).apply({"params": lpips_params}, real, fake)
    else:
        p_loss = jnp.zeros((frames,), jnp.float32)
    rec_per_frame = l1_per_frame + pixels_per_frame * perceptual_weight * p_loss
    nll = jnp.sum(rec_per_frame) / jnp.exp(logvar) / frames + pixels_per_frame * logvar
    logs = {"rec_loss": jnp.sum(rec_per_frame) / (frames * pixels_per_frame), "p_loss": jnp.mean(p_loss),
            "nll_loss": nll, "logvar": logvar}
    return nll, logs
