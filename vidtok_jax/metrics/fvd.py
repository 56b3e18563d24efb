"""Fréchet Video Distance (Unterthiner et al. 2018), computed as the reference TensorFlow code does.

Reference: google-research `frechet_video_distance`. Every frame is resized to 224x224 with TF1's
`resize_bilinear` (align_corners=False, half_pixel_centers=False: source pixel = target pixel *
in_size / out_size, linear interpolation, edge clamped); pixels are in [-1, 1]; the Kinetics-400
I3D (`i3d.py`, the TF-hub `i3d-kinetics-400` network) maps each video to its 400 class logits
averaged over time (before softmax); FVD is the Fréchet distance (`frechet.py`, float64, sample
covariances) between the logits of the two sets. Videos need at least 10 frames (the convention of
common FVD code; I3D's temporal pooling leaves nothing below 9) and each set at least 2 videos.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.errors import InputError
from vidtok_jax.metrics.batching import map_in_chunks
from vidtok_jax.metrics.frechet import frechet_distance
from vidtok_jax.metrics.i3d import I3D, RESOLUTION
from vidtok_jax.metrics.inputs import as_pixels
from vidtok_jax.metrics.weights import load_converted_weights

MIN_FRAMES = 10


def legacy_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """`[out_size, in_size]` weights of TF1 `resize_bilinear` (align_corners=False, no half-pixel centers)."""
    source = np.arange(out_size) * (in_size / out_size)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    fraction = source - low
    weights = np.zeros((out_size, in_size))
    np.add.at(weights, (np.arange(out_size), low), 1.0 - fraction)
    np.add.at(weights, (np.arange(out_size), high), fraction)
    return weights.astype(np.float32)


def resize_frames(videos: jax.Array, size: int = RESOLUTION) -> jax.Array:
    """Resize `[B, T, H, W, 3]` to `[B, T, size, size, 3]` as TF1's `resize_bilinear`."""
    rows = jnp.asarray(legacy_bilinear_matrix(videos.shape[2], size))
    columns = jnp.asarray(legacy_bilinear_matrix(videos.shape[3], size))
    precision = jax.lax.Precision.HIGHEST
    videos = jnp.einsum("oh,bthwc->btowc", rows, videos, precision=precision)
    return jnp.einsum("pw,btowc->btopc", columns, videos, precision=precision)


@functools.cache
def _compiled_i3d(download: bool):
    variables = jax.tree_util.tree_map(jnp.asarray, load_converted_weights("i3d_kinetics400", download))
    network = I3D()
    return variables, jax.jit(lambda weights, videos: network.apply(weights, resize_frames(videos)))


def _as_videos(videos, name: str) -> jax.Array:
    videos = as_pixels(videos, name)
    if videos.ndim != 5:
        raise InputError(f"{name} must be videos [B, T, H, W, 3]; got shape {videos.shape}")
    if videos.shape[1] < MIN_FRAMES:
        raise InputError(f"FVD needs videos of at least {MIN_FRAMES} frames; {name} has T={videos.shape[1]}")
    return videos


def i3d_logits(videos, chunk_size: int = 4, download: bool = False) -> np.ndarray:
    """Kinetics-400 I3D logits `[B, 400]` (float32) of videos `[B, T >= 10, H, W, 3]` in [-1, 1].

    Frames are resized to 224x224 first; videos go through the network `chunk_size` at a time.
    """
    videos = _as_videos(videos, "videos")
    variables, apply = _compiled_i3d(download)
    return np.asarray(map_in_chunks(lambda chunk: apply(variables, chunk), videos, chunk_size=chunk_size))


def fvd(videos_a, videos_b, chunk_size: int = 4, download: bool = False) -> float:
    """FVD between two sets of videos `[B, T, H, W, 3]` in [-1, 1] (B >= 2, T >= 10; same T, H, W)."""
    videos_a, videos_b = _as_videos(videos_a, "videos_a"), _as_videos(videos_b, "videos_b")
    if videos_a.shape[1:] != videos_b.shape[1:]:
        raise InputError(f"videos_a and videos_b must have the same [T, H, W, 3]; got {videos_a.shape} "
                         f"and {videos_b.shape}")
    if min(videos_a.shape[0], videos_b.shape[0]) < 2:
        raise InputError(f"FVD needs at least 2 videos per set; got {videos_a.shape[0]} and {videos_b.shape[0]}")
    return frechet_distance(i3d_logits(videos_a, chunk_size, download), i3d_logits(videos_b, chunk_size, download))
