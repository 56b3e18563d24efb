"""Chunk-by-chunk encoding and decoding of videos of any length.

Causal models stream exactly: every causal layer keeps the last frames it needs in a "cache"
pytree carried from one jitted step to the next, and linear temporal upsampling (v1.1) holds back
its last frame until the next chunk is known, so the chunks put together equal the full pass.
The step functions compile once per chunk shape (first, middle, last chunk), and peak memory
depends on the chunk size, not on the video length. Non-causal models are cut into independent
clips (their native clip length), which is what they are: not exact at clip boundaries.
"""

from __future__ import annotations

import functools
from typing import Iterable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError
from vidtok_jax.nn.autoencoder import Autoencoder, encoder_time_padding
from vidtok_jax.nn.layers import CACHE


@functools.lru_cache(maxsize=None)
def _encode_step(model: Autoencoder, time_padding: int):
    def step(params, cache, video):
        variables = {"params": params, CACHE: cache} if cache else {"params": params}
        latent, state = model.apply(variables, video, time_padding, method="encode_chunk", mutable=[CACHE])
        return latent, state[CACHE]

    return jax.jit(step, donate_argnums=1)


@functools.lru_cache(maxsize=None)
def _decode_step(model: Autoencoder, final: bool):
    def step(params, cache, z):
        variables = {"params": params, CACHE: cache} if cache else {"params": params}
        frames, state = model.apply(variables, z, final, method="decode_chunk", mutable=[CACHE])
        return frames, state[CACHE]

    return jax.jit(step, donate_argnums=1)


@functools.lru_cache(maxsize=None)
def _independent(model: Autoencoder, method: str):
    return jax.jit(lambda params, x: model.apply({"params": params}, x, method=method))


def _rechunk(chunks: Iterable, sizes: Iterator[int]) -> Iterator[tuple[jax.Array, bool]]:
    """Regroup arrays along axis 1 into pieces of the given sizes; yields (piece, is_last)."""
    pending, held, size = [], 0, next(sizes)
    ready = []
    for chunk in chunks:
        pending.append(chunk)
        held += chunk.shape[1]
        while held >= size:
            joined = jnp.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
            ready.append(joined[:, :size])
            rest = joined[:, size:]
            pending, held = ([rest] if rest.shape[1] else []), rest.shape[1]
            size = next(sizes)
        while len(ready) > 1:
            yield ready.pop(0), False
    if pending:
        ready.append(jnp.concatenate(pending, axis=1) if len(pending) > 1 else pending[0])
    for i, piece in enumerate(ready):
        yield piece, i == len(ready) - 1


def _sizes(first: int, rest: int) -> Iterator[int]:
    yield first
    while True:
        yield rest


def check_chunk_frames(model: Autoencoder, chunk_frames: int) -> None:
    factor = model.config.temporal_factor
    if not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < factor or chunk_frames % factor:
        raise InputError(f"chunk_frames must be a positive multiple of the temporal factor {factor} "
                         f"of {model.config.name}, got {chunk_frames!r}")


def stream_encode(model: Autoencoder, params, frame_chunks: Iterable, num_frames: int,
                  chunk_frames: int) -> Iterator[jax.Array]:
    """Encode a video given as chunks of frames `[B, n, H, W, C]` (any sizes, `num_frames` in all).

    Yields latent chunks of `chunk_frames / temporal_factor` frames (the last may be shorter).
    """
    check_chunk_frames(model, chunk_frames)
    cfg = model.config
    if not cfg.causal:
        sizes = _sizes(chunk_frames, chunk_frames)
        for clip, _ in _rechunk(frame_chunks, sizes):
            if clip.shape[1] % cfg.temporal_factor:
                raise InputError(f"non-causal {cfg.name} needs a frame count divisible by "
                                 f"{cfg.temporal_factor}; the last clip has {clip.shape[1]}")
            yield _independent(model, "encode")(params, clip)
        return
    padding = encoder_time_padding(cfg.encoder, num_frames)
    if (num_frames + padding) % cfg.temporal_factor:
        raise InputError(f"v1.0 causal models stream 1 + {cfg.temporal_factor}k frames, got {num_frames}")
    cache, seen, first = None, 0, True
    for piece, _ in _rechunk(frame_chunks, _sizes(chunk_frames - padding, chunk_frames)):
        latent, cache = _encode_step(model, padding if first else 0)(params, cache, piece)
        seen += piece.shape[1]
        first = False
        yield latent
    if seen != num_frames:
        raise InputError(f"the stream held {seen} frames but num_frames={num_frames} was announced")


def stream_decode(model: Autoencoder, params, latent_chunks: Iterable, chunk_latents: int) -> Iterator[jax.Array]:
    """Decode latents given as chunks `[B, k, h, w, C]`; yields frame chunks as they are final."""
    if not isinstance(chunk_latents, (int, np.integer)) or chunk_latents < 1:
        raise InputError(f"chunk_latents must be a positive integer, got {chunk_latents!r}")
    if not model.config.causal:
        for clip, _ in _rechunk(latent_chunks, _sizes(chunk_latents, chunk_latents)):
            yield _independent(model, "decode")(params, clip)
        return
    cache = None
    for piece, last in _rechunk(latent_chunks, _sizes(chunk_latents, chunk_latents)):
        frames, cache = _decode_step(model, last)(params, cache, piece)
        yield frames


def split_frames(video, size: int) -> Iterator[jax.Array]:
    """Chunks of `size` frames of a `[B, T, ...]` array."""
    for start in range(0, video.shape[1], size):
        yield video[:, start:start + size]
