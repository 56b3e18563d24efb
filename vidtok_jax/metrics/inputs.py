"""Checks on the pixel arrays given to the metrics; every failure raises `InputError` saying what to fix.

Pixels are channels-last RGB floats in [-1, 1]. Values slightly outside (unclamped decoder
outputs) are accepted and clamped by the metrics that need it; values beyond +-`RANGE_LIMIT`
are refused, since they almost always mean 0..255 (or 0..1 mistaken for 0..255) pixels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError
from vidtok_jax.runtime.array_checks import finite_range

RANGE_LIMIT = 2.0


def as_pixels(x, name: str) -> jax.Array:
    """Return `x` as float32 after checking it is a non-empty `[..., H, W, 3]` float array in [-1, 1]."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        x = np.asarray(x)
    if x.ndim < 3 or x.shape[-1] != 3:
        raise InputError(f"{name} must be channels-last RGB frames [..., H, W, 3]; got shape {tuple(x.shape)}")
    if x.size == 0:
        raise InputError(f"{name} is empty (shape {tuple(x.shape)})")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise InputError(f"{name} has dtype {x.dtype}; expected floats in [-1, 1] (map uint8 frames with "
                         "x / 127.5 - 1)")
    pixels = jnp.asarray(x, jnp.float32)
    finite, low, high = finite_range(pixels)
    if not finite:
        raise InputError(f"{name} contains NaN or infinite values")
    if low < -RANGE_LIMIT or high > RANGE_LIMIT:
        raise InputError(f"{name} has values in [{low:.4g}, {high:.4g}], far outside [-1, 1]: are these "
                         "0..255 pixels? map them with x / 127.5 - 1")
    return pixels


def pixel_pair(a, b) -> tuple[jax.Array, jax.Array]:
    """Check two arrays of frames compared frame by frame (same shape); return them as float32."""
    a, b = as_pixels(a, "a"), as_pixels(b, "b")
    if a.shape != b.shape:
        raise InputError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    return a, b


def require_frame_size(shape: tuple[int, ...], minimum: int, metric: str) -> None:
    """Raise `InputError` when frames of `shape` [..., H, W, 3] are smaller than `minimum` on a side."""
    height, width = shape[-3], shape[-2]
    if min(height, width) < minimum:
        raise InputError(f"{metric} needs frames of at least {minimum}x{minimum} pixels; got {height}x{width}")


def to_unit_range(x: jax.Array) -> jax.Array:
    """Clamp [-1, 1] pixels and map them to [0, 1], as VidTok's evaluation does before PSNR and SSIM."""
    return (jnp.clip(x, -1.0, 1.0) + 1.0) / 2.0
