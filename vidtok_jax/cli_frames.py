"""Video files to model input and back: reading, resize + crop or padding to the model's multiples, pixel range.

The command line reads a video frame by frame, resizes (``--size``) or pads (``--pad``) each batch of
frames as it comes, and keeps only the model-ready float frames. What was done is recorded in a
``PreparedVideo`` so that decoding can crop the padding off again.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from vidtok_jax.data.sampling import resampled_fps
from vidtok_jax.data.transforms import (SpatialPadding, pad_to_multiple, remove_padding,
                                        resize_shorter_side_and_center_crop, to_model_range, to_uint8)
from vidtok_jax.data.video import iter_video_frames, probe_video
from vidtok_jax.errors import InputError

# Frames converted per step while reading: bounds the float32 copies made by the resize.
READ_BATCH_FRAMES = 16


@dataclass(frozen=True)
class Preprocessing:
    """How frames are selected and shaped before the model sees them (the command-line options)."""

    size: int | None = None  # resize the shorter side to this and center-crop a square
    pad: bool = False  # pad to multiples of the spatial factor, cropped off after decoding
    fps: float | None = None  # keep every round(video_fps / fps)-th frame
    max_frames: int | None = None


@dataclass(frozen=True)
class PreparedVideo:
    """Model-ready frames and what it took to make them from the file."""

    frames: np.ndarray  # float32 [T, H, W, 3] in [-1, 1], H and W multiples of the spatial factor
    fps: float
    source_size: tuple[int, int]  # (height, width) in the file
    processed_size: tuple[int, int]  # (height, width) after resize + crop, before padding
    padding: SpatialPadding

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]


def _batches(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    while batch := list(islice(frames, READ_BATCH_FRAMES)):
        yield np.stack(batch)


def _shape(batch: np.ndarray, preprocessing: Preprocessing, spatial_factor: int, name: str) -> tuple[np.ndarray, SpatialPadding]:
    pixels = batch if preprocessing.size is None else resize_shorter_side_and_center_crop(batch, preprocessing.size)
    frames = to_model_range(pixels)
    height, width = frames.shape[1:3]
    if preprocessing.pad:
        return pad_to_multiple(frames, spatial_factor)
    if height % spatial_factor or width % spatial_factor:
        raise InputError(f"{name}: frames of {height}x{width} are not multiples of {spatial_factor}: "
                         "use --size N to resize and crop, or --pad to pad")
    return frames, SpatialPadding(0, 0)


def prepare_video(path: str | os.PathLike, preprocessing: Preprocessing, spatial_factor: int) -> PreparedVideo:
    """Read ``path`` and shape it for a model whose height and width must be multiples of ``spatial_factor``."""
    name = os.fspath(path)
    info = probe_video(name)
    fps = info.fps if preprocessing.fps is None else resampled_fps(info.fps, preprocessing.fps)
    frames = iter_video_frames(name, fps=preprocessing.fps, max_frames=preprocessing.max_frames)
    shaped = [_shape(batch, preprocessing, spatial_factor, name) for batch in _batches(frames)]
    padding = shaped[0][1]
    video = np.concatenate([frames for frames, _ in shaped])
    height, width = video.shape[1:3]
    return PreparedVideo(frames=video, fps=fps, source_size=(info.height, info.width),
                         processed_size=(height - padding.bottom, width - padding.right), padding=padding)


def to_output_frames(frames: np.ndarray, padding: SpatialPadding) -> np.ndarray:
    """Decoded float frames ``[T, H, W, 3]`` to uint8 pixels with the padding cropped off."""
    return to_uint8(remove_padding(np.asarray(frames), padding))
