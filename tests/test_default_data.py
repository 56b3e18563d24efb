"""The default model's training-data builder: colour grades and random windows of real clips."""

from __future__ import annotations

import numpy as np

from vidtok_jax.data.video import read_video, write_video
from vidtok_jax.train.default_data import random_colour_grade, write_video_crops


def gradient_video(frames: int, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    video = [np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 20 * t)], axis=-1) for t in range(frames)]
    return np.stack(video).astype(np.uint8)


def test_colour_grade_keeps_shape_and_is_seeded():
    frames = gradient_video(3, 16, 24)
    graded = random_colour_grade(frames, np.random.default_rng(5))
    assert graded.shape == frames.shape and graded.dtype == np.uint8
    np.testing.assert_array_equal(graded, random_colour_grade(frames, np.random.default_rng(5)))
    assert not np.array_equal(graded, frames)
    assert not np.array_equal(graded, random_colour_grade(frames, np.random.default_rng(6)))


def test_video_crops_are_square_clips_of_consecutive_frames(tmp_path):
    source = tmp_path / "source.mp4"
    write_video(source, gradient_video(20, 48, 64), 24.0)
    paths = write_video_crops([source], tmp_path / "crops", 3, 8, 32, np.random.default_rng(0))
    assert [p.name for p in paths] == ["source_0.mp4", "source_1.mp4", "source_2.mp4"]
    for path in paths:
        frames, fps = read_video(path)
        assert frames.shape == (8, 32, 32, 3) and fps == 24.0
