"""The training data pipeline: endless batches of random video clips, built with grain.

Each element is one clip sampled by the official VidTok rule (``sampling.sample_clip_indices``),
decoded with PyAV, resized on the shorter side, center-cropped and scaled to [-1, 1]:
float32 ``[T, H, W, 3]``; batches are ``[B, T, H, W, 3]``. The video order is a per-epoch
shuffle and every random choice comes from the seed and the element's position, so a seed fixes
the batches, whatever the number of worker processes. An unreadable video is replaced by another
one chosen from the same random stream, and reported in ``VideoBatchIterator.bad_files``.
Worker processes ignore Ctrl-C, which a terminal sends to every process of the job: the main
process decides what to do with it and stops the workers when it closes the iterator.
"""

import json
import signal
from dataclasses import dataclass

import grain
import numpy as np
from absl import flags

from vidtok_jax.data.bad_files import BadFileReport
from vidtok_jax.data.sampling import sample_clip_indices
from vidtok_jax.data.sources import list_training_videos
from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop, to_model_range
from vidtok_jax.data.video import VideoInfo, probe_video, read_frames_at
from vidtok_jax.errors import ConfigError, InputError


@dataclass(frozen=True)
class DataConfig:
    """Where the training videos are and what clips and batches to make of them.

    ``meta_path`` is an official meta CSV whose ``videos`` column holds paths relative to
    ``data_dir``; without it every video under ``data_dir`` is used. ``num_workers`` 0 decodes in
    a background thread of this process, more decodes in that many worker processes.
    ``max_attempts`` is how many videos one clip may try before the pipeline gives up.
    """

    data_dir: str
    meta_path: str | None = None
    num_frames: int = 17
    sample_fps: float = 3.0
    height: int = 256
    width: int = 256
    batch_size: int = 2
    seed: int = 0
    num_workers: int = 0
    max_attempts: int = 10

    def __post_init__(self):
        positive = ("num_frames", "sample_fps", "height", "width", "batch_size", "max_attempts")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"DataConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ConfigError(f"DataConfig.num_workers must be 0 or more, got {self.num_workers}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"DataConfig.seed must be in [0, 2**32), got {self.seed}")


class ClipLoader(grain.transforms.RandomMap):
    """Turns a video index into a clip element ``{"video", "path", "skipped"}``.

    ``skipped`` is a JSON list of ``[path, reason]`` for the unreadable videos tried before the
    one that worked. Each attempt draws the same amount from the random stream whether it
    succeeds or not, so which files fail never shifts the choices made for other elements.
    """

    def __init__(self, paths: list[str], config: DataConfig):
        self.paths = tuple(paths)
        self.config = config
        self._probes: dict[str, VideoInfo | str] = {}

    def _probe(self, path: str) -> VideoInfo:
        """``probe_video``, remembered per process with its failure message, so no file is probed twice."""
        if path not in self._probes:
            try:
                self._probes[path] = probe_video(path)
            except InputError as error:
                self._probes[path] = str(error)
        probe = self._probes[path]
        if isinstance(probe, str):
            raise InputError(probe)
        return probe

    def _load_clip(self, path: str, rng: np.random.Generator) -> np.ndarray:
        config = self.config
        info = self._probe(path)
        indices = sample_clip_indices(info.num_frames, info.fps, config.num_frames, config.sample_fps, rng)
        frames = read_frames_at(path, indices)
        return to_model_range(resize_shorter_side_and_center_crop(frames, (config.height, config.width)))

    def random_map(self, element: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        skipped = []
        for attempt in range(self.config.max_attempts):
            replacement, clip_seed = rng.integers(len(self.paths)), rng.integers(2**63)
            path = self.paths[element if attempt == 0 else replacement]
            try:
                video = self._load_clip(path, np.random.default_rng(clip_seed))
            except InputError as error:
                skipped.append([path, str(error)])
                continue
            return {"video": video, "path": np.asarray(path), "skipped": np.asarray(json.dumps(skipped))}
        raise InputError(f"none of the {len(skipped)} videos tried for one clip could be read, the last: {skipped[-1][1]}")


def batched_clips(config: DataConfig, paths: list[str]) -> grain.MapDataset:
    """The endless, indexable dataset of batches: shuffled each epoch, clips loaded, batched (see module doc)."""
    return (
        grain.MapDataset.range(len(paths))
        .seed(config.seed)
        .shuffle()
        .repeat()
        .random_map(ClipLoader(paths, config))
        .batch(config.batch_size, drop_remainder=True)
    )


def _use_flag_defaults_unless_parsed() -> None:
    """grain's worker processes read its absl flags, which raise until parsed: programs that never parse absl flags get the
    defaults."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def _leave_ctrl_c_to_the_main_process(worker_index: int, worker_count: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class VideoBatchIterator:
    """Endless training batches ``{"video": float32 [B, T, H, W, 3] in [-1, 1], "path": list of B str}``.

    ``get_state()`` is a small JSON-serializable dict to save with a checkpoint; ``set_state``
    on a fresh iterator makes it continue with the very batch that would have come next (the
    number of workers may differ). Close it (or use ``with``) to stop the worker processes.
    """

    def __init__(self, config: DataConfig, paths: list[str] | None = None):
        self.config = config
        self.paths = list(paths) if paths is not None else list_training_videos(config.data_dir, config.meta_path)
        self.bad_files = BadFileReport()
        self._dataset = batched_clips(config, self.paths)
        self._next_batch = 0
        self._batches = None

    def _start(self) -> None:
        dataset = self._dataset[self._next_batch :].to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=2))
        if self.config.num_workers > 0:
            _use_flag_defaults_unless_parsed()
            dataset = dataset.mp_prefetch(grain.MultiprocessingOptions(num_workers=self.config.num_workers,
                                                                       per_worker_buffer_size=1),
                                          worker_init_fn=_leave_ctrl_c_to_the_main_process)
        self._batches = iter(dataset)

    def __iter__(self) -> "VideoBatchIterator":
        return self

    def __next__(self) -> dict[str, np.ndarray | list[str]]:
        if self._batches is None:
            self._start()
        batch = next(self._batches)
        self._next_batch += 1
        for skipped in batch["skipped"]:
            for path, reason in json.loads(str(skipped)):
                self.bad_files.record(path, reason)
        # A copy, so that grain's shared memory block is released now rather than whenever this batch is.
        return {"video": np.array(batch["video"]), "path": [str(path) for path in batch["path"]]}

    def get_state(self) -> dict:
        """The position in the stream and the bad-file tally, JSON-serializable."""
        return {"next_batch": self._next_batch, "bad_files": self.bad_files.to_state()}

    def set_state(self, state: dict) -> None:
        """Continue from a ``get_state()`` result, of this iterator or of one with the same config and videos."""
        self.close()
        self._next_batch = int(state["next_batch"])
        self.bad_files = BadFileReport.from_state(state["bad_files"])

    def close(self) -> None:
        if self._batches is not None:
            self._batches.close()
            self._batches = None

    def __enter__(self) -> "VideoBatchIterator":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
