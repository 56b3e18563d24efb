"""Residual blocks of the VidTok networks: per-frame 2D, per-pixel temporal, and 3D."""

from __future__ import annotations

import flax.linen as nn

from vidtok_jax.nn import ops
from vidtok_jax.nn.layers import NO_PAD, CausalConv3d, Conv2d, Conv3d, Norm, TimeConv


class SpatialResBlock(nn.Module):
    """Norm → SiLU → 3×3 conv, twice, on every frame; 1×1 shortcut when channels change."""

    features: int
    norm_type: str

    @nn.compact
    def __call__(self, x):
        h = Norm(self.norm_type, (2, 3), name="norm1")(x)
        h = Conv2d(self.features, name="conv1")(ops.silu(h))
        h = Norm(self.norm_type, (2, 3), name="norm2")(h)
        h = Conv2d(self.features, name="conv2")(ops.silu(h))
        if x.shape[-1] != self.features:
            x = Conv2d(self.features, kernel=1, padding=NO_PAD, name="nin_shortcut")(x)
        return x + h


class TemporalResBlock(nn.Module):
    """Norm → SiLU → kernel-3 conv over time, twice, for every pixel (second conv zero-initialised).

    Causal blocks normalise each frame; non-causal blocks normalise each pixel over time.
    """

    norm_type: str
    causal: bool
    pad_mode: str = "zeros"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        axes = (2, 3) if self.causal else (1,)
        h = Norm(self.norm_type, axes, name="norm1")(x)
        h = TimeConv(c, self.causal, self.pad_mode, name="conv1")(ops.silu(h))
        h = Norm(self.norm_type, axes, name="norm2")(h)
        h = TimeConv(c, self.causal, self.pad_mode, zero_init=True, name="conv2")(ops.silu(h))
        return x + h


class ResBlock3D(nn.Module):
    """Norm → SiLU → 3×3×3 conv, twice (mid block); causal or centred in time."""

    norm_type: str
    causal: bool
    pad_mode: str = "zeros"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        axes = (2, 3) if self.causal else (1, 2, 3)

        def conv(name):
            if self.causal:
                return CausalConv3d(c, 3, pad_mode=self.pad_mode, name=name)
            return Conv3d(c, 3, name=name)

        h = Norm(self.norm_type, axes, name="norm1")(x)
        h = conv("conv1")(ops.silu(h))
        h = Norm(self.norm_type, axes, name="norm2")(h)
        h = conv("conv2")(ops.silu(h))
        return x + h
