"""Reconstruction samples as PNG images: a frame grid, written with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vidtok_jax.data.transforms import to_uint8
from vidtok_jax.runtime.atomic_files import atomic_output


def frame_grid(*videos: np.ndarray) -> np.ndarray:
    """One row per video ``[T, H, W, 3]`` in [-1, 1] (e.g. input above reconstruction) → uint8 ``[rows·H, T·W, 3]``."""
    return np.concatenate([np.concatenate(list(to_uint8(video)), axis=1) for video in videos], axis=0)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 RGB image ``[H, W, 3]`` as a PNG file at ``path`` atomically, making its folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as file:
        Image.fromarray(np.ascontiguousarray(image, np.uint8)).save(file, format="PNG")
