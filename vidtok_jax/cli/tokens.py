"""Token files: latents (KL) or token ids (FSQ) of one video in an ``.npz``, with JSON metadata.

A file holds ``latents`` float32 ``[t, h, w, C]`` or ``tokens`` int32 ``[t, h, w]``, and ``metadata``,
a JSON string (no pickles: ``np.load(path)["metadata"].item()``) describing the model that made
them and how the video was prepared, which is what decoding needs to give the video back.
"""

import json
import os
import zipfile

import jax.numpy as jnp
import numpy as np

from vidtok_jax.cli.frames import VideoSource
from vidtok_jax.cli.model import ModelOptions
from vidtok_jax.errors import InputError
from vidtok_jax.runtime.atomic_files import save_npz
from vidtok_jax.vidtok.config import ModelConfig

TOKEN_FILE_FORMAT = "vidtok-jax tokens"
TOKEN_FILE_VERSION = 1
_REQUIRED_METADATA = ("config_name", "config", "model", "checkpoint", "seed", "video")
_REQUIRED_VIDEO_METADATA = ("fps", "num_frames", "padding")


def array_key(config: ModelConfig) -> str:
    """Name of the array in a token file: ``tokens`` for FSQ ids, ``latents`` for KL latents."""
    return "tokens" if config.is_fsq else "latents"


def model_signature(config: ModelConfig) -> dict:
    """What a model's latents depend on; token files are only decoded by a model with the same signature."""
    return {
        "version": config.version, "causal": config.causal, "regularizer": config.regularizer.kind,
        "temporal_factor": config.temporal_factor, "spatial_factor": config.spatial_factor,
        "latent_channels": config.latent_channels,
        "codebook_size": config.regularizer.codebook_size if config.is_fsq else None,
    }


def model_metadata(config: ModelConfig, options: ModelOptions, package_version: str) -> dict:
    """The model part of a token file's metadata: config, checkpoint file name, dtype, package version."""
    return {
        "config_name": config.name, "config": options.config, "model": model_signature(config),
        "checkpoint": None if options.checkpoint is None else os.path.basename(options.checkpoint),
        "seed": options.seed if options.checkpoint is None else None,
        "dtype": options.dtype, "package_version": package_version,
    }


def video_metadata(video: VideoSource, num_frames: int) -> dict:
    """The video part of a token file's metadata: what decoding needs to give the same frames back."""
    return {
        "fps": video.fps, "num_frames": num_frames, "source_size": list(video.source_size),
        "processed_size": list(video.processed_size), "resize_crop": video.preprocessing.size,
        "padding": {"bottom": video.padding.bottom, "right": video.padding.right},
    }


def save_token_file(path: str | os.PathLike, config: ModelConfig, tokens: np.ndarray, metadata: dict) -> None:
    """Write a token file atomically."""
    document = {"format": TOKEN_FILE_FORMAT, "format_version": TOKEN_FILE_VERSION, **metadata}
    save_npz(path, {array_key(config): tokens, "metadata": np.array(json.dumps(document))})


def load_token_file(path: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """The array and metadata of a token file; anything else gives an InputError naming the file."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise InputError(f"{name}: no such file")
    try:
        with np.load(name, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        reason = "it holds pickled Python objects, which are never loaded" if "pickle" in str(error) else error
        raise InputError(f"{name}: not a token file written by 'vidtok-jax encode' ({reason})") from None
    try:
        metadata = json.loads(arrays["metadata"].item())
        tokens = arrays[next(key for key in ("tokens", "latents") if key in arrays)]
    except (KeyError, StopIteration, ValueError, AttributeError, RecursionError):
        raise InputError(f"{name}: not a token file written by 'vidtok-jax encode' (missing arrays or metadata)") from None
    if not isinstance(metadata, dict) or metadata.get("format") != TOKEN_FILE_FORMAT:
        raise InputError(f"{name}: not a token file written by 'vidtok-jax encode' (unknown format)")
    missing = [key for key in _REQUIRED_METADATA if key not in metadata]
    missing += [f"video.{key}" for key in _REQUIRED_VIDEO_METADATA if key not in metadata.get("video", {})]
    if missing:
        raise InputError(f"{name}: the token file's metadata lacks {', '.join(missing)}")
    return tokens, metadata


def check_token_file_matches(name: str, tokens: np.ndarray, metadata: dict, config: ModelConfig) -> None:
    """Refuse tokens made by another model: the config name, the model signature and the array must fit ``config``."""
    made_by = metadata.get("config_name")
    if made_by != config.name:
        raise InputError(f"{name}: made with config '{made_by}', not '{config.name}': "
                         f"decode with --config {metadata.get('config')}")
    expected, found = model_signature(config), metadata.get("model", {})
    differences = [f"{key} {found.get(key)}, not {value}" for key, value in expected.items() if found.get(key) != value]
    if differences:
        raise InputError(f"{name}: made by a different model than {config.name}: {'; '.join(differences)}")
    if array_key(config) == "tokens" and not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise InputError(f"{name}: holds {tokens.dtype} values, but {config.name} decodes integer token ids")
    rank = 3 if config.is_fsq else 4
    if tokens.ndim != rank or (not config.is_fsq and tokens.shape[-1] != config.latent_channels):
        shape = "[t, h, w]" if config.is_fsq else f"[t, h, w, {config.latent_channels}]"
        raise InputError(f"{name}: holds an array of shape {list(tokens.shape)}, but {config.name} decodes {shape}")
