"""Endless batches whose batch ``i`` is a pure function of a seed and ``i`` (synthetic clips, cached latents).

The iterator's whole state is the next batch number, so a resumed run continues exactly, and each
process of a multi-process run computes only its rows of the global batch.
"""

from __future__ import annotations

import numpy as np


class SeededBatches:
    """Batches ``{key: float32 [rows, ...]}`` of rows ``rows`` of each global batch; a subclass makes one row."""

    key = "video"

    def __init__(self, batch_size: int, seed: int, rows: slice | None = None):
        self.batch_size, self.seed = batch_size, seed
        self.rows = range(batch_size)[rows or slice(None)]
        self.next_batch = 0

    def make_row(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self) -> "SeededBatches":
        return self

    def __next__(self) -> dict:
        rows = [self.make_row(np.random.default_rng([self.seed, self.next_batch, row])) for row in self.rows]
        self.next_batch += 1
        return {self.key: np.stack(rows)}

    def get_state(self) -> dict:
        return {"next_batch": self.next_batch}

    def set_state(self, state: dict) -> None:
        self.next_batch = int(state["next_batch"])

    def close(self) -> None:
        """Nothing to release (same interface as ``VideoBatchIterator``)."""
