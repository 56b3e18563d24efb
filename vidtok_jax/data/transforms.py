"""Frame preprocessing: the model's value range, resize + center crop, padding to a multiple.

Frames are channels-last arrays ``[..., H, W, C]`` in numpy. The resize is the antialiased
bilinear filter of PIL and of torchvision's ``Resize(antialias=True)``, which the official
VidTok pipeline uses, computed with a few taps per output pixel so that large frames stay cheap.
"""

import math
from typing import NamedTuple

import numpy as np


def to_model_range(frames: np.ndarray) -> np.ndarray:
    """Pixel values in [0, 255] (uint8 or float) to float32 in [-1, 1], as the official normalization does."""
    return (np.asarray(frames, dtype=np.float32) / 255.0 - 0.5) / 0.5


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Model outputs in [-1, 1] to uint8 pixels, clipped and rounded to the nearest value."""
    pixels = (np.clip(np.asarray(frames, dtype=np.float32), -1.0, 1.0) + 1.0) * 127.5
    return np.rint(pixels).astype(np.uint8)


def _pair(size: int | tuple[int, int], what: str) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{what} must be a positive int or a (height, width) pair, got {size}")
    return int(pair[0]), int(pair[1])


def shorter_side_resize_shape(height: int, width: int, size: int | tuple[int, int]) -> tuple[int, int]:
    """The (height, width) that ``resize_shorter_side_and_center_crop`` resizes to before cropping ``size``.

    As torchvision's ``Resize(size[0])``: the shorter side becomes ``size[0]`` and the longer one
    ``int(size[0] * longer / shorter)``. Where that would not cover the crop (a crop wider than
    the frame's aspect ratio, which torchvision pads with black), the shorter side grows just
    enough to cover it instead.
    """
    crop_height, crop_width = _pair(size, "size")
    portrait = width <= height
    shorter, longer = (width, height) if portrait else (height, width)
    shorter_crop, longer_crop = (crop_width, crop_height) if portrait else (crop_height, crop_width)
    target = max(crop_height, shorter_crop, math.ceil(longer_crop * shorter / longer))
    while int(target * longer / shorter) < longer_crop:
        target += 1
    new_shorter, new_longer = target, int(target * longer / shorter)
    return (new_longer, new_shorter) if portrait else (new_shorter, new_longer)


def _filter_taps(in_size: int, out_size: int, first: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Input indices and weights ``[count, taps]`` of output pixels ``first .. first + count - 1``.

    The triangle filter widened by the downscaling factor, centred on each output pixel's centre
    and normalized to sum to one (PIL's and torch's ``antialias=True`` bilinear).
    """
    scale = in_size / out_size
    support = max(scale, 1.0)
    centers = scale * (np.arange(first, first + count) + 0.5)
    lows = np.maximum(np.floor(centers - support + 0.5), 0).astype(np.int64)
    highs = np.minimum(np.floor(centers + support + 0.5), in_size).astype(np.int64)
    taps = int((highs - lows).max())
    indices = lows[:, None] + np.arange(taps)[None, :]
    weights = np.maximum(0.0, 1.0 - np.abs((indices - centers[:, None] + 0.5) / support))
    weights = np.where(indices < highs[:, None], weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.minimum(indices, in_size - 1), weights.astype(np.float32)


def _resample_axis(frames: np.ndarray, axis: int, out_size: int, first: int, count: int) -> np.ndarray:
    """Resize ``frames`` along ``axis`` to ``out_size`` and keep output pixels ``first .. first + count - 1``, in float32."""
    indices, weights = _filter_taps(frames.shape[axis], out_size, first, count)
    shape = [1] * frames.ndim
    shape[axis] = count
    result = np.zeros(frames.shape[:axis] + (count,) + frames.shape[axis + 1 :], dtype=np.float32)
    for tap in range(indices.shape[1]):
        result += np.take(frames, indices[:, tap], axis=axis) * weights[:, tap].reshape(shape)
    return result


def resize_shorter_side_and_center_crop(frames: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize ``[..., H, W, C]`` frames so the shorter side matches ``size`` and center-crop to ``size``.

    ``size`` is an int (square) or (height, width); see ``shorter_side_resize_shape`` for the
    resized shape. The crop offsets round like torchvision's ``CenterCrop``. Returns float32 in
    the input's value scale (uint8 input gives float pixel values in [0, 255], no rounding), so
    it can go straight to ``to_model_range``. Only the kept pixels are computed.
    """
    crop_height, crop_width = _pair(size, "size")
    height, width = frames.shape[-3], frames.shape[-2]
    resized_height, resized_width = shorter_side_resize_shape(height, width, (crop_height, crop_width))
    top = int(round((resized_height - crop_height) / 2.0))
    left = int(round((resized_width - crop_width) / 2.0))
    if height / resized_height >= width / resized_width:
        rows = _resample_axis(frames, frames.ndim - 3, resized_height, top, crop_height)
        return _resample_axis(rows, frames.ndim - 2, resized_width, left, crop_width)
    columns = _resample_axis(frames, frames.ndim - 2, resized_width, left, crop_width)
    return _resample_axis(columns, frames.ndim - 3, resized_height, top, crop_height)


class SpatialPadding(NamedTuple):
    """Pixels added below and to the right of the frames by ``pad_to_multiple``."""

    bottom: int
    right: int


def pad_to_multiple(frames: np.ndarray, multiple: int | tuple[int, int]) -> tuple[np.ndarray, SpatialPadding]:
    """Pad ``[..., H, W, C]`` frames at the bottom and right, repeating the edge pixels, to sizes divisible by ``multiple``.

    Returns the padded frames and the padding, which ``remove_padding`` takes to crop back.
    """
    multiple_height, multiple_width = _pair(multiple, "multiple")
    height, width = frames.shape[-3], frames.shape[-2]
    padding = SpatialPadding(bottom=-height % multiple_height, right=-width % multiple_width)
    if padding == (0, 0):
        return frames, padding
    pad_width = [(0, 0)] * (frames.ndim - 3) + [(0, padding.bottom), (0, padding.right), (0, 0)]
    return np.pad(frames, pad_width, mode="edge"), padding


def remove_padding(frames: np.ndarray, padding: SpatialPadding) -> np.ndarray:
    """Undo ``pad_to_multiple``: crop the padded rows and columns off ``[..., H, W, C]`` frames."""
    height, width = frames.shape[-3], frames.shape[-2]
    return frames[..., : height - padding.bottom, : width - padding.right, :]
