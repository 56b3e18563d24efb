"""Training batches of VidTok latents read from ``vidtok-jax encode-dir`` shards (``data.source: latents``).

A second-stage model over a frozen VidTok (VideoFlexTok) spends most of a CPU step encoding its
clips; encoding the training videos once with ``vidtok-jax encode-dir`` (a KL model's latents)
and reading the shards removes that work. Every shard is read into memory once.

Each clip of a batch picks a video at random, then a window of ``latent_frames`` consecutive
latent frames and a ``height × width`` crop of its latent grid. A window of a whole-video encoding
is what the on-the-fly path computes when the window starts at latent frame 0 and covers the
whole encoded frame (a video encoded at the training clip's length and size gives exactly the
latents, and so the training steps, of the on-the-fly path). Later windows and smaller crops
also carry the causal context of the frames and pixels around them, as a long video's encoding does.

``data.data_dir`` names one encode-dir folder or a list of them (encodings of the same videos at two
sizes, say: whole downscaled frames and crops of larger ones); all must come from the same VidTok.

Batch ``i`` is a pure function of the seed and ``i`` (``SeededBatches``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from vidtok_jax.data.seeded_batches import SeededBatches
from vidtok_jax.errors import ConfigError

INDEX_NAME = "index.json"
INDEX_FORMAT = "vidtok-jax token shards"


def read_shard_index(folder: str | os.PathLike) -> dict:
    """The ``index.json`` of an encode-dir folder of a KL model's latents (settings, shards, videos)."""
    path = os.path.join(os.fspath(folder), INDEX_NAME)
    try:
        with open(path, encoding="utf-8") as file:
            index = json.load(file)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{folder}: no readable {INDEX_NAME} ({error}); data.source=latents reads the output "
                          "folder of 'vidtok-jax encode-dir'") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ConfigError(f"{path}: not an index written by 'vidtok-jax encode-dir'")
    if index.get("settings", {}).get("model", {}).get("regularizer") != "kl":
        raise ConfigError(f"{folder}: holds token ids of an FSQ model; data.source=latents needs a KL model's latents")
    return index


def latent_folders(data_dir: str | os.PathLike | list) -> list[str]:
    """The encode-dir folders that ``data.data_dir`` names: one folder, or a list of them."""
    folders = [data_dir] if isinstance(data_dir, (str, os.PathLike)) else list(data_dir)
    if not folders or not all(isinstance(folder, (str, os.PathLike)) for folder in folders):
        raise ConfigError(f"data.data_dir={data_dir!r}: name an encode-dir folder, or a list of them")
    return [os.fspath(folder) for folder in folders]


def read_latent_shards(data_dir: str | os.PathLike | list) -> list[np.ndarray]:
    """Every video's latents ``[t, h, w, C]`` (float32) in an encode-dir folder, or in each of a list of them."""
    if len(folders := latent_folders(data_dir)) > 1:
        return [z for folder in folders for z in read_latent_shards(folder)]
    folder = folders[0]
    latents = []
    for shard, names in sorted(read_shard_index(folder)["shards"].items()):
        with np.load(os.path.join(os.fspath(folder), shard), allow_pickle=False) as arrays:
            latents += [np.asarray(arrays[str(key)], np.float32) for key in range(len(names))]
    if not latents:
        raise ConfigError(f"{folder}: holds no encoded videos")
    return latents


class LatentBatches(SeededBatches):
    """Endless batches ``{"latents": float32 [B, t, h, w, C]}``: rows ``rows`` of each global batch."""

    key = "latents"

    def __init__(self, latents: list[np.ndarray], batch_size: int, latent_frames: int, height: int, width: int,
                 seed: int, rows: slice | None = None):
        super().__init__(batch_size, seed, rows)
        self.videos = [z for z in latents if z.shape[0] >= latent_frames and z.shape[1] >= height and z.shape[2] >= width]
        if not self.videos:
            shapes = sorted({tuple(z.shape[:3]) for z in latents})
            raise ConfigError(f"no encoded video holds a window of {latent_frames}x{height}x{width} latents (it has "
                              f"{', '.join(map(str, shapes[:5]))}); encode longer or larger videos, or train on "
                              "shorter or smaller clips")
        self.window = (latent_frames, height, width)

    def make_row(self, rng: np.random.Generator) -> np.ndarray:
        video = self.videos[rng.integers(len(self.videos))]
        starts = [rng.integers(size - length + 1) for size, length in zip(video.shape[:3], self.window)]
        return video[tuple(slice(s, s + n) for s, n in zip(starts, self.window))]
