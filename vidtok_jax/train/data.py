"""Training and evaluation input: clips for this process, assembled into globally sharded batches.

``data.source: videos`` reads clips with the grain pipeline (``VideoBatchIterator``: official
clip sampling, resize + center crop); ``synthetic`` makes moving patterns (``vidtok_jax.data.synthetic``);
``latents`` reads a frozen VidTok's latents from ``vidtok-jax encode-dir`` shards (``LatentBatches``,
for a second-stage family such as VideoFlexTok; evaluation still reads videos). Each
process loads ``batch_size / process_count`` clips per step; in multi-process runs the video
pipeline of process ``p`` uses seed ``seed + p``, and the synthetic source gives each process its
rows of the same global batch. Both iterators have ``get_state`` / ``set_state``, saved in every
checkpoint, so a resumed run continues with the batch that would have come next.
"""

from __future__ import annotations

import jax
import numpy as np

from vidtok_jax.data.dataset import DataConfig, VideoBatchIterator
from vidtok_jax.data.latent_shards import LatentBatches, read_latent_shards
from vidtok_jax.data.synthetic import SyntheticBatches
from vidtok_jax.errors import ConfigError
from vidtok_jax.train.config import TrainConfig


def _local_batch_size(batch_size: int) -> int:
    count = jax.process_count()
    if batch_size % count:
        raise ConfigError(f"batch size {batch_size} must be divisible by the {count} processes")
    return batch_size // count


def _iterator(config: TrainConfig, batch_size: int, seed: int, data_dir, meta_path, source: str):
    data = config.data
    local = _local_batch_size(batch_size)
    rows = slice(jax.process_index() * local, (jax.process_index() + 1) * local)
    if source == "synthetic":
        return SyntheticBatches(batch_size, data.num_frames, data.height, data.width, seed, rows)
    if source == "latents":
        model = config.model_config
        return LatentBatches(read_latent_shards(data_dir), batch_size, model.latent_frames(data.num_frames),
                             data.height // model.spatial_factor, data.width // model.spatial_factor, seed, rows)
    return VideoBatchIterator(DataConfig(
        data_dir=data_dir, meta_path=meta_path, num_frames=data.num_frames, sample_fps=data.sample_fps,
        height=data.height, width=data.width, batch_size=local, seed=seed + jax.process_index(),
        num_workers=data.num_workers))


def train_iterator(config: TrainConfig):
    data = config.data
    return _iterator(config, data.batch_size, data.seed, data.data_dir, data.meta_path, data.source)


def eval_batch(config: TrainConfig) -> np.ndarray:
    """The fixed evaluation clips of this process: from ``eval.data_dir`` if set, else the training source."""
    ev, data = config.eval, config.data
    data_dir = ev.data_dir or data.data_dir
    meta_path = ev.meta_path if ev.data_dir else data.meta_path
    source = "videos" if data.source == "latents" else data.source
    iterator = _iterator(config, ev.batch_size, ev.seed, data_dir, meta_path, source)
    try:
        return next(iterator)["video"]
    finally:
        iterator.close()


def model_input(batch: dict) -> np.ndarray:
    """What a train step takes from a batch: the latents of a latent source, else the clips."""
    return batch["latents"] if "latents" in batch else batch["video"]


def global_batch(local_video: np.ndarray, sharding) -> jax.Array:
    """This process's clips as its part of a batch sharded over the mesh."""
    return jax.make_array_from_process_local_data(sharding, np.asarray(local_video, np.float32))


class DevicePrefetch:
    """One global batch ahead on the device: ``advance()`` (called once the current step is dispatched) reads
    the next batch and starts its transfer while the step runs.

    ``position`` is the input iterator's state before the batch waiting here, which is what a checkpoint saves:
    a resumed run starts with that batch. ``current`` is None once the input ended after a stop signal
    (``next_batch`` returns None then, as ``StopOnSignal.next_unless_stopped`` does)."""

    def __init__(self, batches, sharding, next_batch):
        self._batches, self._sharding, self._next_batch = batches, sharding, next_batch
        self.current, self.position = None, None
        self.advance()

    def advance(self) -> None:
        self.position = self._batches.get_state()
        batch = self._next_batch(self._batches)
        self.current = None if batch is None else global_batch(model_input(batch), self._sharding)
