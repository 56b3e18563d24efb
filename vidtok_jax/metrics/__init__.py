"""Evaluation metrics of VidTok in JAX: PSNR, SSIM, LPIPS (VGG16 / AlexNet) and FVD (I3D Kinetics-400).

Inputs are channels-last RGB floats in [-1, 1]: frames `[..., H, W, 3]`, videos `[B, T, H, W, 3]`.
`psnr`, `ssim` and `lpips` return one value per frame (shape `a.shape[:-3]`; VidTok reports the
mean over all frames); `fvd` returns one number for two sets of videos. Each module's docstring
gives the exact definition. Pretrained weights: `vidtok_jax.metrics.weights`.
"""

from vidtok_jax.metrics.fvd import fvd, i3d_logits
from vidtok_jax.metrics.frechet import frechet_distance
from vidtok_jax.metrics.lpips import LPIPS, load_lpips_params, lpips
from vidtok_jax.metrics.psnr import psnr
from vidtok_jax.metrics.ssim import ssim
from vidtok_jax.metrics.weights import ensure_metric_weights

__all__ = ["LPIPS", "ensure_metric_weights", "frechet_distance", "fvd", "i3d_logits", "load_lpips_params",
           "lpips", "psnr", "ssim"]
