"""Residual blocks of the VidTok networks: per-frame 2D, per-pixel temporal, and 3D."""

from __future__ import annotations

import flax.linen as nn
import jax

from vidtok_jax.vidtok.nn import ops
from vidtok_jax.vidtok.nn.layers import NO_PAD, CausalConv3d, Conv2d, Conv3d, Norm, TimeConv


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
        convs = (TimeConv(c, self.causal, self.pad_mode, name="conv1"),
                 TimeConv(c, self.causal, self.pad_mode, zero_init=True, name="conv2"))
        return _residual(x, self.norm_type, (2, 3) if self.causal else (1,), convs)


class ResBlock3D(nn.Module):
    """Norm → SiLU → 3×3×3 conv, twice (mid block); causal or centred in time."""

    norm_type: str
    causal: bool
    pad_mode: str = "zeros"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]

        def conv(name):
            if self.causal:
                return CausalConv3d(c, 3, pad_mode=self.pad_mode, name=name)
            return Conv3d(c, 3, name=name)

        return _residual(x, self.norm_type, (2, 3) if self.causal else (1, 2, 3), (conv("conv1"), conv("conv2")))


def _residual(x, norm_type: str, group_axes: tuple[int, ...], convs) -> jax.Array:
    """x + conv2(silu(norm2(conv1(silu(norm1(x)))))), the norms named norm1 and norm2."""
    h = x
    for index, conv in enumerate(convs, start=1):
        h = conv(ops.silu(Norm(norm_type, group_axes, name=f"norm{index}")(h)))
    return x + h
