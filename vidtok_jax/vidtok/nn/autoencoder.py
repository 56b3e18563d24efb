"""VidTok encoder and decoder (causal v1.0 / v1.1 and non-causal), channels-last Flax modules.

Each resolution level alternates per-frame 2D residual blocks with per-pixel temporal residual
blocks, then resamples space (and, at some levels, time). The mid block is two 3D residual
blocks around per-frame self-attention. Module names are the official state-dict prefixes
(`down.0.block.1`, `mid.attn_1`, ...).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from vidtok_jax.vidtok.config import ModelConfig, NetConfig
from vidtok_jax.vidtok.nn import ops
from vidtok_jax.vidtok.nn.blocks import ResBlock3D, SpatialResBlock, TemporalResBlock
from vidtok_jax.vidtok.nn.layers import (CACHE, CausalConv3d, Conv3d, FrameAttention, Norm, SpatialDownsample,
                                         SpatialUpsample, TimeDownsample, TimeUpsample)
from vidtok_jax.vidtok.quantizers import FSQ, split_moments


def _input_conv(cfg: NetConfig, features: int, name: str) -> nn.Module:
    if cfg.causal:
        return CausalConv3d(features, 3, pad_mode=cfg.pad_mode, name=name)
    return Conv3d(features, 3, name=name)


def _blocks(remat_blocks: bool):
    """The residual block classes, each under ``nn.remat`` (recomputed in the backward pass) if asked."""
    classes = (SpatialResBlock, TemporalResBlock, ResBlock3D)
    return tuple(nn.remat(c) for c in classes) if remat_blocks else classes


def _mid_block(cfg: NetConfig, h, remat_blocks: bool):
    _, _, block3d = _blocks(remat_blocks)
    h = block3d(cfg.norm_type, cfg.causal, cfg.pad_mode, name="mid.block_1")(h)
    h = FrameAttention(cfg.norm_type, cfg.causal, name="mid.attn_1")(h)
    return block3d(cfg.norm_type, cfg.causal, cfg.pad_mode, name="mid.block_2")(h)


def _output(cfg: NetConfig, h, features: int):
    h = Norm(cfg.norm_type, (2, 3) if cfg.causal else (1, 2, 3), name="norm_out")(h)
    return _input_conv(cfg, features, "conv_out")(ops.silu(h))


class Encoder(nn.Module):
    """Video `[B, T, H, W, 3]` → raw latent moments `[B, t, h, w, (2×)z_channels]`.

    `remat_blocks`: recompute each residual block in the backward pass instead of storing its
    activations (training memory; same parameters and values).
    """

    config: NetConfig
    dtype: jnp.dtype = jnp.float32
    remat_blocks: bool = False

    @nn.compact
    def __call__(self, x, time_padding: int | None = None):
        """`time_padding`: frames to prepend (causal); by default what the full clip needs."""
        cfg = self.config
        x = x.astype(self.dtype)
        if cfg.causal:
            mode = "replicate" if cfg.init_pad_mode == "replicate" else "zeros"
            if time_padding is None:
                time_padding = cfg.time_padding(x.shape[1])
            x = ops.pad_time(x, time_padding, mode=mode)
        spatial_ds, tempo_ds = cfg.down_levels
        spatial_block, temporal_block, _ = _blocks(self.remat_blocks)
        h = _input_conv(cfg, cfg.ch, "conv_in")(x)
        for level, mult in enumerate(cfg.ch_mult):
            for block in range(cfg.num_res_blocks):
                h = spatial_block(cfg.ch * mult, cfg.norm_type, name=f"down.{level}.block.{block}")(h)
                h = temporal_block(cfg.norm_type, cfg.causal, cfg.pad_mode,
                                   name=f"down_temporal.{level}.block.{block}")(h)
            if level in spatial_ds:
                h = SpatialDownsample(name=f"down.{level}.downsample")(h)
                if level in tempo_ds:
                    h = TimeDownsample(cfg.causal, cfg.pad_mode, name=f"down_temporal.{level}.downsample")(h)
        h = _mid_block(cfg, h, self.remat_blocks)
        out = _output(cfg, h, 2 * cfg.z_channels if cfg.double_z else cfg.z_channels)
        return out.astype(jnp.float32)


class Decoder(nn.Module):
    """Latent `[B, t, h, w, z_channels]` → video `[B, T, H, W, 3]`.

    v1.0 causal decoders drop the first `time_downsample_factor − 1` frames (the encoder's
    padding); v1.1 decoders return every frame. When streaming (the "cache" collection mutable),
    `final=False` marks a chunk that more chunks follow. `remat_blocks` as in `Encoder`.
    """

    config: NetConfig
    dtype: jnp.dtype = jnp.float32
    remat_blocks: bool = False

    @nn.compact
    def __call__(self, z, final: bool = True):
        cfg = self.config
        first = not (self.is_mutable_collection(CACHE) and self.has_variable(CACHE, "started"))
        if self.is_mutable_collection(CACHE):
            self.put_variable(CACHE, "started", True)
        spatial_us, tempo_us = cfg.up_levels
        first_groups = _first_groups(cfg)
        spatial_block, temporal_block, _ = _blocks(self.remat_blocks)
        h = _input_conv(cfg, cfg.ch * cfg.ch_mult[-1], "conv_in")(z.astype(self.dtype))
        h = _mid_block(cfg, h, self.remat_blocks)
        for level in reversed(range(cfg.num_levels)):
            features = cfg.ch * cfg.ch_mult[level]
            for block in range(cfg.num_res_blocks + 1):
                h = spatial_block(features, cfg.norm_type, name=f"up.{level}.block.{block}")(h)
                h = temporal_block(cfg.norm_type, cfg.causal, cfg.pad_mode,
                                   name=f"up_temporal.{level}.block.{block}")(h)
            if level in spatial_us:
                h = SpatialUpsample(name=f"up.{level}.upsample")(h)
                if level in tempo_us:
                    h = TimeUpsample(cfg.causal, cfg.pad_mode, cfg.interpolation_mode,
                                     first_groups[level], name=f"up_temporal.{level}.upsample")(h, final)
        h = _output(cfg, h, cfg.out_ch)
        if cfg.tanh_out:
            h = jnp.tanh(h)
        if cfg.causal and cfg.version == "1.0" and first:
            h = h[:, cfg.time_downsample_factor - 1:]
        return h.astype(jnp.float32)


def _first_groups(cfg: NetConfig) -> dict[int, int]:
    """Frames each v1.1 temporal upsampler interpolates apart: 1, 2, 4, ... in decoding order."""
    _, tempo_us = cfg.up_levels
    groups, size = {}, 1
    for level in reversed(range(cfg.num_levels)):
        if level in tempo_us:
            groups[level] = size
            size *= 2
    return groups


class Autoencoder(nn.Module):
    """Encoder + decoder of one VidTok model; the regularizer has no parameters.

    Methods (use with `apply(..., method=...)`): `encode_moments` (raw encoder output), `encode`
    (KL posterior mode / FSQ codes), `tokenize` (FSQ token ids), `decode`, `detokenize`.
    `__call__` encodes and decodes a video and is what `init` traces. `remat_blocks`: see `Encoder`.
    """

    config: ModelConfig
    dtype: jnp.dtype = jnp.float32
    remat_blocks: bool = False

    def setup(self):
        self.encoder = Encoder(self.config.encoder, self.dtype, self.remat_blocks)
        self.decoder = Decoder(self.config.decoder, self.dtype, self.remat_blocks)

    def encode_moments(self, video):
        return self.encoder(video)

    def encode(self, video):
        return self.latent_from_moments(self.encoder(video))

    def tokenize(self, video):
        return self.tokens_from_moments(self.encoder(video))

    def latent_from_moments(self, moments):
        """KL posterior mode or FSQ codes of an encoder output."""
        if self.config.is_fsq:
            return FSQ(self.config.regularizer).quantize(moments)
        return split_moments(moments)[0]

    def tokens_from_moments(self, moments):
        quantizer = FSQ(self.config.regularizer)
        return quantizer.codes_to_indices(quantizer.quantize(moments))

    def decode(self, z):
        return self.decoder(z)

    def encode_chunk(self, video, time_padding: int):
        """Encoder output for one chunk of a stream (apply with the "cache" collection mutable)."""
        return self.encoder(video, time_padding)

    def decode_chunk(self, z, final: bool):
        """Streaming decode of one chunk (apply with the "cache" collection mutable)."""
        return self.decoder(z, final)

    def detokenize(self, ids):
        return self.decoder(FSQ(self.config.regularizer).indices_to_codes(ids))

    def __call__(self, video):
        return self.decoder(self.encode(video))
