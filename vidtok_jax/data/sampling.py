"""Which frames of a video to use: the official VidTok frame-rate and clip sampling rules.

Frames are picked by their index in decode order (a constant frame rate is assumed), exactly as the
official PyTorch code does with decord.
"""

import numpy as np


def sample_interval(video_fps: float, sample_fps: float) -> int:
    """Keep every n-th frame to go from ``video_fps`` to about ``sample_fps``: n = round(video_fps / sample_fps).

    Python's round (ties to even) as in the official code; at least 1, so asking for a higher
    rate than the video has keeps every frame instead of repeating frames.
    """
    if video_fps <= 0 or sample_fps <= 0:
        raise ValueError(f"frame rates must be positive, got video_fps={video_fps}, sample_fps={sample_fps}")
    return max(1, round(video_fps / sample_fps))


def resampled_fps(video_fps: float, sample_fps: float) -> float:
    """The true frame rate after keeping every ``sample_interval``-th frame (30 fps at 8 fps gives 7.5)."""
    return video_fps / sample_interval(video_fps, sample_fps)


def sample_clip_indices(
    total_frames: int,
    video_fps: float,
    num_frames: int,
    sample_fps: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frame indices of one random training clip of ``num_frames`` frames, as the official dataset picks them.

    The clip spans ``(n - 1) * interval + 1`` frames from a uniformly random start; the indices
    are ``linspace(start, min(total - 1, start + span), n)`` truncated to int, which is the
    official rule to the letter (its end point is one frame past the span, so the last step can
    be one frame longer). A video shorter than the span starts at 0 and spreads the clip over the
    whole video; a video with fewer than ``num_frames`` frames gives all its frames and then
    repeats the last one.
    """
    if total_frames < 1:
        raise ValueError(f"total_frames must be at least 1, got {total_frames}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    taken = min(num_frames, total_frames)
    span = (taken - 1) * sample_interval(video_fps, sample_fps) + 1
    last_start = total_frames - span - 1
    start = 0 if last_start < 0 else int(rng.integers(0, last_start, endpoint=True))
    indices = np.linspace(start, min(total_frames - 1, start + span), num=taken).astype(np.int64)
    return np.concatenate([indices, np.full(num_frames - taken, indices[-1], dtype=np.int64)])
