"""The training engine: one loop for every model family (VidTok, VideoFlexTok), which it knows only by interface.

The run reads top to bottom: mesh → input → model → sharding → update → checkpoint → eval.
Running it again on the same workdir resumes from the latest checkpoint; SIGTERM or Ctrl-C
finishes the step in flight, saves it and stops; a non-finite loss stops the run without saving (found at the
next metrics fetch: log, eval and checkpoint steps, or every step with ``log.sync_every_step``).

The engine imports no family: ``train`` takes a ``make_family(config)`` (the training command's
registry, ``vidtok_jax.train.command.make_family``), and a family gives it

- ``initial_weights()``: what a new run starts from (``init.checkpoint``), or None;
- ``init_state(initial)``: a fresh train state, a pytree of arrays (jitted with the state's shardings);
- ``aux()``: constants every step reads, replicated (LPIPS weights, a frozen VidTok stage);
- ``train_step(state, inputs, aux)`` -> ``(state, metrics)``, metrics holding ``finite``; the inputs are
  clips ``[B, T, H, W, 3]``, or latents ``[B, t, h, w, C]`` when ``data.source`` is ``latents``;
- ``eval_step(state, video, aux)`` -> ``(metrics, sample)``: ``eval_psnr`` (the checkpoint kept as
  best has the highest) and a reconstruction of the clips for the pictures;
- ``describe(state)``: one line on the model; ``config_document()``: what checkpoints store.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from vidtok_jax.checkpoints.workdir import checkpoint_dir
from vidtok_jax.data.images import frame_grid, write_png
from vidtok_jax.errors import VidTokError
from vidtok_jax.train import checkpointing, data, mesh as mesh_lib
from vidtok_jax.train.config import TrainConfig
from vidtok_jax.train.reporting import Reporter
from vidtok_jax.train.stop_signal import StopOnSignal


class TrainingDiverged(VidTokError):
    """A loss, gradient norm or parameter became NaN or Inf."""


def diverged(step: int, metrics: dict, manager, workdir: str) -> TrainingDiverged:
    """The error for a non-finite step, naming the last good checkpoint (after pending saves finish)."""
    manager.wait_until_finished()
    last = manager.latest_step()
    shown = ", ".join(f"{k}={metrics[k]}" for k in ("total_loss", "nll_loss", "disc_loss", "grad_norm") if k in metrics)
    return TrainingDiverged(
        f"step {step}: a loss, gradient norm or parameter is NaN/Inf ({shown}); "
        f"stopped without saving. Last good checkpoint: "
        f"{'none' if last is None else f'step {last}'} in {checkpoint_dir(workdir)}. "
        "Lower optimizer.learning_rate or check the data.")


@dataclasses.dataclass
class Run:
    """What the loop works with: the config, its outputs, the family's compiled steps and the input."""

    config: TrainConfig
    workdir: str
    reporter: Reporter
    manager: object
    batches: object
    batch_sharding: object
    document: dict
    train_step: object
    eval_step: object
    aux: object
    eval_local: np.ndarray
    eval_video: jax.Array
    profile: tuple[int, int] | None = None
    tracing: bool = False

    @property
    def profile_dir(self) -> Path:
        return Path(self.workdir) / "profile"

    def evaluate(self, state, step: int) -> dict:
        values, recon = self.eval_step(state, self.eval_video, self.aux)
        metrics = {k: float(v) for k, v in jax.device_get(values).items()}
        if (step % self.config.log.images_every == 0 or step == self.config.steps) and self.reporter.enabled:
            sample = np.asarray(recon.addressable_shards[0].data)[0]
            write_png(Path(self.workdir) / "samples" / f"step_{step:08d}.png", frame_grid(self.eval_local[0], sample))
        self.reporter.scalars(step, metrics, prefix="eval")
        self.reporter.message(f"step {step}: " + "  ".join(f"{k} {v:.2f}{' dB' if 'psnr' in k else ''}"
                                                           for k, v in metrics.items()))
        return metrics

    def save(self, state, metrics: dict, data_position: dict) -> None:
        """Checkpoint ``state``; ``data_position``: the input iterator's state before the batch that comes next."""
        checkpointing.save(self.manager, state, data_position, self.document, metrics)


def _initial_state(run: Run, family, mesh):
    """The state, fresh or restored, already split over the mesh; and whether it was restored."""
    resuming = run.manager.latest_step() is not None
    initial = None if resuming else family.initial_weights()
    abstract = jax.eval_shape(family.init_state, initial)
    shardings = mesh_lib.state_shardings(abstract, mesh)
    if not resuming:
        return jax.jit(family.init_state, out_shardings=shardings)(initial), False, shardings
    state, data_state = checkpointing.restore(run.manager, abstract, shardings)
    run.batches.set_state(data_state)
    if int(state.step) >= run.config.steps:
        run.reporter.message(f"already finished: {run.workdir} holds step {int(state.step)} of {run.config.steps}; "
                             "nothing to do (give a larger --steps to train on)")
    else:
        run.reporter.message(f"resumed from step {int(state.step)} in {run.workdir}")
    return state, True, shardings


@jax.jit
def _watch_finite(watch, metrics: dict, step):
    """``(first step whose metrics were non-finite, or -1; that step's metrics)`` updated with one more step, on
    the device: the loop checks it whenever it fetches metrics anyway, without waiting on every step."""
    first, kept = watch
    new = (first < 0) & jnp.logical_not(metrics["finite"])
    return jnp.where(new, step, first), jax.tree.map(lambda old, value: jnp.where(new, value, old), kept, metrics)


def _fetch(run: Run, watch, metrics: dict) -> dict[str, float]:
    """The last step's metrics on the host; raises ``TrainingDiverged`` if any step so far was non-finite."""
    (first, kept), values = jax.device_get((watch, metrics))  # one transfer, one wait
    if first >= 0:
        raise diverged(int(first), {k: float(v) for k, v in kept.items()}, run.manager, run.workdir)
    values = {k: float(v) for k, v in values.items()}
    values.pop("finite")
    return values


def _loop(run: Run, state, resuming: bool, stop: StopOnSignal):
    """Steps until ``config.steps`` or a signal; checkpoints and evaluations on their schedule.

    The host never waits for the device without need: the next batch is read and sent while a step runs,
    and metrics are fetched on log, eval and checkpoint steps only (every step with ``log.sync_every_step``).
    A non-finite step is found at the next fetch, so within the log interval and before anything is saved."""
    config, reporter, profile = run.config, run.reporter, run.profile
    reporter.start_window()
    saved = int(state.step) if resuming else None
    wait_start = time.perf_counter()
    prefetch = data.DevicePrefetch(run.batches, run.batch_sharding, stop.next_unless_stopped)
    data_wait = time.perf_counter() - wait_start
    watch, metrics = None, None
    for step in range(int(state.step), config.steps):
        if stop.received is not None or prefetch.current is None:  # a signal, which may have ended the data workers
            if watch is not None:
                _fetch(run, watch, metrics)
            if saved != step:
                run.save(state, run.evaluate(state, step), prefetch.position)
            reporter.message(f"step {step}: stopped by {stop.received.name}; checkpoint of step {step} "
                             f"saved in {checkpoint_dir(run.workdir)}; run the same command to resume")
            break
        if profile is not None and step == profile[0]:
            jax.profiler.start_trace(run.profile_dir, create_perfetto_trace=True)
            run.tracing = True
        state, metrics = run.train_step(state, prefetch.current, run.aux)
        done = step + 1
        watch = _watch_finite((jnp.int32(-1), metrics) if watch is None else watch, metrics, done)
        host = _fetch(run, watch, metrics) if config.log.sync_every_step else None
        reporter.tick(data_wait)
        wait_start = time.perf_counter()
        prefetch.advance()
        data_wait = time.perf_counter() - wait_start
        if run.tracing and done == profile[1]:
            jax.block_until_ready(state)
            jax.profiler.stop_trace()
            run.tracing = False
            reporter.message(f"step {done}: profile of steps {profile[0] + 1}-{done} written in {run.profile_dir}")
        logging = done == 1 and not resuming or done % config.log.every == 0 or done == config.steps
        saving = done % config.checkpoint.every == 0 or done == config.steps
        if logging or saving or done % config.eval.every == 0:
            host = host or _fetch(run, watch, metrics)
        if logging:
            reporter.log_train(done, host)
        if saving or done % config.eval.every == 0:
            eval_metrics = run.evaluate(state, done)
            if saving:
                run.save(state, eval_metrics, prefetch.position)
                saved = done
            reporter.start_window()
    return state


def train(config: TrainConfig, workdir: str, make_family: Callable[[TrainConfig], object],
          profile: tuple[int, int] | None = None):
    """Train the family ``make_family(config)`` until ``config.steps``; returns the signal that stopped the run
    early, or None. ``profile=(start, stop)`` writes a ``jax.profiler`` trace of steps start+1..stop (the step
    counter's values) to ``<workdir>/profile``, which TensorBoard's profile plugin and Perfetto open."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    reporter = Reporter(workdir, config.steps, config.data.batch_size, config.log.tensorboard)

    # Mesh: data x fsdp over every device of every process.
    mesh = mesh_lib.make_mesh(config.mesh.data, config.mesh.fsdp,
                              {"data.batch_size": config.data.batch_size, "eval.batch_size": config.eval.batch_size})
    replicated, batch_sharding = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
    reporter.message(f"mesh {dict(mesh.shape)} over {jax.device_count()} {jax.devices()[0].platform} devices, "
                     f"{jax.process_count()} process(es)")

    with jax.set_mesh(mesh):
        # Input: this process's clips (or cached latents), assembled into globally sharded batches.
        batches = data.train_iterator(config)
        eval_local = data.eval_batch(config)

        # Model: the family's step functions and its constants (LPIPS, a frozen VidTok stage).
        family = make_family(config)
        run = Run(config=config, workdir=workdir, reporter=reporter, manager=checkpointing.make_manager(workdir, config),
                  batches=batches, batch_sharding=batch_sharding, document=family.config_document(),
                  train_step=None, eval_step=None, aux=jax.device_put(family.aux(), replicated),
                  eval_local=eval_local, eval_video=data.global_batch(eval_local, batch_sharding), profile=profile)
        try:
            # Sharding: the state is created (or restored) already split over the mesh.
            state, resuming, shardings = _initial_state(run, family, mesh)
            reporter.message(family.describe(state))

            # Update: one jitted step; the old state's buffers are donated to the new one.
            run.train_step = jax.jit(family.train_step, in_shardings=(shardings, batch_sharding, replicated),
                                     out_shardings=(shardings, replicated), donate_argnums=0)
            run.eval_step = jax.jit(family.eval_step, out_shardings=(replicated, batch_sharding))

            # Checkpoint + eval around the loop; on SIGTERM or Ctrl-C finish the step in flight, save, stop.
            with StopOnSignal() as stop:
                state = _loop(run, state, resuming, stop)
        finally:
            if run.tracing:
                jax.profiler.stop_trace()
            run.manager.wait_until_finished()
            run.manager.close()
            batches.close()
            reporter.close()
    return stop.received if int(state.step) < config.steps else None
