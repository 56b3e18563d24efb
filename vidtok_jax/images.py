"""Reconstruction samples as PNG images: a frame grid and a dependency-free PNG writer."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from vidtok_jax.atomic_files import atomic_output
from vidtok_jax.data.transforms import to_uint8


def frame_grid(*videos: np.ndarray) -> np.ndarray:
    """One row per video ``[T, H, W, 3]`` in [-1, 1] (e.g. input above reconstruction) → uint8 ``[rows·H, T·W, 3]``."""
    return np.concatenate([np.concatenate(list(to_uint8(video)), axis=1) for video in videos], axis=0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of a uint8 ``[H, W, 3]`` array."""
    image = np.ascontiguousarray(image, np.uint8)
    height, width, _ = image.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, width * 3)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _chunk(b"IEND", b""))


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 RGB image ``[H, W, 3]`` as a PNG file at ``path`` atomically, making its folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as file:
        file.write(png_bytes(image))
