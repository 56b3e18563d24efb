"""The default model's training-data builder: colour grades and random windows of real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidtok_jax.data.video import read_video, write_video
from vidtok_jax.datasets.default_data import random_colour_grade, write_video_crops


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


def test_strided_windows_skip_frames_mirror_and_reverse():
    from vidtok_jax.datasets.motion_data import strided_window

    counter = np.repeat(np.arange(200, dtype=np.uint8)[:, None, None, None], 16, axis=1)
    counter = np.repeat(np.repeat(counter, 16, axis=2), 3, axis=3)  # frame i is all i
    strides, reversed_ = set(), set()
    for seed in range(40):
        clip = strided_window(counter, 9, 8, np.random.default_rng(seed))
        assert clip.shape == (9, 8, 8, 3) and clip.dtype == np.uint8
        steps = np.diff(clip[:, 0, 0, 0].astype(int))
        assert len(set(steps.tolist())) == 1 and abs(steps[0]) in (1, 2, 3, 4)
        strides.add(abs(int(steps[0])))
        reversed_.add(bool(steps[0] < 0))
    assert strides == {1, 2, 3, 4} and reversed_ == {True, False}


def test_motion_data_is_deterministic_moves_and_never_reads_the_held_out_clip(tmp_path, monkeypatch):
    from vidtok_jax.datasets import motion_data

    read, written = [], {}
    real_read = motion_data.read_video
    monkeypatch.setattr(motion_data, "read_video", lambda path, **kw: read.append(Path(path).stem) or real_read(path, **kw))
    monkeypatch.setattr(motion_data, "write_video", lambda path, frames, fps: written.__setitem__(path, frames))
    kinds = tuple(kind for kind in motion_data.ALL_KINDS if kind != "film")  # film: below
    builds = [motion_data.build(tmp_path / name, clips_per_kind=2, num_frames=9, size=32, seed=seed,
                                kinds=kinds) for name, seed in (("a", 3), ("b", 3), ("c", 4))]
    assert motion_data.HELD_OUT not in read and len(builds[0]) == 2 * len(kinds)
    with pytest.raises(ValueError, match="unknown clip kinds"):
        motion_data.build(tmp_path / "d", clips_per_kind=1, kinds=("camra",))
    first, again, other = ([written[path] for path in paths] for paths in builds)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not any(np.array_equal(a, c) for a, c in zip(first, other))
    for clip in first:
        assert clip.shape == (9, 32, 32, 3) and clip.dtype == np.uint8
        assert np.abs(np.diff(clip.astype(np.float32), axis=0)).mean() > 0.5  # every kind moves
    saturated = [clip for path, clip in zip(builds[0], first) if path.parent.name == "saturated"]
    assert all(clip.max(axis=-1).mean() - clip.min(axis=-1).mean() > 120 for clip in saturated)


def test_frames_outside_drops_every_frame_near_an_excerpt_frame():
    from vidtok_jax.datasets.film import MARGIN, frames_outside

    film = np.random.default_rng(0).integers(0, 256, (300, 16, 16, 3), dtype=np.uint8)
    runs = frames_outside(film, [film[100:120]], min_length=10)
    assert [len(run) for run in runs] == [100 - MARGIN, 300 - 120 - MARGIN]
    assert np.array_equal(runs[0], film[:100 - MARGIN]) and np.array_equal(runs[1], film[120 + MARGIN:])
    assert [len(run) for run in frames_outside(film, [film[100:120]], min_length=100 - MARGIN + 1)] == [156]


def test_the_film_kind_cuts_windows_of_the_film_and_needs_its_path(tmp_path):
    from vidtok_jax.datasets import motion_data

    t = np.arange(120, dtype=np.float32)[:, None, None, None]
    y, x = (grid[None, ..., None] for grid in np.mgrid[0:48, 0:64].astype(np.float32))
    film = np.clip(np.rint(127 + 120 * np.sin((x + 2 * t) / 7.0 + y * np.array([0.05, 0.1, 0.2]))), 0, 255)
    write_video(tmp_path / "trailer.mp4", film.astype(np.uint8), 24.0)
    paths = motion_data.build(tmp_path / "data", clips_per_kind=3, num_frames=9, size=32, kinds=("film",),
                              film=tmp_path / "trailer.mp4")
    clips = [read_video(path)[0] for path in paths]
    assert len(clips) == 3 and all(clip.shape == (9, 32, 32, 3) for clip in clips)
    assert all(np.abs(np.diff(clip.astype(np.float32), axis=0)).mean() > 0.5 for clip in clips)
    with pytest.raises(ValueError, match="--film"):
        motion_data.build(tmp_path / "none", clips_per_kind=1, kinds=("film",))
