"""Checkpoint retention: the last ``checkpoint.keep`` steps plus the one with the best evaluation PSNR."""

from __future__ import annotations

import numpy as np
import orbax.checkpoint as ocp

from vidtok_jax.checkpoints.workdir import checkpoint_dir
from vidtok_jax.train.checkpointing import BEST_METRIC, make_manager
from vidtok_jax.train.config import load_train_config


def test_keeps_the_latest_and_the_best(tmp_path):
    config = load_train_config("tiny_cpu", ["checkpoint.keep=1", "checkpoint.async=false"])
    manager = make_manager(tmp_path, config)
    for step, psnr in [(1, 20.0), (2, 31.0), (3, 25.0), (4, 22.0)]:
        manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave({"x": np.full((3,), step, np.float32)}),
            data=ocp.args.JsonSave({"next_batch": step}), config=ocp.args.JsonSave({})),
            metrics={BEST_METRIC: psnr})
    manager.wait_until_finished()
    assert manager.all_steps() == [2, 4]
    assert sorted(p.name for p in checkpoint_dir(tmp_path).iterdir() if p.name.isdigit()) == ["2", "4"]
    manager.close()
