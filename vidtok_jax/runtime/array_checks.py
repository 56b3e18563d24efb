"""Value checks of input arrays, run on the device as one reduction over every element.

`jnp.min`/`jnp.max` alone do not find NaN (XLA's min and max may skip it), so finiteness is
checked explicitly: one NaN or Inf anywhere in a video is found.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.jit
def _finite_range(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    return jnp.all(jnp.isfinite(x)), jnp.min(x), jnp.max(x)


def finite_range(x) -> tuple[bool, float, float]:
    """`(every value finite, min, max)` of a float array."""
    finite, low, high = jax.device_get(_finite_range(jnp.asarray(x, jnp.float32)))
    return bool(finite), float(low), float(high)
