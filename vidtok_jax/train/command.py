"""The training command: ``python -m vidtok_jax.train`` (also ``vidtok-jax-train`` and the repository's ``train.py``).

    python -m vidtok_jax.train --config tiny_cpu --workdir /tmp/run [--steps N] [--set key=value ...] [--profile 10:15]
    python -m vidtok_jax.train export --workdir /tmp/run --out model.safetensors [--step N] [--ema] [--weights-only] \
        [--float16] [--sampler-steps N]

``--config`` is a preset shipped in the package (``tiny_cpu``, ``stage1_*``, ``stage2_*``,
``finetune_*``, ``default_model``, ``flex_*``) or a YAML file; ``--set data.batch_size=8``
overrides any key. Running the same command again resumes from the latest checkpoint in the
workdir. Multi-process runs pass ``--coordinator host:port --num_processes N --process_id I``
(or ``--coordinator auto`` on a cluster that ``jax.distributed`` detects by itself).

This module sits above the engine and the families: it picks the family a config names
(``make_family``, handed to ``vidtok_jax.train.engine.train``) and the export format of a workdir.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import jax
import numpy as np

from vidtok_jax.checkpoints.workdir import read_checkpoint
from vidtok_jax.errors import ConfigError, VidTokError
from vidtok_jax.flextok.checkpoint import FLEXTOK_DOCUMENT, export_flextok_run
from vidtok_jax.runtime.atomic_files import check_output_file
from vidtok_jax.runtime.compilation_cache import enable_compilation_cache_or_warn, use_threefry_gpu_kernel
from vidtok_jax.runtime.cpu_memory import use_memory_optimized_cpu_scheduler
from vidtok_jax.train.config import TrainConfig, load_train_config
from vidtok_jax.vidtok.checkpoint import export_vidtok_run

PROG = "python -m vidtok_jax.train"


def make_family(config: TrainConfig):
    """The model family a training config trains (``family: vidtok | videoflextok``), for the engine.

    The families are imported here, when a run starts: ``--help`` and ``export`` do not load the models."""
    if config.family == "videoflextok":
        from vidtok_jax.flextok.training import FlexTokFamily
        return FlexTokFamily(config)
    from vidtok_jax.vidtok.family import VidTokFamily
    return VidTokFamily(config)


def export_workdir(workdir: str | Path, out: str | Path, step: int | None = None, use_ema: bool = False,
                   weights_only: bool = False, dtype=np.float32, sampler_steps: int | None = None) -> Path:
    """Write a workdir's checkpoint (``step``, default the latest) in its family's official format; returns the
    file written besides ``out``, or ``out`` itself.

    A VidTok run: the official ``.safetensors`` state dict at ``out`` and ``<out>.yaml`` beside it (returned),
    with the loss's discriminator and log-variance unless ``weights_only`` (``export_vidtok_run``). A VideoFlexTok
    run: an official VideoFlexTok file, or a Hub folder where ``out`` does not end in ``.safetensors``, whose
    ``config.json`` also holds ``sampler_steps``, the Euler steps that ``detokenize`` takes by default
    (``export_flextok_run``). ``dtype=np.float16`` halves the file (the loaders read any float dtype back as float32).
    """
    step, state, document = read_checkpoint(workdir, step)
    if sampler_steps is not None and (FLEXTOK_DOCUMENT not in document or str(out).endswith(".safetensors")):
        raise ConfigError("sampler steps are a setting of a VideoFlexTok Hub folder: export a VideoFlexTok run to a "
                          "folder (an --out that does not end in .safetensors)")
    if FLEXTOK_DOCUMENT in document:
        return export_flextok_run(state, document, out, use_ema, dtype=dtype, sampler_steps=sampler_steps)
    return export_vidtok_run(state, document, out, use_ema, weights_only, dtype=dtype)


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} export", description="Write a workdir's weights as an "
                                     "official .safetensors state dict, with its config YAML beside it.")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True, help="output .safetensors path")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
    parser.add_argument("--ema", action="store_true", help="export the EMA weights")
    parser.add_argument("--float16", action="store_true", help="store the weights as float16 (half the file size)")
    parser.add_argument("--sampler-steps", type=int, default=None, metavar="N",
                        help="VideoFlexTok Hub folder: the Euler steps detokenize takes by default (written in config.json)")
    parser.add_argument("--weights-only", action="store_true",
                        help="only the autoencoder, without the loss's discriminator and log-variance")
    return parser


def _step_range(text: str) -> tuple[int, int]:
    start, sep, stop = text.partition(":")
    if not (sep and start.isdigit() and stop.isdigit() and int(start) < int(stop)):
        raise argparse.ArgumentTypeError(f"expected START:STOP with 0 <= START < STOP, e.g. 10:15, got {text!r}")
    return int(start), int(stop)


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Train or fine-tune a VidTok or VideoFlexTok tokenizer.",
                                     epilog=f"{PROG} export --help: write a workdir's weights as an official "
                                            ".safetensors file")
    parser.add_argument("--config", required=True, help="preset name (shipped in the package) or a YAML file")
    parser.add_argument("--workdir", required=True, help="checkpoints, logs and samples go here")
    parser.add_argument("--steps", type=int, default=None, help="total training steps (overrides 'steps')")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    parser.add_argument("--profile", type=_step_range, default=None, metavar="START:STOP",
                        help="write a jax.profiler trace of steps START+1..STOP to WORKDIR/profile "
                             "(TensorBoard's profile plugin or Perfetto open it)")
    parser.add_argument("--coordinator", default=None, help="host:port of process 0, or 'auto'")
    parser.add_argument("--num_processes", type=int, default=None)
    parser.add_argument("--process_id", type=int, default=None)
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["export"]:
        args = _export_parser().parse_args(argv[1:])
        args.command = "export"
    else:
        args = _train_parser().parse_args(argv)
        args.command = "train"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    use_memory_optimized_cpu_scheduler()  # before JAX starts its backends; halves the CPU step's memory
    if args.command == "export":
        try:
            check_output_file(args.out)
            written = export_workdir(args.workdir, args.out, args.step, args.ema, args.weights_only,
                                     dtype=np.float16 if args.float16 else np.float32, sampler_steps=args.sampler_steps)
        except VidTokError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            return 2
        print(f"wrote {args.out}" + ("" if Path(written) == Path(args.out) else f" and {written}"))
        return 0
    if args.coordinator == "auto":
        jax.distributed.initialize()
    elif args.coordinator:
        jax.distributed.initialize(args.coordinator, num_processes=args.num_processes, process_id=args.process_id)

    if importlib.util.find_spec("grain") is None:
        print("error: training reads its data with grain, which is not installed: pip install 'vidtok-jax[train]'",
              file=sys.stderr, flush=True)
        return 1
    from vidtok_jax.train.engine import train  # imports grain

    enable_compilation_cache_or_warn("training")  # a resumed run skips compiling (minutes on a GPU)
    use_threefry_gpu_kernel()
    overrides = list(args.set) + ([f"steps={args.steps}"] if args.steps is not None else [])
    try:
        stopped_by = train(load_train_config(args.config, overrides), args.workdir, make_family, profile=args.profile)
    except VidTokError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0 if stopped_by is None else 128 + stopped_by  # the shell's code for a signal
