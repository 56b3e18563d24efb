"""Value checks of input arrays, run on the device as one reduction over every element.

`jnp.min`/`jnp.max` alone do not find NaN (XLA's min and max may skip it), so finiteness is
checked explicitly: one NaN or Inf anywhere in a video is found. On a stream, `DeferredChecks`
keeps each chunk's check on the device until an output is handed out anyway.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import jax
import jax.numpy as jnp


@jax.jit
def _finite_range(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    return jnp.all(jnp.isfinite(x)), jnp.min(x), jnp.max(x)


def finite_range(x) -> tuple[bool, float, float]:
    """`(every value finite, min, max)` of a float array."""
    finite, low, high = jax.device_get(_finite_range(jnp.asarray(x, jnp.float32)))
    return bool(finite), float(low), float(high)


class DeferredChecks:
    """Value checks of a stream's input chunks that never make the host wait while the device has work.

    ``inputs(chunks)`` passes each chunk through ``prepare`` (host-side checks, transfer to the device) and
    dispatches its `finite_range` reduction without fetching it. ``outputs(results)`` hands out each result
    one behind: result i leaves once result i+1 is dispatched and ``verify(finite, low, high)`` has passed
    for every chunk read so far (it raises on a bad one), so no output of a bad input is ever handed out."""

    def __init__(self, prepare: Callable[[object], jax.Array], verify: Callable[[bool, float, float], None]):
        self._prepare, self._verify, self._pending = prepare, verify, []

    def inputs(self, chunks: Iterable) -> Iterator[jax.Array]:
        for chunk in chunks:
            array = self._prepare(chunk)
            self._pending.append(_finite_range(array))
            yield array

    def _verify_pending(self) -> None:
        for finite, low, high in jax.device_get(self._pending):
            self._verify(bool(finite), float(low), float(high))
        self._pending.clear()

    def outputs(self, results: Iterable) -> Iterator:
        held, holding = None, False
        for result in results:
            self._verify_pending()
            if holding:
                yield held
            held, holding = result, True
        self._verify_pending()
        if holding:
            yield held
