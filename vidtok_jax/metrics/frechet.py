"""Fréchet distance between Gaussians fitted to two sets of features, in float64 (the FID / FVD formula).

    d = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2)

with mu the feature means and S the sample covariances (divided by n - 1, as tf-gan's
`frechet_classifier_distance_from_activations`, which FVD uses). The last trace equals
tr(sqrtm(S_a S_b)) of other implementations; here it is the sum of the square roots of the
eigenvalues of the symmetric PSD matrix S_a^1/2 S_b S_a^1/2 (round-off negatives clipped to 0).
"""

from __future__ import annotations

import numpy as np

from vidtok_jax.errors import InputError


def _psd_square_root(matrix: np.ndarray) -> np.ndarray:
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def _check_features(features_a: np.ndarray, features_b: np.ndarray) -> None:
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise InputError(f"features must be [N, D] arrays with the same D; got {features_a.shape} and "
                         f"{features_b.shape}")
    if min(features_a.shape[0], features_b.shape[0]) < 2:
        raise InputError(f"a Fréchet distance needs at least 2 samples per set to estimate a covariance; got "
                         f"{features_a.shape[0]} and {features_b.shape[0]}")
    if not (np.isfinite(features_a).all() and np.isfinite(features_b).all()):
        raise InputError("features contain NaN or infinite values")


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between the Gaussians fitted to `features_a` `[N, D]` and `features_b` `[M, D]`."""
    features_a, features_b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    _check_features(features_a, features_b)
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a, cov_b = np.cov(features_a, rowvar=False), np.cov(features_b, rowvar=False)
    root_a = _psd_square_root(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_of_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_of_root)
