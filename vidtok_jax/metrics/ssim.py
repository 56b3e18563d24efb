"""Structural similarity (SSIM) per frame, as the official VidTok evaluation computes it.

Definition (VidTok `vidtok/modules/util.py:compute_ssim`, the piq formulation): frames are clamped
to [-1, 1] and mapped to [0, 1] (data range 1). Both frames are first average-pooled by a factor
f = max(1, round(min(H, W) / 256)) (kernel = stride = f; Python's round, so 1.5 -> 2 and
2.5 -> 2). Each RGB channel is then treated separately (no grayscale conversion): local means,
variances and covariance come from an 11x11 Gaussian window (sigma 1.5, normalised) applied
without padding ("valid"), with population (biased) moments; with C1 = 0.01^2 and C2 = 0.03^2,

    SSIM map = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) * (2 s_xy + C2) / (s_x^2 + s_y^2 + C2).

A frame's SSIM is the mean of the map over pixels, then over the three channels. VidTok reports
the mean of the per-frame values over all frames. This equals scikit-image's
`structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=1, channel_axis=-1)` on the pooled frames.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.metrics.inputs import pixel_pair, require_frame_size, to_unit_range

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
C1 = 0.01 ** 2
C2 = 0.03 ** 2


def downsample_factor(height: int, width: int) -> int:
    """The average-pooling factor VidTok applies before SSIM: about min(H, W) / 256, at least 1."""
    return max(1, round(min(height, width) / 256))


def _gaussian_window() -> np.ndarray:
    offsets = np.arange(WINDOW_SIZE) - (WINDOW_SIZE - 1) / 2
    window = np.exp(-(offsets ** 2) / (2 * WINDOW_SIGMA ** 2))
    return (window / window.sum()).astype(np.float32)


def _average_pool(frames: jax.Array, factor: int) -> jax.Array:
    n, height, width, channels = frames.shape
    height, width = height // factor * factor, width // factor * factor
    blocks = frames[:, :height, :width].reshape(n, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(2, 4))


def _gaussian_blur_valid(maps: jax.Array) -> jax.Array:
    """Blur `[N, H, W]` maps with the separable Gaussian window, without padding (weighted shifted sums)."""
    window = _gaussian_window()
    for axis in (-2, -1):
        length = maps.shape[axis] - WINDOW_SIZE + 1
        maps = sum(float(weight) * jax.lax.slice_in_dim(maps, offset, offset + length, axis=axis)
                   for offset, weight in enumerate(window))
    return maps


@jax.jit
def _ssim_per_frame(a: jax.Array, b: jax.Array) -> jax.Array:
    leading = a.shape[:-3]
    x, y = (to_unit_range(v).reshape((-1,) + v.shape[-3:]) for v in (a, b))
    factor = downsample_factor(*x.shape[1:3])
    if factor > 1:
        x, y = _average_pool(x, factor), _average_pool(y, factor)
    n, height, width, channels = x.shape
    x, y = (jnp.moveaxis(v, -1, 1).reshape(n * channels, height, width) for v in (x, y))
    mu_x, mu_y, mean_xx, mean_yy, mean_xy = jnp.split(
        _gaussian_blur_valid(jnp.concatenate([x, y, x * x, y * y, x * y])), 5)
    var_x, var_y, cov_xy = mean_xx - mu_x ** 2, mean_yy - mu_y ** 2, mean_xy - mu_x * mu_y
    contrast_structure = (2 * cov_xy + C2) / (var_x + var_y + C2)
    luminance = (2 * mu_x * mu_y + C1) / (mu_x ** 2 + mu_y ** 2 + C1)
    per_channel = (luminance * contrast_structure).mean(axis=(-2, -1)).reshape(n, channels)
    return per_channel.mean(axis=-1).reshape(leading)


def ssim(a, b) -> jax.Array:
    """SSIM of each frame: `a`, `b` are `[..., H, W, 3]` in [-1, 1]; returns shape `a.shape[:-3]`.

    Frames must be at least 11x11 after the pooling by `downsample_factor(H, W)`.
    """
    a, b = pixel_pair(a, b)
    factor = downsample_factor(*a.shape[-3:-1])
    require_frame_size(a.shape, WINDOW_SIZE * factor, f"SSIM (11x11 window after {factor}x pooling)")
    return _ssim_per_frame(a, b)
