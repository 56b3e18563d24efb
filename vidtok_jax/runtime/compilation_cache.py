"""Shorter XLA compiles: the persistent compilation cache, and threefry as one kernel on GPU.

Compiling a full-size VidTok encoder and decoder takes tens of seconds on a CPU; with the cache
on, a second run of the same shapes loads the compiled programs from disk instead. The CLI, the
training command and the Python API's models (``Tokenizer``, ``VideoFlexTok``) turn it on;
``VIDTOK_JAX_COMPILATION_CACHE=0`` (or JAX's own ``jax_enable_compilation_cache`` off) keeps it off.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path

import jax

ENV_VAR = "VIDTOK_JAX_COMPILATION_CACHE"


def default_cache_dir() -> Path:
    base = os.environ.get("VIDTOK_JAX_CACHE") or Path.home() / ".cache" / "vidtok_jax"
    return Path(base) / "jax_compilation_cache"


def enable_compilation_cache(path: str | Path | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache at `path` (default `~/.cache/vidtok_jax/...`).

    Setting the environment variable `VIDTOK_JAX_COMPILATION_CACHE=0` turns it off; any other
    value of it names the folder. Without either, a folder already given to JAX (for example by
    `JAX_COMPILATION_CACHE_DIR`) is kept. Returns the folder in use, or None when turned off.
    """
    env = os.environ.get(ENV_VAR)
    if env == "0":
        return None
    if path is None and env is None and jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    folder = Path(path or env or default_cache_dir())
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def use_threefry_gpu_kernel() -> None:
    """On GPU, lower each threefry call to one kernel instead of about 200 unrolled operations.

    The random numbers are the same. Flax folds the initialisation key in once per parameter: for a
    full-size VidTok that is about 200 threefry calls, some 40,000 operations for XLA to compile.
    """
    jax.config.update("jax_threefry_gpu_kernel_lowering", True)


def enable_compilation_cache_or_warn(program: str) -> Path | None:
    """`enable_compilation_cache()`, with a warning on stderr instead of an error when its folder cannot be made."""
    try:
        return enable_compilation_cache()
    except OSError as error:
        print(f"{program}: warning: no compilation cache ({error}); set {ENV_VAR}=0 to silence this", file=sys.stderr)
        return None


@functools.cache
def enable_compilation_cache_by_default() -> None:
    """What a model of the Python API does when built: the cache on, once per process, unless turned off.

    A folder that cannot be made is a warning, never an error: the cache only saves time.
    """
    if not jax.config.jax_enable_compilation_cache:
        return
    try:
        enable_compilation_cache()
    except OSError as error:
        warnings.warn(f"no compilation cache ({error}); set {ENV_VAR}=0 to silence this", stacklevel=3)
