"""Read and write official VideoFlexTok checkpoints without PyTorch.

Two official layouts are read:
- a `.safetensors` file written by the official `save_safetensors`: each top-level config key is
  a metadata entry holding `str(value)`, which the official loader parses with YAML `safe_load`
  after replacing `None` by `null` (so do we: data only, never executed);
- a Hub folder (`config.json` beside `model.safetensors`), where `config.json` holds the model
  config under `video_flex_tok` with the chunking settings, and the tensors are prefixed
  `video_tokenizer.`.
The VidTok stage's tensors (`vae.vidtok.*`) go to our own VidTok model; everything else must be
exactly the encoder and decoder tensors the config implies, or the error lists what differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import safetensors
import yaml

from vidtok_jax.checkpoints.state_dict import params_from_state_dict, save_safetensors, state_dict_from_params
from vidtok_jax.errors import CheckpointError, ConfigError
from vidtok_jax.runtime.atomic_files import atomic_output
from vidtok_jax.runtime.checked_values import whole_number
from vidtok_jax.vidtok.config import load_model_config

VAE_PREFIX = "vae.vidtok."
HUB_PREFIX = "video_tokenizer."
HUB_KEYS = ("chunk_size", "overlap_size_frames", "vae_video_sizes", "video_preprocess_args", "sampler_steps")
OFFICIAL_SAMPLER_STEPS = 30  # detokenize's default; ``sampler_steps`` (this port's Hub key) changes it for one model
HUB_CONFIG, HUB_WEIGHTS = "config.json", "model.safetensors"
CHUNK_FRAMES, OVERLAP_FRAMES = 17, 1  # the official chunk wrapper's defaults
FLEXTOK_DOCUMENT = "videoflextok"  # the config document of a VideoFlexTok training run holds its official config here
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "assets" / "videoflextok"


def bundled_videoflextok_folder() -> Path:
    """The bundled VideoFlexTok's Hub folder (``config.json`` and ``model.safetensors``), over the bundled VidTok."""
    missing = [str(BUNDLED_DIR / name) for name in (HUB_CONFIG, HUB_WEIGHTS) if not (BUNDLED_DIR / name).is_file()]
    if missing:
        raise CheckpointError(f"the bundled VideoFlexTok is incomplete, missing {', '.join(missing)}: reinstall "
                              "vidtok-jax, or give a VideoFlexTok file")
    return BUNDLED_DIR


def _parse_metadata(metadata: Mapping[str, str]) -> dict:
    doc = {}
    for key, text in metadata.items():
        try:
            doc[key] = yaml.safe_load(text.replace("None", "null"))
        except (yaml.YAMLError, RecursionError) as err:  # RecursionError: nesting deeper than the parser's stack
            raise CheckpointError(f"metadata entry {key!r} is not a readable config value: {err}") from err
    return doc


def read_flextok_file(path: str | Path) -> tuple[dict, dict[str, np.ndarray], dict]:
    """`(config, tensors, hub_settings)` of an official VideoFlexTok file (see module docstring)."""
    path = Path(path)
    if path.is_dir():  # a Hub folder
        path = path / HUB_WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"VideoFlexTok checkpoint not found: {path}")
    try:
        with safetensors.safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # safetensors raises its own untyped errors on corrupt files
        raise CheckpointError(f"{path} is not a readable .safetensors file ({err}); it may be truncated: "
                              "download it again") from err
    hub: dict = {}
    if "_target_" in metadata:
        doc = _parse_metadata(metadata)
    elif (path.parent / HUB_CONFIG).is_file():
        try:
            doc = json.loads((path.parent / HUB_CONFIG).read_text())
        except (json.JSONDecodeError, RecursionError) as err:
            raise CheckpointError(f"{path.parent / HUB_CONFIG} is not valid JSON: {err}") from err
        if isinstance(doc, Mapping) and "video_flex_tok" in doc:
            hub = _checked_hub_settings({key: doc[key] for key in HUB_KEYS if key in doc}, str(path.parent / HUB_CONFIG))
            doc = doc["video_flex_tok"]
    else:
        raise CheckpointError(f"{path} holds no VideoFlexTok config: neither a `_target_` in its safetensors "
                              "metadata nor a config.json beside it (is it a VideoFlexTok file?)")
    if tensors and all(key.startswith(HUB_PREFIX) for key in tensors):
        tensors = {key[len(HUB_PREFIX):]: value for key, value in tensors.items()}
    return doc, tensors, hub


def _checked_hub_settings(hub: dict, where: str) -> dict:
    """The settings of a Hub ``config.json``: a chunk of 2..4096 frames, an overlap shorter than it,
    ``vae_video_sizes`` of three whole numbers (latent frames, height, width) and 1..1000 ``sampler_steps``."""
    whole_number(hub.get("sampler_steps", OFFICIAL_SAMPLER_STEPS), f"{where}.sampler_steps", 1, 1000)
    chunk = whole_number(hub.get("chunk_size", CHUNK_FRAMES), f"{where}.chunk_size", 2, 4096)
    whole_number(hub.get("overlap_size_frames", OVERLAP_FRAMES), f"{where}.overlap_size_frames", 0, chunk - 1)
    sizes = hub.get("vae_video_sizes")
    if sizes is not None and (not isinstance(sizes, list) or len(sizes) != 3):
        raise ConfigError(f"{where}.vae_video_sizes must be [latent frames, height, width], got {sizes!r}")
    for index, size in enumerate(sizes or []):
        whole_number(size, f"{where}.vae_video_sizes[{index}]")
    return hub


def split_state(tensors: Mapping[str, np.ndarray], template: Mapping, source: str) -> tuple[dict, dict[str, np.ndarray]]:
    """`(flextok_params, vidtok_state_dict)`: our parameters from the encoder/decoder tensors, and the
    VidTok stage's tensors with their `vae.vidtok.` prefix removed (empty if the file has none)."""
    params, extras = params_from_state_dict(template, tensors, source=source)
    vidtok = {key[len(VAE_PREFIX):]: value for key, value in extras.items() if key.startswith(VAE_PREFIX)}
    unexpected = sorted(key for key in extras if not key.startswith(VAE_PREFIX))
    if unexpected:
        shown = "; ".join(unexpected[:12]) + (f"; ... ({len(unexpected) - 12} more)" if len(unexpected) > 12 else "")
        raise CheckpointError(f"{source}: {len(unexpected)} unexpected tensors outside encoder, decoder and "
                              f"vae.vidtok: {shown}")
    return params, vidtok


def config_metadata(config: Mapping[str, Any]) -> dict[str, str]:
    """The official metadata of a config: one `str(value)` entry per top-level key."""
    metadata = {key: str(value) for key, value in config.items()}
    try:
        if _parse_metadata(metadata) != dict(config):
            raise ConfigError("this config does not survive the official metadata round trip")
    except CheckpointError as err:
        raise ConfigError(f"this config cannot be written as official metadata: {err}") from err
    return metadata


def _state(params: Mapping, vidtok_state: Mapping[str, np.ndarray] | None, dtype, prefix: str = "") -> dict:
    state = state_dict_from_params(params)
    state.update({VAE_PREFIX + key: value for key, value in (vidtok_state or {}).items()})
    return {prefix + key: np.asarray(value).astype(dtype) for key, value in state.items()}


def write_flextok_file(path: str | Path, config: Mapping[str, Any], params: Mapping,
                       vidtok_state: Mapping[str, np.ndarray] | None = None, dtype=np.float32) -> None:
    """Write an official-format `.safetensors` file (config in the metadata) with tensors of `dtype`, atomically."""
    save_safetensors(path, _state(params, vidtok_state, dtype), metadata=config_metadata(config))


def write_flextok_hub_folder(folder: str | Path, config: Mapping[str, Any], params: Mapping, hub: Mapping[str, Any],
                             vidtok_state: Mapping[str, np.ndarray] | None = None, dtype=np.float32) -> Path:
    """Write the official Hub layout into `folder` (returned: its `model.safetensors`): `config.json` holds the
    config under `video_flex_tok` beside the chunking settings `hub` (`HUB_KEYS`), the tensors are prefixed
    `video_tokenizer.`. Each file is written atomically, the tensors first."""
    unknown = sorted(set(hub) - set(HUB_KEYS))
    if unknown:
        raise ConfigError(f"unknown Hub setting(s) {', '.join(unknown)} (known: {', '.join(HUB_KEYS)})")
    folder = Path(folder)
    weights = folder / HUB_WEIGHTS
    save_safetensors(weights, _state(params, vidtok_state, dtype, HUB_PREFIX))
    with atomic_output(folder / HUB_CONFIG) as file:  # keys in order: module_dict order is the module order
        file.write(json.dumps({"video_flex_tok": dict(config), **hub}, indent=1).encode("utf-8"))
    return weights


def _run_hub_settings(document: dict, sampler_steps: int | None) -> dict:
    """The Hub settings of a VideoFlexTok run: the official chunking, the latent size of its training clips and, if
    given, the sampler steps that ``detokenize`` takes by default."""
    vidtok = load_model_config(document["vidtok"]["config"])
    data = document["train"]["data"]
    sizes = [vidtok.latent_frames(CHUNK_FRAMES), data["height"] // vidtok.spatial_factor,
             data["width"] // vidtok.spatial_factor]
    hub = {"chunk_size": CHUNK_FRAMES, "overlap_size_frames": OVERLAP_FRAMES, "vae_video_sizes": sizes}
    return hub if sampler_steps is None else {**hub, "sampler_steps": sampler_steps}


def export_flextok_run(state: dict, document: dict, out: str | Path, use_ema: bool = False, dtype=np.float32,
                       sampler_steps: int | None = None) -> Path:
    """Write a VideoFlexTok training run's checkpoint (``state``, ``document``) as an official VideoFlexTok file
    (its config in the metadata; the frozen VidTok stage is not included), returned; an ``out`` that does not end
    in ``.safetensors`` becomes a Hub folder whose ``config.json`` also says the chunking, the training clips'
    latent size and, if given, ``sampler_steps`` (``model.safetensors`` in it is returned)."""
    params = state["ema"] if use_ema and state.get("ema") else state["params"]
    params = {part: params[part] for part in ("encoder", "decoder")}  # a training-only read-out stays behind
    if str(out).endswith(".safetensors"):
        write_flextok_file(out, document[FLEXTOK_DOCUMENT], params, dtype=dtype)
        return Path(out)
    return write_flextok_hub_folder(out, document[FLEXTOK_DOCUMENT], params, _run_hub_settings(document, sampler_steps),
                                    dtype=dtype)
