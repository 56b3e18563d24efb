"""Flax layers of the VidTok networks: convolutions, norms, attention, resampling.

Parameter names mirror the official PyTorch modules (`conv`, `norm`, `mix_factor`, ...), so that
the dotted path of a parameter is the official state-dict key; kernels are channels-last
(`[kt, kh, kw, Cin, Cout]`). Every causal layer pads time on the left only: with zeros
(VidTok v1.0) or with copies of the first frame (v1.1).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from vidtok_jax.vidtok.nn import ops

Dtype = Any
SAME_3x3 = ((1, 1), (1, 1))
NO_PAD = ((0, 0), (0, 0))


CACHE = "cache"


def with_past_frames(module: nn.Module, x, frames: int, mode: str):
    """Prepend the `frames` frames a causal layer sees before `x`.

    In a full pass these are padding (zeros, or copies of the first frame). When the module is
    applied with the "cache" collection mutable (streaming), they are the last frames of the
    previous chunks, kept in that collection; the first chunk starts from the padding. Either way
    the result is what the full pass computes for these frames.
    """
    if frames == 0:
        return x
    if not module.is_mutable_collection(CACHE):
        return ops.pad_time(x, frames, mode=mode)
    past = module.variable(CACHE, "past_frames", lambda: ops.pad_time(x[:, :1], frames, mode=mode)[:, :frames])
    extended = jnp.concatenate([past.value.astype(x.dtype), x], axis=1)
    past.value = extended[:, -frames:]
    return extended


def _torch_uniform(fan_in: int):
    """PyTorch's default init for conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = fan_in ** -0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def conv_params(module: nn.Module, features: int, kernel_size: tuple[int, ...], in_features: int,
                zero_init: bool = False) -> tuple[jax.Array, jax.Array]:
    """Declare a kernel `[*kernel_size, Cin, Cout]` and a bias on `module`; return both."""
    fan_in = in_features
    for k in kernel_size:
        fan_in *= k
    init = nn.initializers.zeros if zero_init else _torch_uniform(fan_in)
    kernel = module.param("kernel", init, tuple(kernel_size) + (in_features, features))
    bias = module.param("bias", init, (features,))
    return kernel, bias


class ConvParams(nn.Module):
    """A child holding a kernel and a bias, as the official wrappers' inner `conv`."""

    features: int
    kernel_size: tuple[int, ...]
    zero_init: bool = False

    @nn.compact
    def __call__(self, in_features: int) -> tuple[jax.Array, jax.Array]:
        return conv_params(self, self.features, self.kernel_size, in_features, self.zero_init)


def wrapped_or_own_conv(module: nn.Module, wrapped: bool, features: int, kernel_size: tuple[int, ...],
                        in_features: int, zero_init: bool = False):
    """Kernel and bias in a child named `conv` (official causal wrappers) or on `module` itself."""
    if wrapped:
        return ConvParams(features, kernel_size, zero_init, name="conv")(in_features)
    return conv_params(module, features, kernel_size, in_features, zero_init)


class Conv2d(nn.Module):
    """A 2D convolution applied to every frame (`[B, T, H, W, C]`), zero padding `padding`."""

    features: int
    kernel: int = 3
    stride: int = 1
    padding: ops.Padding2D = SAME_3x3

    @nn.compact
    def __call__(self, x):
        kernel, bias = conv_params(self, self.features, (self.kernel, self.kernel), x.shape[-1])
        return ops.conv_frames(x, kernel, bias, stride=self.stride, padding=self.padding)


class CausalConv3d(nn.Module):
    """3D convolution that sees only the current and past frames (official `CausalConv3d`)."""

    features: int
    kernel: int = 3
    time_stride: int = 1
    pad_mode: str = "zeros"

    @nn.compact
    def __call__(self, x):
        k = self.kernel
        kernel, bias = ConvParams(self.features, (k, k, k), name="conv")(x.shape[-1])
        x = with_past_frames(self, x, (k - 1) + (1 - self.time_stride), self.pad_mode)
        return ops.conv3d(x, kernel, bias, time_stride=self.time_stride,
                          padding=((k // 2, k // 2), (k // 2, k // 2)))


class Conv3d(nn.Module):
    """Non-causal 3D convolution, zero padding of `time_pad` frames on both sides."""

    features: int
    kernel: int = 3
    time_stride: int = 1
    time_pad: int = 1

    @nn.compact
    def __call__(self, x):
        k = self.kernel
        kernel, bias = conv_params(self, self.features, (k, k, k), x.shape[-1])
        x = ops.pad_time(x, self.time_pad, self.time_pad)
        return ops.conv3d(x, kernel, bias, time_stride=self.time_stride,
                          padding=((k // 2, k // 2), (k // 2, k // 2)))


class TimeConv(nn.Module):
    """Convolution over time only (kernel 3): causal (official `CausalConv1d`) or centred."""

    features: int
    causal: bool
    pad_mode: str = "zeros"
    zero_init: bool = False

    @nn.compact
    def __call__(self, x):
        kernel, bias = wrapped_or_own_conv(self, self.causal, self.features, (3,), x.shape[-1],
                                           self.zero_init)
        if self.causal:
            x = with_past_frames(self, x, 2, self.pad_mode)
        else:
            x = ops.pad_time(x, 1, 1)
        return ops.conv_time(x, kernel, bias)


class Norm(nn.Module):
    """LayerNorm over channels (wrapped as `norm`, like the official code) or GroupNorm(32).

    `group_axes` are the axes of `[B, T, H, W, C]` GroupNorm takes statistics over, besides the
    channels of a group: (2, 3) per frame, (1,) per pixel over time, (1, 2, 3) over the clip.
    """

    norm_type: str
    group_axes: tuple[int, ...] = (2, 3)

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        if self.norm_type == "layernorm":
            return _LayerNormParams(name="norm")(x)
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        return ops.group_norm(x, scale, bias, groups=32, axes=self.group_axes)


class _LayerNormParams(nn.Module):
    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,))
        bias = self.param("bias", nn.initializers.zeros, (c,))
        return ops.layer_norm(x, scale, bias)


class FrameAttention(nn.Module):
    """Residual single-head self-attention among the pixels of each frame (mid block)."""

    norm_type: str
    causal: bool

    @nn.compact
    def __call__(self, x):
        h = Norm(self.norm_type, (2, 3) if self.causal else (1, 2, 3), name="norm")(x)
        q, k, v = (self._pointwise(name, h) for name in ("q", "k", "v"))
        h = ops.frame_attention(q, k, v)
        return x + self._pointwise("proj_out", h)

    def _pointwise(self, name: str, h):
        return _Pointwise(h.shape[-1], self.causal, name=name)(h)


class _Pointwise(nn.Module):
    """A 1×1×1 convolution, stored like the official `CausalConv3d`/`Conv3d` of kernel 1."""

    features: int
    causal: bool

    @nn.compact
    def __call__(self, x):
        kernel, bias = wrapped_or_own_conv(self, self.causal, self.features, (1, 1, 1), x.shape[-1])
        return jnp.einsum("bthwc,cd->bthwd", x, kernel[0, 0, 0].astype(x.dtype)) + bias.astype(x.dtype)


class SpatialDownsample(nn.Module):
    """Halve H and W: zero-pad right/bottom by one, 3×3 convolution with stride 2."""

    @nn.compact
    def __call__(self, x):
        kernel, bias = ConvParams(x.shape[-1], (3, 3), name="conv")(x.shape[-1])
        return ops.conv_frames(x, kernel, bias, stride=2, padding=((0, 1), (0, 1)))


class SpatialUpsample(nn.Module):
    """Double H and W: nearest-neighbour repeat, then a 3×3 convolution."""

    @nn.compact
    def __call__(self, x):
        kernel, bias = ConvParams(x.shape[-1], (3, 3), name="conv")(x.shape[-1])
        return ops.conv_frames(ops.upsample_nearest_space(x), kernel, bias, padding=SAME_3x3)


def _blend(module: nn.Module, a, b):
    """AlphaBlender: sigmoid(mix_factor)·a + (1 − sigmoid(mix_factor))·b."""
    mix = module.param("mix_factor", nn.initializers.constant(2.0), (1,))
    alpha = jax.nn.sigmoid(mix).astype(a.dtype)
    return alpha * a + (1 - alpha) * b


class TimeDownsample(nn.Module):
    """Halve T: blend of a 3-frame average (stride 2) and a strided 3D convolution."""

    causal: bool
    pad_mode: str = "zeros"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        if self.causal:
            pooled = ops.avg_pool_time(with_past_frames(self, x, 1, self.pad_mode))
            conv = CausalConv3d(c, 3, time_stride=2, pad_mode=self.pad_mode, name="conv")(x)
        else:
            x = ops.pad_time(x, 0, 1)
            pooled = ops.avg_pool_time(x)
            conv = Conv3d(c, 3, time_stride=2, time_pad=0, name="conv")(x)
        return _blend(self, pooled, conv)


class TimeUpsample(nn.Module):
    """Double T: blend of the repeated (or linearly interpolated) frames and a 3D conv of them.

    Linear interpolation ("trilinear", v1.1) treats the first `first_group` frames as a segment
    of their own, as the official v1.1 decoder does, and clamps at segment ends. Its odd output
    frames need the next input frame: when streaming, the last frame of a chunk is held back
    until the next chunk arrives, and `final=True` emits it (clamped) at the end of the video.
    """

    causal: bool
    pad_mode: str = "zeros"
    interpolation: str = "nearest"
    first_group: int = 1

    @nn.compact
    def __call__(self, x, final: bool = True):
        c = x.shape[-1]
        if self.interpolation == "trilinear":
            x = self._linear_upsample(x, final)
        else:
            x = ops.upsample_nearest_time(x)
        if self.causal:
            conv = CausalConv3d(c, 3, pad_mode=self.pad_mode, name="conv")(x)
        else:
            conv = Conv3d(c, 3, name="conv")(x)
        return _blend(self, x, conv)

    def _linear_upsample(self, x, final: bool):
        streaming = self.is_mutable_collection(CACHE)
        first = not (streaming and self.has_variable(CACHE, "last_frame"))
        if first:
            previous, start = x[:, :1], 0
        else:
            previous = self.get_variable(CACHE, "last_frame").astype(x.dtype)
            start = self.get_variable(CACHE, "frames_seen")
        frames = x.shape[1]
        before = jnp.concatenate([previous, x[:, :-1]], axis=1)  # frame k-1 for every frame k of x
        at_segment_start = (start + jnp.arange(frames) == self.first_group).reshape(1, frames, 1, 1, 1)
        even = jnp.where(at_segment_start, x, 0.75 * x + 0.25 * before)            # frame 2k
        odd_of_before = jnp.where(at_segment_start, before, 0.75 * before + 0.25 * x)  # frame 2(k-1)+1
        out = jnp.stack([odd_of_before, even], axis=2).reshape((x.shape[0], 2 * frames) + x.shape[2:])
        if first:
            out = out[:, 1:]
        if final:
            out = jnp.concatenate([out, x[:, -1:]], axis=1)
        if streaming:
            self.put_variable(CACHE, "last_frame", x[:, -1:])
            self.put_variable(CACHE, "frames_seen", jnp.asarray(start + frames, jnp.int32))
        return out
