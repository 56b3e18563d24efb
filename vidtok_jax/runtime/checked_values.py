"""Numbers a user or a file gives, checked before any work: whole numbers and finite numbers in a range.

Each check raises the caller's error class (``ConfigError`` for configs, ``InputError`` for arguments and
token files) with one line that names the value; bools, strings and fractions never pass as whole numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vidtok_jax.errors import ConfigError, VidTokError


def whole_number(value: Any, name: str, low: int = 1, high: int | None = None,
                 error: type[VidTokError] = ConfigError) -> int:
    """``value`` as an int in [low, high] (no upper bound when ``high`` is None)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise error(f"{name} must be a whole number {bounds}, got {value!r}")
    return int(value)


def finite_number(value: Any, name: str, low: float | None = None, high: float | None = None,
                  error: type[VidTokError] = ConfigError) -> float:
    """``value`` as a finite float, in [low, high] where both are given."""
    ranged = low is not None and high is not None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or (ranged and not low <= value <= high):
        raise error(f"{name} must be " + (f"a number in [{low:g}, {high:g}]" if ranged else "a finite number")
                    + f", got {value!r}")
    return float(value)
