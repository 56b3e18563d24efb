"""Video files to model input and back: frame selection, resize + crop or padding to the model's multiples, pixel range.

``open_video`` probes a file and works out what the model will see (frame rate, sizes, padding)
without decoding it; ``VideoSource.batches`` then reads, resizes (``--size``) or pads (``--pad``)
the frames a few at a time. Decoding crops the padding off again with ``to_output_frames``.
"""

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.data.chunks import regroup
from vidtok_jax.data.sampling import resampled_fps, sample_interval
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
class VideoSource:
    """A video file as the model will see it; frames are decoded only when ``batches`` is iterated."""

    path: str
    preprocessing: Preprocessing
    spatial_factor: int
    fps: float  # after --fps
    announced_frames: int  # frame count from the container's metadata, after --fps and --max-frames
    source_size: tuple[int, int]  # (height, width) in the file
    processed_size: tuple[int, int]  # (height, width) after resize + crop, before padding
    padding: SpatialPadding

    def batches(self) -> Iterator[np.ndarray]:
        """Model-ready frames, float32 ``[n, H, W, 3]`` in [-1, 1], ``READ_BATCH_FRAMES`` at a time."""
        frames = iter_video_frames(self.path, fps=self.preprocessing.fps, max_frames=self.preprocessing.max_frames)
        for batch in regroup((frame[None] for frame in frames), READ_BATCH_FRAMES):
            pixels = (batch if self.preprocessing.size is None
                      else resize_shorter_side_and_center_crop(batch, self.preprocessing.size))
            yield pad_to_multiple(to_model_range(pixels), self.spatial_factor)[0]

    def read_all(self) -> np.ndarray:
        """Every model-ready frame as one array ``[T, H, W, 3]``."""
        return np.concatenate(list(self.batches()))


def open_video(path: str | os.PathLike, preprocessing: Preprocessing, spatial_factor: int) -> VideoSource:
    """Probe ``path`` and plan its frames for a model whose height and width must be multiples of ``spatial_factor``."""
    name = os.fspath(path)
    info = probe_video(name)
    fps, frames = info.fps, info.num_frames
    if preprocessing.fps is not None:
        fps = resampled_fps(info.fps, preprocessing.fps)
        frames = math.ceil(frames / sample_interval(info.fps, preprocessing.fps))
    if preprocessing.max_frames is not None:
        frames = min(frames, preprocessing.max_frames)
    height, width = (info.height, info.width) if preprocessing.size is None else (preprocessing.size, preprocessing.size)
    padding = SpatialPadding(-height % spatial_factor, -width % spatial_factor)
    if padding != (0, 0) and not preprocessing.pad:
        raise InputError(f"{name}: frames of {height}x{width} are not multiples of {spatial_factor}: "
                         "use --size N to resize and crop, or --pad to pad")
    return VideoSource(path=name, preprocessing=preprocessing, spatial_factor=spatial_factor, fps=fps, announced_frames=frames,
                       source_size=(info.height, info.width), processed_size=(height, width), padding=padding)


def to_output_frames(frames: np.ndarray, padding: SpatialPadding) -> np.ndarray:
    """Decoded float frames ``[T, H, W, 3]`` to uint8 pixels with the padding cropped off."""
    return to_uint8(remove_padding(np.asarray(frames), padding))


def side_by_side(inputs: np.ndarray, outputs: np.ndarray, padding: SpatialPadding = SpatialPadding(0, 0)) -> np.ndarray:
    """Input frames left of their reconstruction: uint8 pixels ``[T, H, 2 W, 3]`` with the padding cropped off."""
    return np.concatenate([to_output_frames(inputs, padding), to_output_frames(outputs, padding)], axis=2)


def joined_frames(pairs: Iterable[tuple[np.ndarray, jax.Array]], source: VideoSource) -> tuple[jax.Array, jax.Array]:
    """Pieces (input frames, their reconstruction) of ``source`` as two float device arrays ``[T, H, W, 3]``: the
    reconstruction clamped to [-1, 1], the padding cropped off both. The reconstruction never leaves the device."""
    pieces = list(pairs)
    if not pieces:
        raise InputError(f"{source.path}: no frames")
    inputs, outputs = (jnp.concatenate(side) for side in zip(*pieces))
    return remove_padding(inputs, source.padding), remove_padding(jnp.clip(outputs, -1, 1), source.padding)
