"""Synthetic training clips: smooth coloured patterns that drift and rotate over time.

For tests and quick runs without video files. Batch ``i`` is a pure function of the seed and
``i``, so the iterator's state is just the next batch number, and each process of a multi-process
run can compute only its own rows of the global batch.
"""

from __future__ import annotations

import numpy as np

from vidtok_jax.data.seeded_batches import SeededBatches


def synthetic_clip(rng: np.random.Generator, num_frames: int, height: int, width: int) -> np.ndarray:
    """One clip ``[T, H, W, 3]`` in [-1, 1]: a sum of a few moving sinusoidal gratings per channel."""
    t = np.arange(num_frames, dtype=np.float32)[:, None, None]
    y = np.linspace(-1, 1, height, dtype=np.float32)[None, :, None]
    x = np.linspace(-1, 1, width, dtype=np.float32)[None, None, :]
    channels = []
    for _ in range(3):
        value = np.zeros((num_frames, height, width), np.float32)
        for _ in range(3):
            freq = rng.uniform(1.0, 4.0)
            angle = rng.uniform(0, np.pi) + rng.uniform(-0.05, 0.05) * t
            speed, phase = rng.uniform(-0.4, 0.4), rng.uniform(0, 2 * np.pi)
            value += np.sin(np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)) + speed * t + phase)
        channels.append(np.tanh(value / 2.0))
    return np.stack(channels, axis=-1).astype(np.float32)


class SyntheticBatches(SeededBatches):
    """Endless batches ``{"video": float32 [B, T, H, W, 3]}`` of moving patterns: rows ``rows`` of each global batch."""

    def __init__(self, batch_size: int, num_frames: int, height: int, width: int, seed: int,
                 rows: slice | None = None):
        super().__init__(batch_size, seed, rows)
        self.shape = (num_frames, height, width)

    def make_row(self, rng: np.random.Generator) -> np.ndarray:
        return synthetic_clip(rng, *self.shape)
