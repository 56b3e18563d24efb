"""Train or fine-tune a VidTok tokenizer with the paper's recipe.

    python train.py --config tiny_cpu --workdir /tmp/run [--steps N] [--set key=value ...]
    python train.py export --workdir /tmp/run --out model.safetensors [--step N] [--ema] [--weights-only] [--float16]

``--config`` is a preset of ``configs/train`` (``tiny_cpu``, ``stage1_*``, ``stage2_*``,
``finetune_*``) or a YAML file; ``--set data.batch_size=8`` overrides any key. Running the same
command again resumes from the latest checkpoint in the workdir. Multi-process runs pass
``--coordinator host:port --num_processes N --process_id I`` (or ``--coordinator auto`` on a
cluster that ``jax.distributed`` detects by itself).

The sections below follow the run: mesh → input → model → sharding → update → checkpoint → eval.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

from vidtok_jax.checkpoints.workdir import checkpoint_dir, export_workdir
from vidtok_jax.compilation_cache import enable_compilation_cache_or_warn, use_threefry_gpu_kernel
from vidtok_jax.cpu_memory import use_memory_optimized_cpu_scheduler
from vidtok_jax.errors import VidTokError
from vidtok_jax.images import frame_grid, write_png
from vidtok_jax.train import checkpointing, data, mesh as mesh_lib
from vidtok_jax.train.config import load_train_config
from vidtok_jax.train.family import make_family
from vidtok_jax.train.reporting import Reporter
from vidtok_jax.train.stop_signal import StopOnSignal


class TrainingDiverged(VidTokError):
    """A loss, gradient norm or parameter became NaN or Inf."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["export"]:
        parser = argparse.ArgumentParser(prog="train.py export", description="Write a workdir's weights as an "
                                         "official .safetensors state dict, with its config YAML beside it.")
        parser.add_argument("--workdir", required=True)
        parser.add_argument("--out", required=True, help="output .safetensors path")
        parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
        parser.add_argument("--ema", action="store_true", help="export the EMA weights")
        parser.add_argument("--float16", action="store_true", help="store the weights as float16 (half the file size)")
        parser.add_argument("--weights-only", action="store_true",
                            help="only the autoencoder, without the loss's discriminator and log-variance")
        args = parser.parse_args(argv[1:])
        args.command = "export"
        return args
    parser = argparse.ArgumentParser(prog="train.py", description=__doc__.split("\n\n")[0],
                                     epilog="python train.py export --help: write a workdir's weights as an official "
                                            ".safetensors file")
    parser.add_argument("--config", required=True, help="preset name in configs/train or a YAML file")
    parser.add_argument("--workdir", required=True, help="checkpoints, logs and samples go here")
    parser.add_argument("--steps", type=int, default=None, help="total training steps (overrides 'steps')")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--coordinator", default=None, help="host:port of process 0, or 'auto'")
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    args = parser.parse_args(argv)
    args.command = "train"
    return args


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


def train(config, workdir: str):
    """Train until ``config.steps``; returns the signal that stopped the run early, or None."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    reporter = Reporter(workdir, config.steps, config.data.batch_size, config.log.tensorboard)

    # Mesh: data x fsdp over every device of every process.
    mesh = mesh_lib.make_mesh(config.mesh.data, config.mesh.fsdp,
                              {"data.batch_size": config.data.batch_size, "eval.batch_size": config.eval.batch_size})
    replicated, batch_sharding = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
    reporter.message(f"mesh {dict(mesh.shape)} over {jax.device_count()} {jax.devices()[0].platform} devices, "
                     f"{jax.process_count()} process(es)")

    with jax.set_mesh(mesh):
        # Input: this process's clips, assembled into globally sharded batches.
        batches = data.train_iterator(config)
        eval_local = data.eval_batch(config)
        eval_video = data.global_batch(eval_local, batch_sharding)

        # Model: the family's step functions, fresh or initial weights, its constants (LPIPS, a frozen VidTok).
        family = make_family(config)
        document = family.config_document()
        manager = checkpointing.make_manager(workdir, config)
        resuming = manager.latest_step() is not None
        initial = None if resuming else family.initial_weights()
        aux = jax.device_put(family.aux(), replicated)

        # Sharding: the state is created (or restored) already split over the mesh.
        abstract = jax.eval_shape(family.init_state, initial)
        shardings = mesh_lib.state_shardings(abstract, mesh)
        if resuming:
            state, data_state = checkpointing.restore(manager, abstract, shardings)
            batches.set_state(data_state)
            if int(state.step) >= config.steps:
                reporter.message(f"already finished: {workdir} holds step {int(state.step)} of {config.steps}; nothing "
                                 "to do (give a larger --steps to train on)")
            else:
                reporter.message(f"resumed from step {int(state.step)} in {workdir}")
        else:
            state = jax.jit(family.init_state, out_shardings=shardings)(initial)
        reporter.message(family.describe(state))

        # Update: one jitted step; the old state's buffers are donated to the new one.
        train_step = jax.jit(family.train_step, in_shardings=(shardings, batch_sharding, replicated),
                             out_shardings=(shardings, replicated), donate_argnums=0)
        eval_step = jax.jit(family.eval_step, out_shardings=(replicated, batch_sharding))

        def evaluate(state, step: int) -> dict:
            values, recon = eval_step(state, eval_video, aux)
            metrics = {k: float(v) for k, v in jax.device_get(values).items()}
            if (step % config.log.images_every == 0 or step == config.steps) and reporter.enabled:
                sample = np.asarray(recon.addressable_shards[0].data)[0]
                write_png(Path(workdir) / "samples" / f"step_{step:08d}.png", frame_grid(eval_local[0], sample))
            reporter.scalars(step, metrics, prefix="eval")
            reporter.message(f"step {step}: " + "  ".join(f"{k} {v:.2f}{' dB' if 'psnr' in k else ''}"
                                                        for k, v in metrics.items()))
            return metrics

        # Checkpoint + eval around the loop; stop on the first non-finite loss, keeping the last good checkpoint;
        # on SIGTERM or Ctrl-C finish the step in flight, then save it and stop.
        reporter.start_window()
        saved = int(state.step) if resuming else None
        with StopOnSignal() as stop:
            try:
                for step in range(int(state.step), config.steps):
                    wait_start = time.perf_counter()
                    batch = None if stop.received is not None else stop.next_unless_stopped(batches)
                    if batch is None:  # stopped by a signal, which may have ended the data workers too
                        if saved != step:
                            checkpointing.save(manager, state, batches.get_state(), document, evaluate(state, step))
                        reporter.message(f"step {step}: stopped by {stop.received.name}; checkpoint of step {step} "
                                         f"saved in {checkpoint_dir(workdir)}; run the same command to resume")
                        break
                    video = data.global_batch(batch["video"], batch_sharding)
                    data_wait = time.perf_counter() - wait_start
                    state, metrics = train_step(state, video, aux)
                    metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
                    done = step + 1
                    if not metrics.pop("finite"):
                        raise diverged(done, metrics, manager, workdir)
                    reporter.tick(data_wait)
                    if done == 1 and not resuming or done % config.log.every == 0 or done == config.steps:
                        reporter.log_train(done, metrics)
                    saving = done % config.checkpoint.every == 0 or done == config.steps
                    if saving or done % config.eval.every == 0:
                        eval_metrics = evaluate(state, done)
                        if saving:
                            checkpointing.save(manager, state, batches.get_state(), document, eval_metrics)
                            saved = done
                        reporter.start_window()
            finally:
                manager.wait_until_finished()
                manager.close()
                batches.close()
                reporter.close()
    return stop.received if int(state.step) < config.steps else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    use_memory_optimized_cpu_scheduler()  # before JAX starts its backends; halves the CPU step's memory
    if args.command == "export":
        written = export_workdir(args.workdir, args.out, args.step, args.ema, args.weights_only,
                                 dtype=np.float16 if args.float16 else np.float32)
        print(f"wrote {args.out}" + ("" if Path(written) == Path(args.out) else f" and {written}"))
        return 0
    if args.coordinator == "auto":
        jax.distributed.initialize()
    elif args.coordinator:
        jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)

    enable_compilation_cache_or_warn("train.py")  # a resumed run skips compiling (minutes on a GPU)
    use_threefry_gpu_kernel()
    overrides = list(args.set) + ([f"steps={args.steps}"] if args.steps is not None else [])
    try:
        stopped_by = train(load_train_config(args.config, overrides), args.workdir)
    except VidTokError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0 if stopped_by is None else 128 + stopped_by  # the shell's code for a signal


if __name__ == "__main__":
    sys.exit(main())
