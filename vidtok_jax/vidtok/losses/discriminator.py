"""PatchGAN discriminators of VidTok's loss: 2D (applied to every frame) and 3D, with BatchNorm.

The layer stack is the official ``NLayerDiscriminator`` / ``NLayerDiscriminator3D``: a strided
conv with bias and LeakyReLU(0.2), then ``num_layers - 1`` strided convs without bias, each with
BatchNorm and LeakyReLU, one more stride-1 conv + BatchNorm + LeakyReLU, and a 1-channel output
conv. 2D kernels are 4x4 (padding 1); 3D kernels are 3x3x3 (padding 1) and only the first inner
conv also strides time. Layers are named by their index in the official ``main`` Sequential
(``main.0``, ``main.2``, ``main.3``, ...), so ``loss.discriminator.<path>`` is the official
state-dict key. Initialisation is the official ``weights_init``: conv kernels N(0, 0.02), BatchNorm
scale N(1, 0.02) and bias 0; conv biases keep PyTorch's default uniform init.

BatchNorm always normalises with the statistics of the batch it is given (the official
discriminator is only ever used in training mode); the running averages live in the
``batch_stats`` collection, updated with PyTorch's momentum 0.1 (Flax keeps the biased variance
where PyTorch keeps the unbiased one), and matter only for export.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.checkpoints.state_dict import from_torch_layout, to_torch_layout
from vidtok_jax.errors import CheckpointError

LEAKY_SLOPE = 0.2
TORCH_BATCHNORM_MOMENTUM = 0.1
BATCHNORM_EPS = 1e-5


def _torch_default_bias(fan_in: int):
    bound = fan_in ** -0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _batchnorm_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def layer_plan(num_layers: int, three_d: bool) -> list[dict]:
    """The conv layers of the official stack: index in ``main``, channel multiplier (None for the
    1-channel output), stride, whether it has a bias, whether BatchNorm follows."""
    dims = 3 if three_d else 2
    plan = [{"index": 0, "mult": 1, "stride": (2,) * dims, "bias": True, "norm": False}]
    index = 2
    for n in range(1, num_layers):
        stride = ((2 if n == 1 else 1), 2, 2) if three_d else (2, 2)
        plan.append({"index": index, "mult": min(2 ** n, 8), "stride": stride, "bias": False, "norm": True})
        index += 3
    plan.append({"index": index, "mult": min(2 ** num_layers, 8), "stride": (1,) * dims, "bias": False, "norm": True})
    plan.append({"index": index + 3, "mult": None, "stride": (1,) * dims, "bias": True, "norm": False})
    return plan


class PatchDiscriminator(nn.Module):
    """Patch logits of images ``[N, H, W, C]`` (2D) or videos ``[B, T, H, W, C]`` (3D).

    Apply with ``mutable=["batch_stats"]`` to get the updated running statistics.
    """

    channels: int = 64
    num_layers: int = 3
    three_d: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        dims = 3 if self.three_d else 2
        kernel = (3,) * 3 if self.three_d else (4,) * 2
        h = x.astype(self.dtype)
        for layer in layer_plan(self.num_layers, self.three_d):
            features = 1 if layer["mult"] is None else self.channels * layer["mult"]
            fan_in = h.shape[-1] * int(np.prod(kernel))
            h = nn.Conv(features, kernel, strides=layer["stride"], padding=((1, 1),) * dims,
                        use_bias=layer["bias"], dtype=self.dtype,
                        kernel_init=nn.initializers.normal(0.02), bias_init=_torch_default_bias(fan_in),
                        name=f"main.{layer['index']}")(h)
            if layer["norm"]:
                h = nn.BatchNorm(use_running_average=False, momentum=1.0 - TORCH_BATCHNORM_MOMENTUM,
                                 epsilon=BATCHNORM_EPS, dtype=self.dtype, scale_init=_batchnorm_scale_init,
                                 name=f"main.{layer['index'] + 1}")(h)
            if layer["mult"] is not None:
                h = nn.leaky_relu(h, LEAKY_SLOPE)
        return h.astype(jnp.float32)


_PARAM_TO_TORCH = {"kernel": "weight", "scale": "weight", "bias": "bias"}
_STAT_TO_TORCH = {"mean": "running_mean", "var": "running_var"}
STATE_DICT_PREFIX = "loss.discriminator."


def _entries(params: dict, batch_stats: dict):
    """``(official key, collection, layer, leaf name)`` of every discriminator variable."""
    for layer, leaves in params.items():
        for name in leaves:
            yield f"{STATE_DICT_PREFIX}{layer}.{_PARAM_TO_TORCH[name]}", "params", layer, name
    for layer, leaves in batch_stats.items():
        for name in leaves:
            yield f"{STATE_DICT_PREFIX}{layer}.{_STAT_TO_TORCH[name]}", "batch_stats", layer, name


def discriminator_state_dict(params: dict, batch_stats: dict) -> dict[str, np.ndarray]:
    """Official ``loss.discriminator.*`` entries (PyTorch layouts) of a discriminator's variables.

    ``num_batches_tracked`` is written as 0: PyTorch only reads it when BatchNorm has no momentum.
    """
    trees = {"params": params, "batch_stats": batch_stats}
    out = {}
    for key, collection, layer, name in _entries(params, batch_stats):
        value = np.asarray(trees[collection][layer][name], np.float32)
        out[key] = to_torch_layout((layer, name), value)
    for layer in batch_stats:
        out[f"{STATE_DICT_PREFIX}{layer}.num_batches_tracked"] = np.asarray(0, np.int64)
    return out


def discriminator_from_state_dict(params: dict, batch_stats: dict, state_dict: dict[str, np.ndarray],
                                  source: str) -> tuple[dict, dict]:
    """Discriminator variables shaped like ``params``/``batch_stats`` (arrays or shapes), read from
    official ``loss.discriminator.*`` keys. Raises ``CheckpointError`` when the checkpoint's
    discriminator has another architecture."""
    hint = "set loss.disc_type / loss.disc_channels / loss.disc_num_layers to match the checkpoint"
    trees = {"params": params, "batch_stats": batch_stats}
    entries = list(_entries(params, batch_stats))
    present = {k for k in state_dict if k.startswith(STATE_DICT_PREFIX) and not k.endswith(".num_batches_tracked")}
    expected = {key for key, *_ in entries}
    if present != expected:
        raise CheckpointError(f"{source}: its discriminator has the entries {sorted(present - expected)[:4]} "
                              f"and lacks {sorted(expected - present)[:4]} of the configured one: {hint}")
    out: dict = {"params": {}, "batch_stats": {}}
    for key, collection, layer, name in entries:
        value = np.asarray(state_dict[key], np.float32)
        value = from_torch_layout((layer, name), value)
        wanted = tuple(trees[collection][layer][name].shape)
        if value.shape != wanted:
            raise CheckpointError(f"{source}: {key} has shape {tuple(state_dict[key].shape)}, which does not fit "
                                  f"the configured discriminator: {hint}")
        out[collection].setdefault(layer, {})[name] = value
    return out["params"], out["batch_stats"]
