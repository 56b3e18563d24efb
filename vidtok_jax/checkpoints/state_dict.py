"""Convert between official VidTok state dicts and our Flax parameter trees.

Our parameter paths are the official keys: the path `("encoder", "down.0.block.1", "conv1",
"kernel")` is the key `encoder.down.0.block.1.conv1.weight`. Kernels are stored channels-last
(`[*k, Cin, Cout]`) where PyTorch stores `[Cout, Cin, *k]`; norm `scale` is the official `weight`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import safetensors.numpy
from flax.traverse_util import flatten_dict, unflatten_dict

from vidtok_jax.checkpoints.torch_pickle import read_torch_archive
from vidtok_jax.errors import CheckpointError
from vidtok_jax.runtime.atomic_files import atomic_output

MODEL_PREFIXES = ("encoder.", "decoder.")
_LEAF_TO_TORCH = {"kernel": "weight", "scale": "weight"}


def torch_key(path: tuple[str, ...]) -> str:
    return ".".join(path[:-1] + (_LEAF_TO_TORCH.get(path[-1], path[-1]),))


def to_torch_layout(path: tuple[str, ...], array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if path[-1] == "kernel":
        n = array.ndim
        return np.ascontiguousarray(np.transpose(array, (n - 1, n - 2) + tuple(range(n - 2))))
    return array


def torch_layout_shape(path: tuple[str, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The PyTorch-layout shape of a parameter of ``shape`` (what ``to_torch_layout`` would give, computed without an array)."""
    if path[-1] == "kernel":
        return (shape[-1], shape[-2], *shape[:-2])
    return tuple(shape)


def from_torch_layout(path: tuple[str, ...], array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if path[-1] == "kernel":
        n = array.ndim
        return np.ascontiguousarray(np.transpose(array, tuple(range(2, n)) + (1, 0)))
    return array


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read the flat state dict of an official `.ckpt`/`.pth` archive or a `.safetensors` file."""
    path = Path(path)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise CheckpointError(f"checkpoint not found: {path}")
        try:
            return dict(safetensors.numpy.load_file(str(path)))
        except Exception as err:  # safetensors raises its own untyped errors on corrupt files
            raise CheckpointError(f"{path} is not a readable .safetensors file ({err}); "
                                  "it may be truncated: download it again") from err
    obj = read_torch_archive(path)
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return dict(obj)


def params_from_state_dict(template: Mapping, state_dict: Mapping[str, np.ndarray],
                           source: str = "checkpoint") -> tuple[dict, dict[str, np.ndarray]]:
    """Fill a parameter tree shaped like `template` from an official state dict.

    Returns `(params, extras)`: extras are the state-dict entries outside the encoder and decoder
    (`loss.*` discriminator and logvar, EMA buffers), kept for fine-tuning. Raises
    `CheckpointError` listing every missing, unexpected and shape-mismatched key.
    """
    wanted = flatten_dict(template)
    by_key = {torch_key(path): path for path in wanted}
    model_keys = {k for k in state_dict if k.startswith(MODEL_PREFIXES)}
    missing = sorted(set(by_key) - model_keys)
    unexpected = sorted(model_keys - set(by_key))
    mismatched, flat = [], {}
    for key, path in by_key.items():
        if key not in state_dict:
            continue
        expected = tuple(wanted[path].shape)
        if tuple(state_dict[key].shape) != torch_layout_shape(path, expected):
            mismatched.append(f"{key}: checkpoint {tuple(state_dict[key].shape)}, model expects "
                              f"{torch_layout_shape(path, expected)}")
            continue
        array = state_dict[key]
        if not np.issubdtype(array.dtype, np.floating):
            raise CheckpointError(f"{source}: {key} holds {array.dtype} values; weights must be floating point")
        if not np.all(np.isfinite(array)):
            raise CheckpointError(f"{source}: {key} holds NaN or infinite weights (a diverged or corrupt checkpoint)")
        flat[path] = from_torch_layout(path, array).astype(np.float32)
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched)):
            if items:
                shown = "; ".join(items[:12]) + (f"; ... ({len(items) - 12} more)" if len(items) > 12 else "")
                parts.append(f"{len(items)} {label}: {shown}")
        raise CheckpointError(f"{source} does not fit this model config (wrong config for this "
                              f"checkpoint?): " + " | ".join(parts))
    extras = {k: v for k, v in state_dict.items() if not k.startswith(MODEL_PREFIXES)}
    return unflatten_dict(flat), extras


def state_dict_from_params(params: Mapping, extras: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The official state dict (PyTorch layouts and key names) of a parameter tree."""
    out = {torch_key(path): to_torch_layout(path, np.asarray(v, np.float32))
           for path, v in flatten_dict(params).items()}
    out.update(extras or {})
    return out


def save_safetensors(path: str | Path, state_dict: Mapping[str, np.ndarray],
                     metadata: Mapping[str, str] | None = None) -> None:
    """Write a `.safetensors` file (with optional string `metadata`) atomically: a temp file in the
    same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in state_dict.items()}
    with atomic_output(path) as file:
        file.write(safetensors.numpy.save(arrays, metadata=dict(metadata) if metadata else None))
