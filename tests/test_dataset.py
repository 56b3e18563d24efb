"""The training data pipeline: official clip sampling, determinism, resumable state, bad-file skipping, sources."""

import json
import logging

import numpy as np
import pytest

from tests.helpers import frame_numbers, numbered_frames
from vidtok_jax.data.dataset import DataConfig, VideoBatchIterator
from vidtok_jax.data.sampling import sample_clip_indices, sample_interval
from vidtok_jax.data.sources import list_training_videos, list_videos_from_meta, list_videos_in_folder
from vidtok_jax.data.video import write_video
from vidtok_jax.errors import ConfigError, InputError


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A folder of numbered videos: 48 frames at 24 fps, 40 frames at 30 fps (in a subfolder), 5 frames at 24 fps."""
    folder = tmp_path_factory.mktemp("videos")
    (folder / "sub").mkdir()
    write_video(folder / "long.mp4", numbered_frames(48), 24)
    write_video(folder / "sub" / "mid.mp4", numbered_frames(40), 30)
    write_video(folder / "short.mp4", numbered_frames(5), 24)
    return folder


def config_for(folder, **overrides) -> DataConfig:
    settings = dict(data_dir=str(folder), num_frames=4, sample_fps=8, height=16, width=24, batch_size=2, seed=7)
    return DataConfig(**(settings | overrides))


def take(config: DataConfig, count: int, state: dict | None = None) -> list[dict]:
    with VideoBatchIterator(config) as batches:
        if state is not None:
            batches.set_state(state)
        return [next(batches) for _ in range(count)]


def pixel_numbers(video: np.ndarray) -> list:
    """Frame numbers of model-range clips ``[..., T, H, W, 3]``."""
    return frame_numbers((video + 1.0) * 127.5)


@pytest.mark.parametrize(("video_fps", "sample_fps", "interval"), [(30, 3, 10), (30, 8, 4), (25, 8, 3), (25, 10, 2), (24, 30, 1)])
def test_sample_interval_is_rounded_ratio(video_fps, sample_fps, interval):
    assert sample_interval(video_fps, sample_fps) == interval


def test_clip_indices_follow_the_official_rule():
    starts = set()
    for seed in range(200):
        indices = sample_clip_indices(100, 30, 5, 10, np.random.default_rng(seed))
        start = int(indices[0])
        np.testing.assert_array_equal(indices, start + np.array([0, 3, 6, 9, 13]))  # linspace(start, start + 13, 5)
        starts.add(start)
    assert min(starts) == 0 and max(starts) == 100 - 13 - 1
    # Shorter than the span: start at 0 and spread over the whole video.
    np.testing.assert_array_equal(sample_clip_indices(12, 30, 5, 10, np.random.default_rng(0)), [0, 2, 5, 8, 11])
    # Fewer frames than asked: every frame, then the last one repeated.
    np.testing.assert_array_equal(sample_clip_indices(3, 30, 5, 10, np.random.default_rng(0)), [0, 1, 2, 2, 2])


def test_batches_are_official_clips_in_model_range(videos):
    for batch in take(config_for(videos), 4):
        video = batch["video"]
        assert video.shape == (2, 4, 16, 24, 3) and video.dtype == np.float32
        assert -1.0 <= video.min() and video.max() <= 1.0
        for clip, path in zip(pixel_numbers(video), batch["path"]):
            start = clip[0]
            if path.endswith("short.mp4"):  # 5 frames: spread over the video
                assert clip == [0, 1, 2, 4]
            elif path.endswith("long.mp4"):  # 24 fps at 8: every 3rd frame, linspace(start, start + 10, 4)
                assert clip == [start, start + 3, start + 6, start + 10] and start <= 48 - 10 - 1
            else:  # 30 fps at 8: every 4th frame, linspace(start, start + 13, 4)
                assert clip == [start, start + 4, start + 8, start + 13] and start <= 40 - 13 - 1


def test_short_video_repeats_its_last_frame(tmp_path):
    write_video(tmp_path / "five.mp4", numbered_frames(5), 24)
    batch = take(config_for(tmp_path, num_frames=8, batch_size=1), 1)[0]
    assert pixel_numbers(batch["video"]) == [[0, 1, 2, 3, 4, 4, 4, 4]]


def test_same_seed_same_batches_other_seed_other_batches(videos):
    first, again = take(config_for(videos), 3), take(config_for(videos), 3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a["video"], b["video"])
        assert a["path"] == b["path"]
    other = take(config_for(videos, seed=8), 3)
    assert any(a["path"] != b["path"] or not np.array_equal(a["video"], b["video"]) for a, b in zip(first, other))


def test_restored_state_gives_the_same_next_batch(videos):
    config = config_for(videos)
    with VideoBatchIterator(config) as batches:
        next(batches), next(batches)
        state = json.loads(json.dumps(batches.get_state()))
        expected = [next(batches), next(batches)]
    resumed = take(config, 2, state)
    for a, b in zip(expected, resumed):
        np.testing.assert_array_equal(a["video"], b["video"])
        assert a["path"] == b["path"]


def test_worker_processes_give_the_same_batches_and_resume_from_a_single_process_state(videos):
    single = take(config_for(videos), 3)
    workers = take(config_for(videos, num_workers=2), 2, state={"next_batch": 1, "bad_files": {}})
    for a, b in zip(single[1:], workers):
        np.testing.assert_array_equal(a["video"], b["video"])
        assert a["path"] == b["path"]


def test_unreadable_videos_are_skipped_counted_and_reported(tmp_path, caplog):
    write_video(tmp_path / "good.mp4", numbered_frames(48), 24)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 4096)
    config = config_for(tmp_path)
    with caplog.at_level(logging.WARNING), VideoBatchIterator(config) as batches:
        clips = [next(batches) for _ in range(4)]
        state = batches.get_state()
        report = batches.bad_files
    assert all(path.endswith("good.mp4") for batch in clips for path in batch["path"])
    assert all((batch["video"].max(axis=(2, 3, 4)) > -0.5).all()
               for batch in clips)  # every frame has a channel at 128: none is black
    assert report.counts[str(bad)] >= 1 and "not a readable video" in report.reasons[str(bad)]
    assert "broken.mp4" in report.summary() and "broken.mp4" in caplog.text
    assert state["bad_files"][str(bad)][0] == report.counts[str(bad)]
    with VideoBatchIterator(config) as resumed:
        resumed.set_state(state)
        assert resumed.bad_files.counts == report.counts


def test_a_data_set_with_no_readable_video_fails_clearly(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 4096)
    with pytest.raises(InputError, match="could be read"), VideoBatchIterator(config_for(tmp_path, max_attempts=3)) as batches:
        next(batches)


def test_meta_csv_lists_the_videos_column_relative_to_the_data_dir(tmp_path):
    meta = tmp_path / "meta.csv"
    meta.write_text('videos,caption\nsub/a.mp4,"a caption, with a comma"\n,no video\nb.mp4,x,extra field\nc.mp4,"two\nlines"\n')
    assert list_videos_from_meta(meta, "/data") == ["/data/sub/a.mp4", "/data/c.mp4"]
    meta.write_text("path,caption\na.mp4,x\n")
    with pytest.raises(ConfigError, match="no 'videos' column"):
        list_videos_from_meta(meta, "/data")


def test_folder_listing_is_recursive_sorted_and_skips_hidden_and_other_files(videos, tmp_path):
    assert [path[len(str(videos)) + 1 :] for path in list_videos_in_folder(videos)] == ["long.mp4", "short.mp4", "sub/mid.mp4"]
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".out.1234.partial.mp4").write_bytes(b"")
    with pytest.raises(ConfigError, match="no videos"):
        list_training_videos(tmp_path)


def test_iterator_reads_the_meta_file_when_given(videos, tmp_path):
    meta = tmp_path / "meta.csv"
    meta.write_text("videos\nshort.mp4\n")
    batch = take(config_for(videos, meta_path=str(meta), batch_size=1), 1)[0]
    assert batch["path"] == [str(videos / "short.mp4")]


@pytest.mark.parametrize("field", ["num_frames", "height", "batch_size", "sample_fps"])
def test_config_rejects_non_positive_values(field):
    with pytest.raises(ConfigError, match=field):
        DataConfig(data_dir="videos", **{field: 0})
