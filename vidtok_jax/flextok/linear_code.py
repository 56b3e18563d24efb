"""A linear code of VidTok latent frames in a VideoFlexTok's token budget: principal components on FSQ levels.

R tokens of ``len(levels)`` FSQ values are ``R * len(levels)`` scalars per latent frame. The linear code
puts principal component ``j`` of the latent frames (largest variance first) into FSQ value ``j``
(token ``j // len(levels)``, value ``j % len(levels)``), rounded to that value's levels over a span
fitted to the training components: the first k tokens are the first ``k * len(levels)`` components,
coarse to fine with no learning at all. ``benchmarks/flextok_linear_code.py`` measures it against a
trained model; ``flextok.readout: pca`` trains the model's encoder towards it (its read-out of the
latents from the kept codes is then this code's fixed decoder instead of a learned one).

``linear_code_maps`` gives the two linear maps of a model with the ``linear_code`` extension: the
encoder's map from a latent frame to its register values before FSQ (component ``j`` times a gain,
which FSQ's tanh bound and rounding turn into a code) and the decoder's read-out of the frame from
those codes (per component the least-squares scale of its codes), so that a model initialised with
them tokenizes and decodes with this code from its first step.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from vidtok_jax.vidtok.config import RegularizerConfig
from vidtok_jax.vidtok.quantizers import FSQ

SPANS = np.arange(1.0, 3.01, 0.1)  # candidate half-widths of a value's range, in standard deviations
MIN_RELATIVE_STD = 1e-3  # components of less variance (none in real data; few frames leave many) are not magnified
GAINS = np.arange(0.2, 1.01, 0.05)  # candidate gains from a component (in standard deviations) to FSQ's input


@dataclasses.dataclass(frozen=True)
class LinearCode:
    """Principal components ``basis`` ``[D, n]`` (columns, largest first), their standard deviations ``std``
    ``[n]``, the mean frame ``mean`` ``[D]``, and per component the FSQ level count and fitted span."""

    mean: np.ndarray
    basis: np.ndarray
    std: np.ndarray
    levels: np.ndarray
    spans: np.ndarray

    def components(self, frames: np.ndarray) -> np.ndarray:
        """Latent frames ``[N, D]`` as components in standard deviations ``[N, n]``."""
        return (frames - self.mean) @ self.basis / self.std

    def frames(self, components: np.ndarray) -> np.ndarray:
        """The latent frames ``[N, D]`` of the first ``components.shape[1]`` components (the rest at zero)."""
        n = components.shape[1]
        return components * self.std[:n] @ self.basis[:, :n].T + self.mean

    def rounded(self, components: np.ndarray) -> np.ndarray:
        """Each component rounded to its FSQ value's levels over its span (what the code keeps)."""
        n = components.shape[1]
        return np.stack([uniform_levels(components[:, j], int(self.levels[j]), float(self.spans[j]))
                         for j in range(n)], axis=1)

    def readout(self) -> dict[str, np.ndarray]:
        """The linear read-out ``codes @ kernel + bias`` of latent frames from FSQ codes in [-1, 1]: FSQ's code of
        level ``i`` of ``L`` is ``(i - L // 2) / (L // 2)``, this code's point ``(i - L // 2) * span / (L // 2)``, and
        a zero code (a token nested dropout removed) is the component's mean."""
        kernel = (self.basis * (self.std * self.spans)).T
        return {"kernel": kernel.astype(np.float32), "bias": self.mean.astype(np.float32)}


def uniform_levels(values: np.ndarray, levels: int, span: float) -> np.ndarray:
    """``values`` rounded to the points of FSQ's ``levels`` levels, ``(i - levels // 2) * span / (levels // 2)`` for
    ``i`` in ``0..levels-1`` (from ``-span`` to ``span``, or to one step under it for an even count; clipped)."""
    half = levels // 2
    step = span / half
    return (np.clip(np.round(values / step) + half, 0, levels - 1) - half) * step


def fit_linear_code(frames: np.ndarray, levels, registers: int) -> LinearCode:
    """The linear code of latent frames ``[N, D]`` (rows) for ``registers`` tokens of FSQ ``levels``."""
    frames = np.asarray(frames, np.float64)
    count = registers * len(levels)
    if count > frames.shape[1] or len(frames) < 2:
        raise ValueError(f"a linear code of {count} components needs latent frames of at least that many values "
                         f"and two or more frames, got {frames.shape}")
    mean = frames.mean(axis=0)
    variances, vectors = np.linalg.eigh(np.cov((frames - mean).T))
    order = np.argsort(variances)[::-1][:count]
    std = np.sqrt(np.maximum(variances[order], 0.0))
    basis, std = vectors[:, order], np.maximum(std, MIN_RELATIVE_STD * max(std[0], 1e-6))
    per_component = np.tile(np.asarray(levels, np.int64), registers)
    code = LinearCode(mean=mean, basis=basis, std=std, levels=per_component, spans=np.ones(count))
    components = code.components(frames)
    spans = np.empty(count)
    for level_count in np.unique(per_component):
        columns = components[:, per_component == level_count]
        errors = [np.mean(np.square(uniform_levels(columns, int(level_count), s) - columns)) for s in SPANS]
        spans[per_component == level_count] = SPANS[int(np.argmin(errors))]
    return dataclasses.replace(code, spans=spans)


def latent_frame_crops(latents: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Every non-overlapping ``height x width`` crop of every latent frame ``[t, h, w, C]``, as rows ``[N, height*width*C]``."""
    rows = [z[:, y:y + height, x:x + width].reshape(z.shape[0], -1)
            for z in latents for y in range(0, z.shape[1] - height + 1, height)
            for x in range(0, z.shape[2] - width + 1, width)]
    return np.concatenate(rows)


def linear_code_maps(frames: np.ndarray, levels, registers: int, scale: np.ndarray | None = None
                     ) -> dict[str, dict[str, np.ndarray]]:
    """The ``linear_code`` maps of a model from its training latent frames ``[N, D]`` (rows of VidTok latents as
    they are): ``{"encoder": {"kernel" [D, R*d], "bias"}, "decoder": {"kernel" [R*d, D], "bias" [D]}}``. Each FSQ
    value gets its component times the gain (one per level count) that decodes the training frames best. The code
    is fitted on the latents as they are; with the model's ``scale`` per value ``[D]`` (its latent scale, tiled
    over the frame) the maps read and write the model's space (the latents divided by it)."""
    code = fit_linear_code(frames, levels, registers)
    components = code.components(np.asarray(frames, np.float64))
    fsq = FSQ(RegularizerConfig(kind="fsq", levels=tuple(int(n) for n in levels)))
    errors, scales = [], []
    for gain in GAINS:  # every value's codes at this gain, through FSQ itself, and their least-squares scales
        values = (gain * components).reshape(len(components), registers, len(levels))
        codes = np.asarray(fsq.quantize(jnp.asarray(values, jnp.float32)), np.float64).reshape(components.shape)
        fitted = np.sum(codes * components, axis=0) / np.maximum(np.sum(codes * codes, axis=0), 1e-12)
        errors.append(np.mean(np.square(codes * fitted - components), axis=0))
        scales.append(fitted)
    errors, scales = np.asarray(errors), np.asarray(scales)
    gains, chosen = np.empty(len(code.levels)), np.empty(len(code.levels))
    for level_count in np.unique(code.levels):
        columns = code.levels == level_count
        best = int(np.argmin(errors[:, columns].sum(axis=1)))
        gains[columns], chosen[columns] = GAINS[best], scales[best, columns]
    scale = np.ones(len(code.mean)) if scale is None else np.asarray(scale, np.float64)
    encoder = code.basis * (gains / code.std)
    decoder = (code.basis * (chosen * code.std)).T
    return {"encoder": {"kernel": (encoder * scale[:, None]).astype(np.float32),
                        "bias": (-code.mean @ encoder).astype(np.float32)},
            "decoder": {"kernel": (decoder / scale).astype(np.float32), "bias": (code.mean / scale).astype(np.float32)}}
