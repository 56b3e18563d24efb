"""Training videos made from still photographs by a moving virtual camera (pan and zoom).

Each clip crops a window that slides and scales smoothly across the photograph and resizes it to
the output size, so a set of photographs (e.g. ``skimage.data``) becomes real-image video data
with known, varied motion. Clips are written as ``.mp4`` files that the video pipeline reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop
from vidtok_jax.data.video import write_video


def camera_path_frames(photo: np.ndarray, num_frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``[T, size, size, 3]`` uint8 frames of a window panning and zooming over ``photo`` ``[H, W, 3]``."""
    height, width = photo.shape[:2]
    shorter = min(height, width)
    start_scale, end_scale = rng.uniform(0.45, 1.0, size=2) * shorter
    frames = []
    start_center = rng.uniform(0.3, 0.7, size=2) * (height, width)
    end_center = rng.uniform(0.3, 0.7, size=2) * (height, width)
    for t in np.linspace(0.0, 1.0, num_frames):
        ease = 0.5 - 0.5 * np.cos(np.pi * t)
        window = int(round(start_scale + (end_scale - start_scale) * ease))
        cy, cx = start_center + (end_center - start_center) * ease
        top = int(np.clip(round(cy - window / 2), 0, height - window))
        left = int(np.clip(round(cx - window / 2), 0, width - window))
        crop = photo[top:top + window, left:left + window]
        frames.append(resize_shorter_side_and_center_crop(crop[None], (size, size))[0])
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3].astype(np.float32)


Recolour = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def write_camera_clips(photos: dict[str, np.ndarray], folder: str | Path, clips_per_photo: int = 4,
                       num_frames: int = 48, size: int = 256, fps: float = 24.0, seed: int = 0,
                       recolour: Recolour | None = None) -> list[Path]:
    """Write ``clips_per_photo`` pan/zoom clips of each named photograph into ``folder``; return their paths.

    ``recolour(frames, rng)``, if given, changes the colours of each clip (uint8 in, uint8 out).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name, photo in sorted(photos.items()):
        for index in range(clips_per_photo):
            path = folder / f"{name}_{index}.mp4"
            frames = camera_path_frames(as_rgb(photo), num_frames, size, rng)
            write_video(path, frames if recolour is None else recolour(frames, rng), fps)
            paths.append(path)
    return paths
