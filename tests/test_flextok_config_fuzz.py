"""Every key of a small official-format VideoFlexTok config, mutated (wrong types, signs, zero, huge, code-like
strings): reading it gives a config or a one-line `vt.ConfigError`, never another exception, and never builds
anything large (sizes are checked and budgeted from the config alone)."""

from __future__ import annotations

import copy
import json
import math
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import vidtok_jax as vt
from vidtok_jax.flextok.config import flextok_config_from_dict
from vidtok_jax.flextok.presets import flextok_hydra_config
from tests.helpers import SMALL, small

MUTATIONS = ["abc", -1, 0, 1, 2.7, 10 ** 12, 1e12, math.nan, math.inf, None, True, [64], {"_target_": "os.system"},
             "${encoder.dim}"]


def leaf_paths(tree, prefix=()):
    """Paths to every leaf (and every list) of a nested dict/list config."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(tree, list):
        yield prefix
        for index, value in enumerate(tree):
            yield from leaf_paths(value, (*prefix, index))
    else:
        yield prefix


def mutated(config: dict, path: tuple, value) -> dict:
    changed = copy.deepcopy(config)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def test_every_mutated_key_reads_or_is_a_config_error():
    config = flextok_hydra_config(**SMALL, register_posemb=True)
    flextok_config_from_dict(config)
    paths = list(leaf_paths(config))
    assert len(paths) > 100
    tracemalloc.start()
    outcomes = {"read": 0, "refused": 0}
    for path in paths:
        for value in MUTATIONS:
            try:
                flextok_config_from_dict(mutated(config, path, value))
                outcomes["read"] += 1
            except vt.ConfigError as error:
                assert "\n" not in str(error), (path, value, str(error))
                outcomes["refused"] += 1
            except Exception as error:  # noqa: BLE001  the point of the test
                pytest.fail(f"{'.'.join(map(str, path))} = {value!r}: {type(error).__name__}: {error}")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * 2 ** 20, f"reading the configs took {peak / 2 ** 20:.0f} MiB"
    assert outcomes["refused"] > 1000 and outcomes["read"] > 0  # names and flags may change; sizes may not


@pytest.mark.parametrize("key, value", [
    (("encoder", "module_dict", "enc_register_module", "n_max"), 40000 * 10 ** 5),
    (("encoder", "module_dict", "enc_transformer", "mlp_ratio"), 1e6),
    (("encoder", "module_dict", "enc_transformer", "depth"), 10000),
    (("decoder", "module_dict", "dec_transformer", "dim"), 100000),
])
def test_sizes_far_beyond_any_release_are_refused_before_anything_is_built(key, value):
    config = flextok_hydra_config(**SMALL)
    node = config
    for part in key[:-1]:
        node = node[part]
    assert key[-1] in node, key
    with pytest.raises(vt.ConfigError):
        flextok_config_from_dict(mutated(config, key, value))


def _hub_folder(tmp_path):
    folder = tmp_path / "flex"
    flex = small()
    flex.latent_size = (8, 8)
    vt.export_videoflextok(flex, folder)
    return folder


@pytest.mark.parametrize("key, value, message", [
    ("chunk_size", 0, r"chunk_size must be a whole number in \[2, 4096\]"),
    ("chunk_size", "17", "chunk_size must be a whole number"),
    ("overlap_size_frames", 17, r"overlap_size_frames must be a whole number in \[0, 16\]"),
    ("vae_video_sizes", [5, -8, 8], r"vae_video_sizes\[1\] must be a whole number"),
    ("sampler_steps", 0, r"sampler_steps must be a whole number in \[1, 1000\]"),
    ("sampler_steps", 2.5, "sampler_steps must be a whole number"),
])
def test_hub_chunk_settings_are_checked_when_the_folder_is_read(tmp_path, key, value, message):
    folder = _hub_folder(tmp_path)
    doc = json.loads((folder / "config.json").read_text())
    doc[key] = value
    (folder / "config.json").write_text(json.dumps(doc))
    with pytest.raises(vt.ConfigError, match=message):
        vt.load_videoflextok(folder)


@pytest.mark.parametrize("change, message", [
    (lambda array: array.astype(np.int32), "weights must be floating point"),
    (lambda array: np.where(np.arange(array.size).reshape(array.shape) == 0, np.nan, array).astype(array.dtype),
     "NaN or infinite"),
])
def test_weights_that_are_not_finite_floats_are_refused(tmp_path, change, message):
    folder = _hub_folder(tmp_path)
    tensors = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    first = sorted(tensors)[0]
    tensors[first] = change(tensors[first])
    safetensors.numpy.save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(vt.CheckpointError, match=message):
        vt.load_videoflextok(folder)


@pytest.mark.parametrize("form", ["metadata", "config.json"])
def test_a_config_nested_past_the_parsers_stack_is_a_checkpoint_error(tmp_path, form):
    folder = _hub_folder(tmp_path)
    weights = folder / "model.safetensors"
    if form == "metadata":
        tensors = safetensors.numpy.load_file(str(weights))
        weights = tmp_path / "nested.safetensors"
        safetensors.numpy.save_file(tensors, str(weights), metadata={"_target_": "x", "encoder": "[" * 100000})
    else:
        (folder / "config.json").write_text("[" * 100000)
    with pytest.raises(vt.CheckpointError, match="not"):
        vt.load_videoflextok(weights)
