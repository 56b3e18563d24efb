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
import numpy as np

from vidtok_jax.data.chunks import regroup, with_last
from vidtok_jax.errors import InputError
from vidtok_jax.vidtok.nn.autoencoder import Autoencoder
from vidtok_jax.vidtok.nn.layers import CACHE
from vidtok_jax.vidtok.tiling import TileGrid


@functools.lru_cache(maxsize=None)
def _causal_step(model: Autoencoder, method: str, option):
    """`(params, cache, x) -> (out, cache)` for `encode_chunk` (option: time padding) or
    `decode_chunk` (option: final); the first chunk starts with no cache."""
    def step(params, cache, x):
        variables = {"params": params, CACHE: cache} if cache else {"params": params}
        out, state = model.apply(variables, x, option, method=method, mutable=[CACHE])
        return out, state[CACHE]

    return jax.jit(step, donate_argnums=1)


@functools.lru_cache(maxsize=None)
def _independent_step(model: Autoencoder, method: str):
    """A step of a non-causal model: every chunk on its own, no cache."""
    run = jax.jit(lambda params, x: model.apply({"params": params}, x, method=method))
    return lambda params, cache, x: (run(params, x), None)


def _sizes(first: int, rest: int) -> Iterator[int]:
    yield first
    while True:
        yield rest


def check_chunk_frames(model: Autoencoder, chunk_frames: int) -> None:
    factor = model.config.temporal_factor
    if not isinstance(chunk_frames, (int, np.integer)) or chunk_frames < factor or chunk_frames % factor:
        raise InputError(f"chunk_frames must be a positive multiple of the temporal factor {factor} "
                         f"of {model.config.name}, got {chunk_frames!r}")


def _tile_grid(model: Autoencoder, height: int, width: int, tile, overlap) -> TileGrid | None:
    if tile is None:
        return None
    factor = model.config.spatial_factor
    if overlap is None:
        overlap = min(tile) // 4 // factor * factor
    return TileGrid.for_pixels(height, width, tuple(tile), overlap, factor)


class _Tiles:
    """Runs a step function on every tile of a chunk, each tile with its own cache, and blends."""

    def __init__(self, grid_in: TileGrid | None, grid_out: TileGrid | None):
        self.grid_in, self.grid_out = grid_in, grid_out
        self.caches: list = [None] * (len(grid_in.tiles) if grid_in else 1)

    def __call__(self, step, params, x):
        if self.grid_in is None:
            out, self.caches[0] = step(params, self.caches[0], x)
            return out
        pieces = []
        for i, tile in enumerate(self.grid_in.tiles):
            out, self.caches[i] = step(params, self.caches[i], self.grid_in.crop(x, tile))
            pieces.append(out)
        return self.grid_out.blend(pieces)


def stream_encode(model: Autoencoder, params, frame_chunks: Iterable, num_frames: int, chunk_frames: int,
                  *, tile: tuple[int, int] | None = None, tile_overlap: int | None = None) -> Iterator[jax.Array]:
    """Encoder outputs (moments) of a video given as chunks of frames `[B, n, H, W, C]`.

    The chunks may have any sizes, `num_frames` in all; they are regrouped into pieces of
    `chunk_frames` frames (a multiple of the temporal factor). Yields one output per piece.
    With `tile=(h, w)` every piece is encoded tile by tile and blended.
    """
    check_chunk_frames(model, chunk_frames)
    cfg = model.config
    tiles = None
    if cfg.causal:
        padding = cfg.encoder.time_padding(num_frames)
        if (num_frames + padding) % cfg.temporal_factor:
            raise InputError(f"v1.0 causal models stream 1 + {cfg.temporal_factor}k frames, got {num_frames}")
        sizes = _sizes(chunk_frames - padding, chunk_frames)
    else:
        padding, sizes = 0, _sizes(chunk_frames, chunk_frames)
    seen = 0
    for piece in regroup(frame_chunks, sizes, axis=1):
        if tiles is None:
            grid = _tile_grid(model, piece.shape[2], piece.shape[3], tile, tile_overlap)
            tiles = _Tiles(grid, grid.scaled(factor_down=cfg.spatial_factor) if grid else None)
        if cfg.causal:
            step = _causal_step(model, "encode_chunk", padding if seen == 0 else 0)
        else:
            if piece.shape[1] % cfg.temporal_factor:
                raise InputError(f"non-causal {cfg.name} needs a frame count divisible by "
                                 f"{cfg.temporal_factor}; the last clip has {piece.shape[1]}")
            step = _independent_step(model, "encode_moments")
        seen += piece.shape[1]
        yield tiles(step, params, piece)
    if seen != num_frames:
        raise InputError(f"the stream held {seen} frames but num_frames={num_frames} was announced")


def stream_decode(model: Autoencoder, params, latent_chunks: Iterable, chunk_latents: int, *,
                  tile: tuple[int, int] | None = None, tile_overlap: int | None = None) -> Iterator[jax.Array]:
    """Decode latents given as chunks `[B, k, h, w, C]`; yields frame chunks once they are final.

    `tile` and `tile_overlap` are in pixels of the decoded video.
    """
    if not isinstance(chunk_latents, (int, np.integer)) or chunk_latents < 1:
        raise InputError(f"chunk_latents must be a positive integer, got {chunk_latents!r}")
    cfg = model.config
    factor = cfg.spatial_factor
    tiles = None
    for piece, last in with_last(regroup(latent_chunks, chunk_latents, axis=1)):
        if tiles is None:
            grid = _tile_grid(model, piece.shape[2] * factor, piece.shape[3] * factor, tile, tile_overlap)
            tiles = _Tiles(grid.scaled(factor_down=factor) if grid else None, grid)
        step = _causal_step(model, "decode_chunk", last) if cfg.causal else _independent_step(model, "decode")
        yield tiles(step, params, piece)
def split_frames(video, size: int) -> Iterator[jax.Array]:
    """Chunks of `size` frames of a `[B, T, ...]` array."""
    for start in range(0, video.shape[1], size):
        yield video[:, start:start + size]
