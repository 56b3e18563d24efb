"""Spatial tiling for high resolutions: overlapping tiles, blended with linear ramps.

A tile is `(h, w)` pixels with `overlap` pixels shared between neighbours, all multiples of the
model's spatial factor. Encoding blends the encoder outputs of the tiles in latent space,
decoding blends the decoded tiles in pixel space; inside each overlap the weight of a tile
rises linearly from its edge, so seams fade instead of cutting. Tiling is an approximation
(every tile sees only its own context); README gives its measured error.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError


def check_tiling(tile: tuple[int, int], overlap: int, factor: int) -> None:
    """Refuse tiles (pixels) that are not multiples of the spatial factor, or an overlap not smaller than a tile."""
    th, tw = tile
    for name, value in (("tile height", th), ("tile width", tw), ("tile overlap", overlap)):
        if value < 0 or value % factor:
            raise InputError(f"{name} must be a multiple of the spatial factor {factor}, got {value}")
    if th == 0 or tw == 0 or overlap >= min(th, tw):
        raise InputError(f"tiles of {th}x{tw} need an overlap smaller than the tile, got {overlap}")


def _spans(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    if tile >= size:
        return [(0, size)]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride)) + [size - tile]
    return [(s, s + tile) for s in sorted(set(starts))]


def _ramp(span: tuple[int, int], size: int, overlap: int) -> np.ndarray:
    a, b = span
    pos = np.arange(a, b, dtype=np.float32) + 0.5
    w = np.ones(b - a, np.float32)
    if overlap and a > 0:
        w = np.minimum(w, (pos - a) / overlap)
    if overlap and b < size:
        w = np.minimum(w, (b - pos) / overlap)
    return w


@dataclasses.dataclass(frozen=True)
class TileGrid:
    """Tiles of an `H × W` image in units of `scale` pixels (1: pixels, s: latent cells)."""

    height: int
    width: int
    rows: tuple[tuple[int, int], ...]
    cols: tuple[tuple[int, int], ...]
    overlap: int

    @staticmethod
    def for_pixels(height: int, width: int, tile: tuple[int, int], overlap: int, factor: int) -> "TileGrid":
        check_tiling(tile, overlap, factor)
        th, tw = tile
        return TileGrid(height, width, tuple(_spans(height, th, overlap)), tuple(_spans(width, tw, overlap)),
                        overlap)

    def scaled(self, factor_down: int = 1, factor_up: int = 1) -> "TileGrid":
        """The same tiles in units `factor_down` times larger (latents) or `factor_up` smaller."""
        def conv(v):
            return v * factor_up // factor_down
        return TileGrid(conv(self.height), conv(self.width),
                        tuple((conv(a), conv(b)) for a, b in self.rows),
                        tuple((conv(a), conv(b)) for a, b in self.cols), conv(self.overlap))

    @property
    def tiles(self) -> list[tuple[slice, slice]]:
        return [(slice(*r), slice(*c)) for r in self.rows for c in self.cols]

    def crop(self, x, tile: tuple[slice, slice]):
        """The tile of `[B, T, H, W, C]`."""
        return x[:, :, tile[0], tile[1]]

    def blend(self, pieces: list) -> jnp.ndarray:
        """Put tiles `[B, T, h, w, C]` (in `tiles` order) together, weighting overlaps linearly."""
        b, t, _, _, c = pieces[0].shape
        total = jnp.zeros((b, t, self.height, self.width, c), jnp.float32)
        weight = np.zeros((self.height, self.width), np.float32)
        for (rows, cols), piece in zip(self.tiles, pieces):
            w = np.outer(_ramp((rows.start, rows.stop), self.height, self.overlap),
                         _ramp((cols.start, cols.stop), self.width, self.overlap))
            total = total.at[:, :, rows, cols].add(piece.astype(jnp.float32) * w[None, None, :, :, None])
            weight[rows, cols] += w
        return total / jnp.asarray(weight)[None, None, :, :, None]
