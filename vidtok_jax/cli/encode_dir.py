"""``vidtok-jax encode-dir``: many videos to sharded token files that a generative-model trainer can read.

Layout of the output folder:

- ``shard-00000.npz``, ``shard-00001.npz``, ...: up to ``shard_size`` videos each, one array per
  video keyed ``"0"``, ``"1"``, ... (token ids ``[t, h, w]`` or latents ``[t, h, w, C]``, as
  ``vidtok-jax encode`` stores them) and ``metadata``, a JSON string mapping each key to its source
  video and that video's metadata.
- ``index.json``: the settings (model, checkpoint, preprocessing), every finished video
  (source → shard, key, fps, frame count, sizes, padding), the shards, and the videos that failed
  with a one-line reason.

Every file is written atomically and the index is rewritten after each shard and each failure,
so an interrupted run leaves only complete files. Running again skips the videos that are in a
shard, retries the failed ones, and refuses to mix in tokens made with other settings.
"""

import glob
import json
import os
import sys
from dataclasses import asdict

import numpy as np
from tqdm import tqdm

from vidtok_jax.cli.frames import Preprocessing, open_video
from vidtok_jax.cli.model import ModelOptions, encode_video
from vidtok_jax.cli.tokens import video_metadata
from vidtok_jax.data.latent_shards import INDEX_FORMAT, INDEX_NAME
from vidtok_jax.data.sources import list_videos_from_meta, list_videos_in_folder
from vidtok_jax.errors import InputError, VidTokError
from vidtok_jax.runtime.atomic_files import save_json, save_npz
from vidtok_jax.vidtok.tokenizer import Tokenizer

INDEX_VERSION = 1


def source_folder(source: str, data_dir: str | None) -> str:
    """The folder the videos of ``source`` are read from: the folder itself, or a CSV's ``data_dir`` (default: its folder)."""
    if os.path.isdir(source):
        return source
    return data_dir if data_dir is not None else os.path.dirname(source) or "."


def list_sources(source: str, data_dir: str | None) -> list[tuple[str, str]]:
    """(name, path) of every video to encode: the name is the path relative to the folder, or as the CSV lists it.

    ``source`` is a folder (searched recursively for video files) or a CSV file with a ``videos``
    column of paths relative to ``data_dir`` (default: the CSV's folder).
    """
    if os.path.isdir(source):
        base, paths = source, list_videos_in_folder(source)
    elif os.path.isfile(source):
        base = source_folder(source, data_dir)
        paths = list_videos_from_meta(source, base)
    else:
        raise InputError(f"{source}: no such folder or CSV file")
    if not paths:
        raise InputError(f"{source}: no videos found")
    return [(os.path.relpath(path, base), path) for path in paths]


class ShardIndex:
    """The output folder's ``index.json`` and the shards it lists."""

    def __init__(self, folder: str, settings: dict, package_version: str):
        self.folder = folder
        self.path = os.path.join(folder, INDEX_NAME)
        self.document = self._read(settings) if os.path.exists(self.path) else {
            "format": INDEX_FORMAT, "format_version": INDEX_VERSION, "settings": settings,
            "shards": {}, "videos": {}, "failures": {}}
        self.document["package_version"] = package_version
        self._forget_missing_shards()

    def _read(self, settings: dict) -> dict:
        try:
            with open(self.path, encoding="utf-8") as file:
                document = json.load(file)
        except (OSError, ValueError) as error:
            raise InputError(f"{self.path}: unreadable index ({error}); remove the folder or use another one") from None
        if not isinstance(document, dict) or document.get("format") != INDEX_FORMAT:
            raise InputError(f"{self.path}: not an index written by 'vidtok-jax encode-dir'")
        stored = document.get("settings", {})
        changed = sorted(key for key in set(stored) | set(settings) if stored.get(key) != settings.get(key))
        if changed:
            raise InputError(f"{self.folder}: holds tokens made with other settings (differing: {', '.join(changed)}); "
                             "use the same options or another output folder")
        return document

    def _forget_missing_shards(self) -> None:
        """Videos whose shard file was deleted are encoded again."""
        for shard in [name for name in self.document["shards"] if not os.path.isfile(os.path.join(self.folder, name))]:
            for name in self.document["shards"].pop(shard):
                self.document["videos"].pop(name, None)

    def is_done(self, name: str) -> bool:
        return name in self.document["videos"]

    def record_failure(self, name: str, reason: str) -> None:
        self.document["failures"][name] = reason
        save_json(self.path, self.document)

    def write_shard(self, entries: list[tuple[str, np.ndarray, dict]]) -> str:
        """Write one shard of (source name, tokens, video metadata) entries, then the index; returns the shard's file name."""
        numbers = [int(name[len("shard-"):-len(".npz")]) for name in self.document["shards"]]
        shard = f"shard-{max(numbers, default=-1) + 1:05d}.npz"
        contents = {str(key): {"source": name, **metadata} for key, (name, _, metadata) in enumerate(entries)}
        arrays = {str(key): tokens for key, (_, tokens, _) in enumerate(entries)}
        save_npz(os.path.join(self.folder, shard), {**arrays, "metadata": np.array(json.dumps(contents))})
        self.document["shards"][shard] = [name for name, _, _ in entries]
        for key, (name, _, metadata) in enumerate(entries):
            self.document["videos"][name] = {"shard": shard, "key": str(key), **metadata}
            self.document["failures"].pop(name, None)
        save_json(self.path, self.document)
        return shard


def _remove_partial_files(folder: str) -> None:
    """Temporary files of a run that was killed before it could clean up."""
    for path in glob.glob(os.path.join(glob.escape(folder), ".*.partial")):
        os.remove(path)


def failure_reason(error: Exception, path: str) -> str:
    """The error's one-line message without the leading path, which the summary prints anyway."""
    message = str(error) if isinstance(error, VidTokError) else f"{type(error).__name__}: {error}"
    return message.removeprefix(f"{path}: ")


def encode_dir(source: str, destination: str, *, data_dir: str | None, shard_size: int, tokenizer: Tokenizer,
               model: ModelOptions, model_metadata: dict, preprocessing: Preprocessing) -> int:
    """Encode every video of ``source`` into shards under ``destination``; returns the exit status (1 if any failed)."""
    sources = list_sources(source, data_dir)
    os.makedirs(destination, exist_ok=True)
    _remove_partial_files(destination)
    settings = {key: value for key, value in model_metadata.items() if key not in ("config", "package_version")}
    settings["preprocessing"] = asdict(preprocessing)
    index = ShardIndex(destination, settings, model_metadata["package_version"])
    pending = [(name, path) for name, path in sources if not index.is_done(name)]
    failures, shards, entries = {}, [], []
    for name, path in tqdm(pending, desc="encode-dir", unit="video", file=sys.stderr, disable=None):
        try:
            video = open_video(path, preprocessing, tokenizer.config.spatial_factor)
            tokens, num_frames = encode_video(tokenizer, video, model)
        except (VidTokError, OSError) as error:
            failures[name] = failure_reason(error, path)
            index.record_failure(name, failures[name])
            continue
        entries.append((name, tokens, video_metadata(video, num_frames)))
        if len(entries) == shard_size:
            shards.append(index.write_shard(entries))
            entries = []
    if entries:
        shards.append(index.write_shard(entries))
    done = len(pending) - len(failures)
    print(f"encoded {done} video(s) into {len(shards)} new shard(s) in {destination}; "
          f"{len(sources) - len(pending)} already done")
    return report_failures(failures, len(pending), f" (listed in {index.path})")


def report_failures(failures: dict[str, str], total: int, where: str = "") -> int:
    """Print the failed videos on stderr; the exit status: 1 if any failed, else 0."""
    if not failures:
        return 0
    print(f"vidtok-jax: error: {len(failures)} of {total} video(s) failed{where}:", file=sys.stderr)
    for name, reason in failures.items():
        print(f"  {name}: {reason}", file=sys.stderr)
    return 1
