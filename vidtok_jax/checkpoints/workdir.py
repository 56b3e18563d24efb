"""Reading training workdirs, whatever family trained them: a step's state as numpy arrays and its config document.

A workdir (written by ``python -m vidtok_jax.train``, see ``vidtok_jax.train.checkpointing``) holds
``checkpoints/<step>/`` with the items ``state``, ``data`` and ``config``. ``read_checkpoint`` gives a
step's state and config document; what they mean belongs to the family (``vidtok_jax.vidtok.checkpoint``,
``vidtok_jax.flextok.checkpoint``). Nothing here imports the training engine (orbax only), so the
tokenizers load a workdir without the training extras.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging

from vidtok_jax.errors import CheckpointError


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir).resolve() / "checkpoints"


@contextlib.contextmanager
def _absl_errors_only():
    """Silence orbax's warnings about a read-only manager (it is read-only because we only read)."""
    previous = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(previous)


def read_checkpoint(workdir: str | Path, step: int | None) -> tuple[int, dict, dict]:
    """``(step, state as nested dicts of numpy arrays, config document)`` of a workdir's checkpoint."""
    directory = checkpoint_dir(workdir)
    if not directory.is_dir():
        raise CheckpointError(f"{workdir} is not a training workdir (no checkpoints/ folder)")
    handlers = {"state": ocp.PyTreeCheckpointHandler(), "data": ocp.JsonCheckpointHandler(),
                "config": ocp.JsonCheckpointHandler()}
    with _absl_errors_only(), ocp.CheckpointManager(directory, item_handlers=handlers,
                                                    options=ocp.CheckpointManagerOptions(read_only=True)) as manager:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"{workdir} has no finished checkpoint")
        metadata = manager.item_metadata(step)["state"]
        restore_args = jax.tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), metadata)
        restored = manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.PyTreeRestore(restore_args=restore_args), config=ocp.args.JsonRestore()))
    return step, restored["state"], restored["config"]
