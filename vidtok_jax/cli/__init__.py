"""The ``vidtok-jax`` command: reconstruct, encode, decode, info, encode-dir, evaluate, demo, flex-encode, flex-decode,
flex-demo.

``main(argv)`` returns the exit status: 0 on success, 1 for bad input (reported as one line
``vidtok-jax: error: ...`` on stderr, no traceback, no output file left behind), 2 for bad usage.
"""

import sys

from vidtok_jax import __version__
from vidtok_jax.cli.demo import DEMO_CLIP, check_output_folder, demo
from vidtok_jax.cli.encode_dir import encode_dir, source_folder
from vidtok_jax.cli.evaluate import EvaluationOptions, evaluate, require_metric_weights
from vidtok_jax.cli.flex import FlexOptions, flex_decode, flex_encode, load_flex
from vidtok_jax.cli.flex_demo import flex_demo
from vidtok_jax.cli.frames import Preprocessing, open_video, side_by_side, to_output_frames
from vidtok_jax.cli.info import print_info
from vidtok_jax.cli.model import NONCAUSAL_CLIP_FRAMES, ModelOptions, decode_video, encode_video, load_model, reconstruct_video
from vidtok_jax.cli.parser import (BUNDLED_FLEX_GUIDANCE, DEFAULT_CONFIG, DEFAULT_EVAL_FPS,
                                   DEFAULT_EVAL_SIZE, OFFICIAL_FLEX_GUIDANCE, UsageError,
                                   build_parser)
from vidtok_jax.cli.plots import require_plotting
from vidtok_jax.cli.tokens import (check_token_file_matches, load_token_file, model_metadata, save_token_file,
                                   video_metadata)
from vidtok_jax.data.transforms import SpatialPadding
from vidtok_jax.data.video import VideoWriter, check_video_output
from vidtok_jax.errors import InputError, VidTokError
from vidtok_jax.runtime.atomic_files import check_output_file, check_output_folder_apart
from vidtok_jax.runtime.compilation_cache import enable_compilation_cache_or_warn
from vidtok_jax.runtime.cpu_memory import use_memory_optimized_cpu_scheduler
from vidtok_jax.vidtok.config import ModelConfig, bundled_config_names, load_model_config
from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_NAME, with_default_weights
from vidtok_jax.vidtok.tiling import check_tiling


def _model_choice(config: str | None, checkpoint: str | None) -> tuple[str, str | None]:
    """The config and weights to run: the bundled default model when neither is given, DEFAULT_CONFIG for a
    checkpoint alone, random weights for a config alone (other than the default model's)."""
    return with_default_weights(config or (DEFAULT_CONFIG if checkpoint else None), checkpoint)


def _model_options(args, config: str, checkpoint: str | None, seed: int) -> ModelOptions:
    return ModelOptions(config=config, checkpoint=checkpoint, dtype=args.dtype, seed=seed,
                        chunk_frames=args.chunk_frames, tile=args.tile, tile_overlap=args.tile_overlap)


def _preprocessing(args, spatial_factor: int) -> Preprocessing:
    if args.size is not None and args.size % spatial_factor and not args.pad:
        raise UsageError(f"--size {args.size} is not a multiple of the model's spatial factor {spatial_factor}: "
                         f"use a multiple such as {max(spatial_factor, args.size // spatial_factor * spatial_factor)}, "
                         "or add --pad")
    return Preprocessing(size=args.size, pad=args.pad, fps=args.fps, max_frames=args.max_frames)


def _check_model_options(options: ModelOptions, config: ModelConfig) -> None:
    if options.tile_overlap is not None and options.tile is None:
        raise UsageError("--tile-overlap needs --tile")
    if options.tile is not None:
        try:
            check_tiling(options.tile, options.tile_overlap or 0, config.spatial_factor)
        except InputError as error:
            raise UsageError(f"--tile/--tile-overlap: {error}") from None
    if options.chunk_frames is not None and options.chunk_frames % config.temporal_factor:
        raise UsageError(f"--chunk-frames {options.chunk_frames} is not a multiple of the model's temporal factor "
                         f"{config.temporal_factor}")


def _setup(args) -> tuple[ModelOptions, ModelConfig, Preprocessing]:
    """Options of the commands that read videos, checked before anything slow happens."""
    config_name, checkpoint = _model_choice(args.config, args.checkpoint)
    options = _model_options(args, config_name, checkpoint, args.seed or 0)
    config = load_model_config(config_name)
    _check_model_options(options, config)
    return options, config, _preprocessing(args, config.spatial_factor)


def run_reconstruct(args) -> int:
    check_output_file(args.output, args.input)
    check_video_output(args.output)
    options, config, preprocessing = _setup(args)
    source = open_video(args.input, preprocessing, config.spatial_factor)
    tokenizer = load_model(options)
    written = 0
    with VideoWriter(args.output, source.fps) as writer:
        for inputs, outputs in reconstruct_video(tokenizer, source, options):
            frames = (side_by_side(inputs, outputs, source.padding) if args.side_by_side
                      else to_output_frames(outputs, source.padding))
            writer.write(frames)
            written += len(frames)
    print(f"wrote {args.output}: {written} frames at {source.fps:g} fps")
    return 0


def run_encode(args) -> int:
    check_output_file(args.output, args.input)
    options, config, preprocessing = _setup(args)
    source = open_video(args.input, preprocessing, config.spatial_factor)
    tokenizer = load_model(options)
    tokens, num_frames = encode_video(tokenizer, source, options)
    metadata = {**model_metadata(config, options, __version__), "video": video_metadata(source, num_frames)}
    save_token_file(args.output, config, tokens, metadata)
    kind = "token ids" if config.is_fsq else "latents"
    print(f"wrote {args.output}: {kind} {list(tokens.shape)} from {num_frames} frames")
    return 0


def _check_same_weights(name: str, metadata: dict, checkpoint: str | None) -> None:
    stored = metadata["checkpoint"]
    if stored is not None and checkpoint is None:
        raise InputError(f"{name}: made with checkpoint {stored}: pass it with --checkpoint")
    if stored is None and checkpoint is not None:
        raise InputError(f"{name}: made with random weights (seed {metadata['seed']}), not a checkpoint: "
                         "decode without --checkpoint")


def run_decode(args) -> int:
    check_output_file(args.output, args.input)
    check_video_output(args.output)
    tokens, metadata = load_token_file(args.input)
    config_name, checkpoint = _model_choice(args.config or metadata["config"], args.checkpoint)
    config = load_model_config(config_name)
    check_token_file_matches(args.input, tokens, metadata, config)
    _check_same_weights(args.input, metadata, checkpoint)
    seed = args.seed if args.seed is not None else metadata["seed"] or 0
    options = _model_options(args, config_name, checkpoint, seed)
    _check_model_options(options, config)
    tokenizer = load_model(options)
    video = metadata["video"]
    padding = SpatialPadding(**video["padding"])
    with VideoWriter(args.output, video["fps"]) as writer:
        for frames in decode_video(tokenizer, tokens, video["num_frames"], options):
            writer.write(to_output_frames(frames, padding))
    print(f"wrote {args.output}: {video['num_frames']} frames at {video['fps']:g} fps")
    return 0


def run_info(args) -> int:
    print_info(args.configs or [DEFAULT_MODEL_NAME, *bundled_config_names()])
    return 0


def run_encode_dir(args) -> int:
    check_output_folder_apart(args.destination, source_folder(args.source, args.data_dir))
    options, config, preprocessing = _setup(args)
    tokenizer = load_model(options)
    return encode_dir(args.source, args.destination, data_dir=args.data_dir, shard_size=args.shard_size,
                      tokenizer=tokenizer, model=options, preprocessing=preprocessing,
                      model_metadata=model_metadata(config, options, __version__))


def _clip_frames(args, config: ModelConfig) -> int:
    """--frames, or VidTok's evaluation clips: 16 frames, plus the first frame for causal models."""
    frames = args.frames or NONCAUSAL_CLIP_FRAMES + int(config.causal)
    fits = (frames - int(config.causal)) % config.temporal_factor == 0
    if not fits:
        form = "1 + a multiple" if config.causal else "a multiple"
        raise UsageError(f"--frames {frames} must be {form} of the model's temporal factor {config.temporal_factor}")
    return frames


def run_evaluate(args) -> int:
    # evaluate's own defaults; not set on the parser, whose --size/--fps actions the commands share
    args.size = DEFAULT_EVAL_SIZE if args.size is None else args.size
    args.fps = DEFAULT_EVAL_FPS if args.fps is None else args.fps
    check_output_folder_apart(args.out, source_folder(args.data, None))
    options, config, preprocessing = _setup(args)
    evaluation = EvaluationOptions(frames=_clip_frames(args, config), whole_video=args.whole_video,
                                   max_videos=args.max_videos, lpips_net=args.lpips_net, fvd=not args.no_fvd,
                                   max_pictures=args.max_pictures)
    require_metric_weights(evaluation)  # before the model: missing weights fail in a second, not after the work
    if evaluation.max_pictures:
        require_plotting()
    tokenizer = load_model(options)
    return evaluate(args.data, args.out, tokenizer=tokenizer, model=options, preprocessing=preprocessing, options=evaluation)


def run_demo(args) -> int:
    check_output_folder(args.output)
    options, config, preprocessing = _setup(args)
    source = open_video(DEMO_CLIP, preprocessing, config.spatial_factor)
    tokenizer = load_model(options)
    return demo(args.output, tokenizer=tokenizer, model=options, source=source)


def _flex_options(args) -> FlexOptions:
    return FlexOptions(checkpoint=args.checkpoint, vidtok_config=args.vidtok_config,
                       vidtok_checkpoint=args.vidtok_checkpoint, dtype=args.dtype)


def run_flex_encode(args) -> int:
    preprocessing = Preprocessing(size=args.size, fps=args.fps, max_frames=args.max_frames)
    return flex_encode(args.input, args.output, _flex_options(args), preprocessing, keep=args.keep)


def run_flex_decode(args) -> int:
    bundled = args.checkpoint is None
    guidance = args.guidance if args.guidance is not None else (BUNDLED_FLEX_GUIDANCE if bundled else OFFICIAL_FLEX_GUIDANCE)
    return flex_decode(args.input, args.output, _flex_options(args),
                       keeps=args.keep_sweep or ([args.keep] if args.keep else None),
                       steps=args.steps, guidance=guidance, apg=not args.cfg, seed=args.seed)


def run_flex_demo(args) -> int:
    check_output_folder(args.output)
    return flex_demo(args.output, load_flex(_flex_options(args)), steps=args.steps, seed=args.seed)


_COMMANDS = {"reconstruct": run_reconstruct, "encode": run_encode, "decode": run_decode, "info": run_info,
             "encode-dir": run_encode_dir, "evaluate": run_evaluate, "demo": run_demo,
             "flex-encode": run_flex_encode, "flex-decode": run_flex_decode, "flex-demo": run_flex_demo}


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code
    if args.command != "info":  # XLA compilation is most of a short run
        use_memory_optimized_cpu_scheduler()
        enable_compilation_cache_or_warn("vidtok-jax")
    try:
        return _COMMANDS[args.command](args)
    except UsageError as error:
        print(f"vidtok-jax {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (VidTokError, OSError) as error:
        print(f"vidtok-jax: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vidtok-jax: interrupted", file=sys.stderr)
        return 130
