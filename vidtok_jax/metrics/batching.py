"""Run a compiled function over many frames or videos in fixed-size chunks, bounding memory use."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def map_in_chunks(function: Callable[..., jax.Array], *arrays: jax.Array, chunk_size: int) -> jax.Array:
    """`function` applied to consecutive `chunk_size` rows of `arrays`, results concatenated on axis 0.

    A short last chunk is padded with copies of its final row (results dropped), so `function`
    compiles once for inputs longer than `chunk_size`.
    """
    total = arrays[0].shape[0]
    if total <= chunk_size:
        return function(*arrays)
    results = []
    for start in range(0, total, chunk_size):
        count = min(chunk_size, total - start)
        chunk = [x[start:start + count] for x in arrays]
        if count < chunk_size:
            chunk = [jnp.concatenate([x, jnp.repeat(x[-1:], chunk_size - count, axis=0)]) for x in chunk]
        results.append(function(*chunk)[:count])
    return jnp.concatenate(results)
