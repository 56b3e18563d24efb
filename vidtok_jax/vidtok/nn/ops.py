"""Array operations of the VidTok networks, channels-last (`[B, T, H, W, C]`).

Pure functions with no parameters of their own. A 3D convolution is computed as a sum of 2D
convolutions over its time taps, which XLA runs markedly faster on CPU than a native 3D
convolution, with the same result.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Padding2D = tuple[tuple[int, int], tuple[int, int]]


def silu(x: jax.Array) -> jax.Array:
    return x * jax.nn.sigmoid(x)


def conv2d(x: jax.Array, kernel: jax.Array, *, stride: int = 1, padding: Padding2D) -> jax.Array:
    """2D convolution of `[N, H, W, Cin]` with an `[kh, kw, Cin, Cout]` kernel."""
    return jax.lax.conv_general_dilated(
        x, kernel.astype(x.dtype), window_strides=(stride, stride), padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_frames(x: jax.Array, kernel: jax.Array, bias: jax.Array, *, stride: int = 1,
                padding: Padding2D) -> jax.Array:
    """Apply a 2D convolution to every frame of `[B, T, H, W, C]`."""
    b, t = x.shape[:2]
    y = conv2d(x.reshape((b * t,) + x.shape[2:]), kernel, stride=stride, padding=padding)
    return y.reshape((b, t) + y.shape[1:]) + bias.astype(y.dtype)


def conv3d(x: jax.Array, kernel: jax.Array, bias: jax.Array, *, time_stride: int = 1,
           padding: Padding2D) -> jax.Array:
    """3D convolution of `[B, T, H, W, Cin]` (already padded in time) with `[kt, kh, kw, Cin, Cout]`.

    Computed as the sum over the kt time taps of a 2D convolution of the matching frames.
    """
    kt = kernel.shape[0]
    b, t = x.shape[:2]
    t_out = (t - kt) // time_stride + 1
    if t_out < 1:
        raise ValueError(f"conv3d: {t} frames are too few for a kernel of {kt} frames")
    out = None
    for tap in range(kt):
        frames = x[:, tap: tap + time_stride * (t_out - 1) + 1: time_stride]
        y = conv2d(frames.reshape((b * t_out,) + x.shape[2:]), kernel[tap], padding=padding)
        out = y if out is None else out + y
    return out.reshape((b, t_out) + out.shape[1:]) + bias.astype(out.dtype)


def conv_time(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """1D convolution over time of `[B, T, H, W, Cin]` (already padded) with `[k, Cin, Cout]`."""
    k = kernel.shape[0]
    t_out = x.shape[1] - k + 1
    kernel = kernel.astype(x.dtype)
    out = None
    for tap in range(k):
        y = jnp.einsum("bthwc,cd->bthwd", x[:, tap: tap + t_out], kernel[tap])
        out = y if out is None else out + y
    return out + bias.astype(out.dtype)


def pad_time(x: jax.Array, before: int, after: int = 0, *, mode: str = "zeros") -> jax.Array:
    """Pad the time axis with zeros or with copies of the first/last frame ("replicate")."""
    if before == 0 and after == 0:
        return x
    if mode == "zeros":
        return jnp.pad(x, ((0, 0), (before, after)) + ((0, 0),) * (x.ndim - 2))
    if mode == "replicate":
        parts = [jnp.repeat(x[:, :1], before, axis=1), x, jnp.repeat(x[:, -1:], after, axis=1)]
        return jnp.concatenate([p for p in parts if p.shape[1]], axis=1)
    raise ValueError(f"unknown time padding mode {mode!r}")


def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float = 1e-6) -> jax.Array:
    """LayerNorm over the channel axis, statistics in float32."""
    xf = x.astype(jnp.float32)
    mean = jnp.mean(xf, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(xf - mean), axis=-1, keepdims=True)
    y = (xf - mean) * jax.lax.rsqrt(var + eps) * scale + bias
    return y.astype(x.dtype)


def group_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, *, groups: int, axes: tuple[int, ...],
               eps: float = 1e-6) -> jax.Array:
    """GroupNorm with statistics over `axes` (besides the channels of each group), in float32."""
    xf = x.astype(jnp.float32)
    c = x.shape[-1]
    xg = xf.reshape(x.shape[:-1] + (groups, c // groups))
    reduce = tuple(a % x.ndim for a in axes) + (x.ndim,)
    mean = jnp.mean(xg, axis=reduce, keepdims=True)
    var = jnp.mean(jnp.square(xg - mean), axis=reduce, keepdims=True)
    y = ((xg - mean) * jax.lax.rsqrt(var + eps)).reshape(x.shape) * scale + bias
    return y.astype(x.dtype)


def frame_attention(q: jax.Array, k: jax.Array, v: jax.Array) -> jax.Array:
    """Single-head softmax attention among the pixels of each frame, `[B, T, H, W, C]`."""
    b, t, h, w, c = q.shape
    q, k, v = (a.reshape(b * t, h * w, c) for a in (q, k, v))
    logits = jnp.einsum("nqc,nkc->nqk", q, k).astype(jnp.float32) * (c ** -0.5)
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    return jnp.einsum("nqk,nkc->nqc", weights, v).reshape(b, t, h, w, c)


def upsample_nearest_space(x: jax.Array) -> jax.Array:
    """Repeat every pixel 2×2."""
    return jnp.repeat(jnp.repeat(x, 2, axis=2), 2, axis=3)


def upsample_nearest_time(x: jax.Array) -> jax.Array:
    """Repeat every frame twice."""
    return jnp.repeat(x, 2, axis=1)


def avg_pool_time(x: jax.Array) -> jax.Array:
    """Mean of 3 frames with stride 2 over time (no padding: pad beforehand)."""
    t_out = (x.shape[1] - 3) // 2 + 1
    end = 2 * (t_out - 1) + 1
    return (x[:, 0:end:2] + x[:, 1:end + 1:2] + x[:, 2:end + 2:2]) / 3.0
