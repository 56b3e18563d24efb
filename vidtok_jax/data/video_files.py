"""Video files in and out of the model's format, for users of the Python API.

    video, fps = vt.read_video("clip.mp4", size=128, fps=8)   # float32 [1, T, 128, 128, 3] in [-1, 1]
    vt.write_video("out.mp4", tok.reconstruct(video), fps)

Frames are decoded with PyAV, selected as VidTok's evaluation does (``fps`` keeps every
``round(video_fps / fps)``-th frame), resized so the shorter side is ``size`` and center-cropped
(the official preprocessing), and scaled to [-1, 1].
"""

from __future__ import annotations

import os

import numpy as np

from vidtok_jax.data import video as video_io
from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop, to_model_range, to_uint8
from vidtok_jax.errors import InputError


def read_video(path: str | os.PathLike, *, size: int | tuple[int, int] | None = None, fps: float | None = None,
               max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """A video file as a batch of one, float32 ``[1, T, H, W, 3]`` in [-1, 1], and its (resampled) frame rate."""
    frames, rate = video_io.read_video(path, max_frames=max_frames, fps=fps)
    if size is not None:
        frames = resize_shorter_side_and_center_crop(frames, size)
    return to_model_range(frames)[None], rate


def write_video(path: str | os.PathLike, video, fps: float) -> None:
    """Write ``[T, H, W, 3]`` or ``[1, T, H, W, 3]`` frames in [-1, 1] as a video file (atomically)."""
    frames = np.asarray(video)
    if frames.ndim == 5:
        if frames.shape[0] != 1:
            raise InputError(f"write_video writes one video: got a batch of {frames.shape[0]}; write video[i] each")
        frames = frames[0]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(f"expected frames [T, H, W, 3] in [-1, 1], got shape {frames.shape}")
    video_io.write_video(path, to_uint8(frames), fps)
