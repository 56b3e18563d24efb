"""Reading, probing and atomically writing video files with PyAV.

Frames are uint8 RGB arrays, channels last: ``[T, H, W, 3]`` for a video, ``[H, W, 3]`` for one
frame. Every problem with an input file (missing, unreadable, corrupt, no video stream, no frames)
raises ``InputError`` with a one-line message naming the file; FFmpeg's own exceptions never escape.
Written files appear only complete: they are encoded into a hidden temporary file next to the
target and renamed over it at the end.
"""

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain

import av
import numpy as np

from vidtok_jax.data.sampling import resampled_fps, sample_interval
from vidtok_jax.errors import InputError, VidTokError

_AV_ERRORS = (av.error.FFmpegError, OSError)

# Below this start frame, decoding from the beginning is cheaper than seeking to a keyframe.
_SEEK_MIN_FRAMES = 64

# Encoder settings: libx264 at this constant rate factor (visually near lossless), or mpeg4 at this
# many bits per pixel and frame where FFmpeg was built without libx264.
_X264_CRF = 18
_MPEG4_BITS_PER_PIXEL = 1.0


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` finds out about a video stream."""

    num_frames: int
    fps: float
    width: int
    height: int
    duration: float  # seconds


def _reason(error: BaseException) -> str:
    """FFmpeg's short description of an error, without the errno and path noise."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


@contextlib.contextmanager
def _open_video(name: str) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``name`` and give its first video stream; every FFmpeg or OS failure becomes an InputError."""
    if not os.path.exists(name):
        raise InputError(f"{name}: no such file")
    if not os.path.isfile(name):
        raise InputError(f"{name}: not a regular file")
    try:
        container = av.open(name)
    except _AV_ERRORS as error:
        raise InputError(f"{name}: not a readable video ({_reason(error)})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{name}: has no video stream")
        try:
            yield container, container.streams.video[0]
        except _AV_ERRORS as error:
            raise InputError(f"{name}: decoding failed ({_reason(error)})") from None


def _stream_fps(stream: av.video.stream.VideoStream, name: str) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    raise InputError(f"{name}: the frame rate is unknown")


def _rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The frame as uint8 RGB ``[H, W, 3]``, scaled to ``size`` (width, height) should the stream change size."""
    return frame.to_ndarray(format="rgb24", width=size[0], height=size[1])


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame count, frame rate, size and duration from the container's metadata.

    Containers that do not store a frame count (Matroska, WebM) are decoded once to count frames.
    """
    name = os.fspath(path)
    with _open_video(name) as (container, stream):
        fps = _stream_fps(stream, name)
        num_frames = stream.frames or sum(1 for _ in container.decode(stream))
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else 0.0
    if num_frames == 0:
        raise InputError(f"{name}: contains no video frames")
    if not width or not height:
        raise InputError(f"{name}: the frame size is unknown")
    return VideoInfo(num_frames=num_frames, fps=fps, width=width, height=height, duration=duration or num_frames / fps)


def _resampled_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    name: str,
    fps: float | None,
    max_frames: int | None,
) -> Iterator[np.ndarray]:
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    stream.thread_type = "AUTO"
    interval = 1 if fps is None else sample_interval(_stream_fps(stream, name), fps)
    kept = 0
    size = None
    for index, frame in enumerate(container.decode(stream)):
        if index % interval:
            continue
        size = size or (frame.width, frame.height)
        yield _rgb(frame, size)
        kept += 1
        if kept == max_frames:
            return
    if kept == 0:
        raise InputError(f"{name}: contains no video frames")


def iter_video_frames(
    path: str | os.PathLike, *, fps: float | None = None, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """Yield the frames of a video one by one as uint8 ``[H, W, 3]``, never holding the whole video.

    ``fps`` keeps every ``round(video_fps / fps)``-th frame (the official VidTok rule, so the true
    output rate is ``sampling.resampled_fps(probe_video(path).fps, fps)``); ``max_frames`` stops
    after that many kept frames.
    """
    name = os.fspath(path)
    with _open_video(name) as (container, stream):
        yield from _resampled_frames(container, stream, name, fps, max_frames)


def read_video(
    path: str | os.PathLike, *, max_frames: int | None = None, fps: float | None = None
) -> tuple[np.ndarray, float]:
    """Decode a whole video: uint8 frames ``[T, H, W, 3]`` and their frame rate.

    ``fps`` and ``max_frames`` select frames as in ``iter_video_frames``; the returned rate is the
    true rate of the kept frames (a 30 fps video read at ``fps=8`` keeps every 4th frame: 7.5 fps).
    """
    name = os.fspath(path)
    with _open_video(name) as (container, stream):
        video_fps = _stream_fps(stream, name)
        frames = np.stack(list(_resampled_frames(container, stream, name, fps, max_frames)))
    return frames, video_fps if fps is None else resampled_fps(video_fps, fps)


def _collect(indexed_frames: Iterable[tuple[int, av.VideoFrame]], wanted: set[int], last: int) -> dict[int, np.ndarray]:
    found = {}
    size = None
    for index, frame in indexed_frames:
        if index in wanted:
            size = size or (frame.width, frame.height)
            found[index] = _rgb(frame, size)
        if index >= last:
            break
    return found


def _read_sequentially(name: str, wanted: set[int], last: int) -> dict[int, np.ndarray]:
    with _open_video(name) as (container, stream):
        return _collect(enumerate(container.decode(stream)), wanted, last)


def _read_after_seek(name: str, wanted: set[int], first: int, last: int) -> dict[int, np.ndarray] | None:
    """Seek to the keyframe before frame ``first`` and number frames by time stamp.

    Only for constant frame rate streams, where a time stamp gives the frame index; None when the
    stream does not qualify or the seek landed after ``first``, so the caller decodes from the start.
    """
    with _open_video(name) as (container, stream):
        rate, time_base = stream.average_rate, stream.time_base
        if not rate or rate != stream.guessed_rate or not time_base:
            return None
        origin = stream.start_time or 0
        container.seek(origin + int(first / (rate * time_base)), stream=stream)
        indexed = ((round((frame.pts - origin) * time_base * rate), frame)
                   for frame in container.decode(stream) if frame.pts is not None)
        head = next(indexed, None)
        if head is None or head[0] > first:
            return None
        return _collect(chain([head], indexed), wanted, last)


def read_frames_at(path: str | os.PathLike, indices: Sequence[int]) -> np.ndarray:
    """The frames at the given decode-order indices (repeats allowed) as uint8 ``[len(indices), H, W, 3]``.

    Seeks instead of decoding from the start when the first index is far into a constant frame
    rate video (and decodes from the start after all if time stamps did not give every wanted
    frame). Raises InputError when the video ends before an index.
    """
    name = os.fspath(path)
    order = [int(index) for index in indices]
    if not order or min(order) < 0:
        raise ValueError(f"indices must be a non-empty list of frame indices >= 0, got {order}")
    wanted, first, last = set(order), min(order), max(order)
    found = _read_after_seek(name, wanted, first, last) if first >= _SEEK_MIN_FRAMES else None
    if found is None or not wanted <= found.keys():
        found = _read_sequentially(name, wanted, last)
    missing = sorted(wanted - found.keys())
    if missing:
        raise InputError(f"{name}: has no frame {missing[0]} (the video ends before it)")
    return np.stack([found[index] for index in order])


def _as_frame_batch(frames: np.ndarray) -> np.ndarray:
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
        raise InputError(f"frames to write must be uint8 [T, H, W, 3] or [H, W, 3], got {array.dtype} {list(array.shape)}")
    return array


class VideoWriter:
    """Encode frames chunk by chunk into a video file that appears only when complete.

    Use as a context manager: leaving the block normally finalizes the file (renamed over
    ``path``), leaving it by an exception removes the temporary file and leaves ``path`` untouched.
    The codec is H.264 (libx264) when FFmpeg has it, else MPEG-4 Part 2; pixels are yuv420p, or
    yuv444p with libx264 for odd sizes so that the exact size is kept.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, codec: str | None = None):
        if not fps > 0:
            raise InputError(f"fps must be positive, got {fps}")
        self.path = os.fspath(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.codec = codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
        stem, extension = os.path.splitext(os.path.basename(self.path))
        self._temp_path = os.path.join(os.path.dirname(os.path.abspath(self.path)),
                                       f".{stem}.{uuid.uuid4().hex[:12]}.partial{extension}")
        self._format = None if extension else "mp4"
        self._container = None
        self._stream = None
        self._frame_count = 0
        self._finished = False

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _output_error(self, error: BaseException) -> VidTokError:
        return VidTokError(f"{self.path}: cannot write the video ({_reason(error)})")

    def _start(self, height: int, width: int) -> None:
        try:
            self._container = av.open(self._temp_path, "w", format=self._format)
            stream = self._container.add_stream(self.codec, rate=self.fps)
        except _AV_ERRORS as error:
            raise self._output_error(error) from None
        stream.width, stream.height = width, height
        if self.codec == "libx264":
            stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
            stream.options = {"crf": str(_X264_CRF), "preset": "medium"}
        else:
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = int(width * height * self.fps * _MPEG4_BITS_PER_PIXEL)
        self._stream = stream

    def _encode(self, frame: av.VideoFrame | None) -> None:
        """Encode one frame, or flush the encoder when ``frame`` is None, and mux the packets."""
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except _AV_ERRORS as error:
            raise self._output_error(error) from None

    def _write_batch(self, batch: np.ndarray) -> None:
        if self._stream is None:
            self._start(*batch.shape[1:3])
        expected = (self._stream.height, self._stream.width)
        if batch.shape[1:3] != expected:
            raise InputError(f"{self.path}: frames of size {list(batch.shape[1:3])} do not match the first frames' size "
                             f"{list(expected)}")
        for array in batch:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = self._frame_count
            self._encode(frame)
            self._frame_count += 1

    def _finish(self) -> None:
        if self._frame_count == 0:
            raise InputError(f"{self.path}: no frames to write")
        self._encode(None)
        try:
            self._container.close()
            os.replace(self._temp_path, self.path)
        except _AV_ERRORS as error:
            raise self._output_error(error) from None

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 frames ``[T, H, W, 3]`` or one frame ``[H, W, 3]``; all must have the first frame's size.

        Any failure aborts the writer (the temporary file is removed) before the error propagates.
        """
        if self._finished:
            raise VidTokError(f"{self.path}: the writer is already closed")
        try:
            self._write_batch(_as_frame_batch(frames))
        except BaseException:
            self.abort()
            raise

    def close(self) -> None:
        """Flush the encoder and move the finished file to ``path``; raises InputError if no frame was written."""
        if self._finished:
            return
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._finished = True

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is left as it was. Safe to call more than once."""
        self._finished = True
        if self._container is not None:
            with contextlib.suppress(*_AV_ERRORS):
                self._container.close()
            self._container = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._temp_path)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float, *, codec: str | None = None) -> None:
    """Write uint8 frames ``[T, H, W, 3]`` to ``path`` atomically (see ``VideoWriter``)."""
    with VideoWriter(path, fps, codec=codec) as writer:
        writer.write(frames)


def check_video_output(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output name whose container the writer cannot make (``.txt``, ``.npz``, or
    one whose format does not take the codec, as ``.gif``): the container is opened on a temporary file, then dropped."""
    writer = VideoWriter(path, 1.0)
    try:
        writer._start(16, 16)
    except (VidTokError, ValueError) as error:  # PyAV: ValueError when no container format fits the name
        raise InputError(f"{os.fspath(path)}: cannot write a video there ({error}): give a video file name such as "
                         "out.mp4") from None
    finally:
        writer.abort()
