"""Boolean attention masks of VideoFlexTok's interleaved token sequence.

One sample's sequence is, for each latent frame in time order, that frame's patches (row-major)
followed by its registers. The official packer builds FlexAttention block masks over several
samples packed into one padded sequence; here every sample is its own batch row, so the masks
below are the official ones restricted to one sample, with no padding (padding never influences
real tokens in the official code: it only attends to, and is attended by, nothing).

- `full`: every token sees every token of the sample.
- `causal`: token i sees tokens j <= i.
- `time_block_causal`: a token sees every token of its own and earlier frames (the decoder).
- `time_block_causal_last`: a token sees every token of earlier frames; within its frame a patch
  sees all patches, and register r sees all patches and registers <= r (the encoder).
"""

from __future__ import annotations

import functools

import numpy as np

from vidtok_jax.errors import ConfigError


@functools.lru_cache(maxsize=64)
def attention_mask(mode: str, frames: int, patches: int, registers: int) -> np.ndarray:
    """`[N, N]` bool, True where query row i may attend to key column j; N = frames·(patches + registers)."""
    block = patches + registers
    index = np.arange(frames * block)
    frame, pos = index // block, index % block
    q_frame, k_frame = frame[:, None], frame[None, :]
    if mode == "full":
        mask = np.ones((index.size, index.size), bool)
    elif mode == "causal":
        mask = index[None, :] <= index[:, None]
    elif mode == "time_block_causal":
        mask = k_frame <= q_frame
    elif mode == "time_block_causal_last":
        q_pos, k_pos = pos[:, None], pos[None, :]
        within = (k_pos <= q_pos) | (k_pos < patches)
        mask = (k_frame < q_frame) | ((k_frame == q_frame) & within)
    else:
        raise ConfigError(f"unknown attention mask mode {mode!r}")
    mask.setflags(write=False)
    return mask
