"""The ``vidtok-jax`` command line: subcommands, options and their help texts."""

import argparse
import re

from vidtok_jax.vidtok.default_model import DEFAULT_MODEL_NAME

DEFAULT_CONFIG = "vidtok_kl_causal_488_4chn"
DEFAULT_SHARD_SIZE = 100
DEFAULT_EVAL_SIZE = 256
DEFAULT_EVAL_FPS = 30.0
DEFAULT_DEMO_OUTPUT = "."
BUNDLED_FLEX_GUIDANCE = 1.0  # the bundled VideoFlexTok decodes without guidance (docs/videoflextok.md)
OFFICIAL_FLEX_GUIDANCE = 20.0  # the official notebook's

DESCRIPTION = """\
Tokenize and reconstruct videos with the VidTok tokenizers.

Without --config and --checkpoint the commands use the small bundled default model
(vidtok_jax_default): fine for trying them, far below the official VidTok checkpoints. With a
--config and no --checkpoint the model has random weights (a warning says so). Exit status: 0 on
success, 1 for bad input (unreadable video, token file from another model, ...), 2 for bad
command-line usage."""

EPILOG = """\
examples:
  vidtok-jax demo
  vidtok-jax reconstruct in.mp4 out.mp4 --size 128 --side-by-side
  vidtok-jax reconstruct in.mp4 out.mp4 --checkpoint vidtok_kl_causal_488_4chn.ckpt --size 256
  vidtok-jax encode in.mp4 tokens.npz --config vidtok_fsq_causal_488_32768 --checkpoint fsq.ckpt --pad
  vidtok-jax decode tokens.npz out.mp4 --checkpoint fsq.ckpt
  vidtok-jax encode-dir videos/ tokens/ --config vidtok_fsq_causal_488_32768 --checkpoint fsq.ckpt --size 256
  vidtok-jax evaluate --checkpoint vidtok_kl_causal_488_4chn.ckpt --data videos/ --out evaluation/
  vidtok-jax flex-demo --checkpoint runs/flex_export
  vidtok-jax flex-encode in.mp4 flex.npz --checkpoint videoflextok_d18_d28.safetensors --size 256
  vidtok-jax flex-decode flex.npz out.mp4 --checkpoint videoflextok_d18_d28.safetensors --keep-sweep 1,4,16,64,256
  vidtok-jax info"""


class UsageError(Exception):
    """A combination of command-line options that cannot work; exit status 2."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def keep_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"takes positive token counts separated by commas, as 1,4,16, got {text!r}")
    return values


class TileSize(argparse.Action):
    """``--tile H W`` or ``--tile HxW``, stored as (height, width)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parts = [part for value in values for part in re.split(r"[xX]", value)]
        if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
            parser.error(f"{option_string} takes a height and width in pixels, as '{option_string} 256 256' "
                         f"or '{option_string} 256x256', got {' '.join(values)!r}")
        setattr(namespace, self.dest, (int(parts[0]), int(parts[1])))


def _model_options(config_help: str) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("model")
    group.add_argument("--config", help=config_help)
    group.add_argument("--checkpoint", metavar="FILE", help="official VidTok .ckpt or .safetensors weights (default: the "
                       "bundled default model's; random weights for any other --config)")
    group.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                       help="compute type of the convolutions (default: float32); bfloat16 is faster on accelerators")
    group.add_argument("--seed", type=int, help="seed of the random weights used without --checkpoint (default: 0)")
    group.add_argument("--chunk-frames", type=positive_int, metavar="N",
                       help="stream causal models from the file through N frames at a time (a multiple of the temporal "
                            "factor), exactly, so memory does not grow with the video's length; decoding takes "
                            "N / temporal factor latent frames at a time. Non-causal models always run in 16-frame clips")
    group.add_argument("--tile", nargs="+", action=TileSize, metavar=("H", "W"),
                       help="process frames in overlapping spatial tiles of H x W pixels (also written HxW; multiples of the "
                            "spatial factor) to bound memory at high resolutions; an approximation")
    group.add_argument("--tile-overlap", type=non_negative_int, metavar="PIXELS",
                       help="pixels shared by neighbouring tiles, blended (default: a quarter tile)")
    return parent


def _video_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("video")
    group.add_argument("--size", type=positive_int, metavar="N",
                       help="resize the shorter side to N and center-crop N x N (N a multiple of the spatial factor, "
                            "or add --pad)")
    group.add_argument("--pad", action="store_true",
                       help="keep every pixel: pad height and width to multiples of the spatial factor, crop back after decoding")
    group.add_argument("--fps", type=positive_float,
                       help="resample to about this frame rate (keeps every round(video fps / FPS)-th frame)")
    group.add_argument("--max-frames", type=positive_int, metavar="N", help="use only the first N frames (after --fps)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidtok-jax", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = (f"bundled config name or official YAML file (default: the bundled model {DEFAULT_MODEL_NAME}; "
                   f"{DEFAULT_CONFIG} with --checkpoint); 'vidtok-jax info' lists them")
    model = _model_options(config_help)
    video = _video_options()

    reconstruct = commands.add_parser(
        "reconstruct", parents=[model, video], help="encode and decode a video (same frame count and fps)",
        description="Encode and decode a video. The output has the input's frame count and frame rate, and "
                    "its size (or the --size crop).")
    reconstruct.add_argument("input", metavar="IN", help="input video")
    reconstruct.add_argument("output", metavar="OUT", help="output video (.mp4)")
    reconstruct.add_argument("--side-by-side", action="store_true",
                             help="write the input and the reconstruction next to each other")

    encode = commands.add_parser(
        "encode", parents=[model, video], help="video to latents (KL) or token ids (FSQ) in an .npz",
        description="Encode a video into an .npz holding 'latents' float32 [t, h, w, C] (KL models) or "
                    "'tokens' int32 [t, h, w] (FSQ models) and 'metadata' (JSON: config, checkpoint, fps, "
                    "frame count, sizes, padding, dtype, package version).")
    encode.add_argument("input", metavar="IN", help="input video")
    encode.add_argument("output", metavar="OUT.npz", help="token file to write")

    decode = commands.add_parser(
        "decode", parents=[_model_options("config to decode with (default: the one stored in the token file)")],
        help="token file back to a video",
        description="Decode a token file written by 'vidtok-jax encode' into a video with the stored frame "
                    "rate and frame count, cropping off any --pad padding. Give the same --checkpoint as for encoding "
                    "(none for the bundled default model).")
    decode.add_argument("input", metavar="IN.npz", help="token file")
    decode.add_argument("output", metavar="OUT", help="output video (.mp4)")

    info = commands.add_parser("info", help="table of model configs: compression, latent size, parameters",
                               description="List configs with compression factors, latent channels or codebook "
                                           "size, parameter count and compression ratio (pixel values per latent value).")
    info.add_argument("configs", nargs="*", metavar="CONFIG", help="bundled names or YAML files (default: every bundled config)")

    encode_dir = commands.add_parser(
        "encode-dir", parents=[model, video], help="many videos to sharded token files (resumable)",
        description="Encode every video under a folder (recursively), or listed in the 'videos' column of a CSV "
                    "file, into DST/shard-NNNNN.npz files with an index DST/index.json (source -> shard and key, "
                    "metadata). Running again skips finished videos and retries failed ones. A video that cannot "
                    "be read is recorded with the reason and the run goes on; the exit status is 1 if any failed.")
    encode_dir.add_argument("source", metavar="SRC", help="folder of videos, or CSV file with a 'videos' column")
    encode_dir.add_argument("destination", metavar="DST", help="output folder")
    encode_dir.add_argument("--shard-size", type=positive_int, default=DEFAULT_SHARD_SIZE, metavar="N",
                            help=f"videos per shard (default: {DEFAULT_SHARD_SIZE})")
    encode_dir.add_argument("--data-dir", metavar="DIR",
                            help="folder the CSV's paths are relative to (default: the CSV's folder)")

    evaluate = commands.add_parser(
        "evaluate", parents=[model, video], help="reconstruction quality over many videos: PSNR, SSIM, LPIPS, FVD",
        description="Reconstruct every video under a folder (recursively), or listed in the 'videos' column of a CSV "
                    "file, as VidTok's evaluation does (defaults: 30 fps, 256 x 256 center crop, clips of 17 frames "
                    "for causal models or 16 for non-causal ones) and write OUT/metrics.json (per-video PSNR, SSIM "
                    "and LPIPS, their means, FVD over the clips, the settings), a table on stdout, and for the "
                    "first videos a frame grid (input / reconstruction / error x4) and a per-frame PSNR plot as "
                    "PNG. Unreadable videos are reported and the exit status is then 1.")
    evaluate.add_argument("--data", required=True, metavar="DIR_OR_CSV",
                          help="folder of videos, or CSV file with a 'videos' column (paths relative to its folder)")
    evaluate.add_argument("--out", default="evaluation", metavar="DIR", help="output folder (default: evaluation)")
    evaluate.add_argument("--frames", type=positive_int, metavar="N",
                          help="clip length (default: 17 for causal models, 16 for non-causal); also the FVD window")
    evaluate.add_argument("--whole-video", action="store_true",
                          help="reconstruct each video in one piece (causal models: streamed with --chunk-frames) "
                               "instead of clips")
    evaluate.add_argument("--max-videos", type=positive_int, metavar="N", help="evaluate only the first N videos")
    evaluate.add_argument("--lpips-net", choices=("vgg", "alex"), default="vgg",
                          help="LPIPS network (default: vgg, as VidTok reports)")
    evaluate.add_argument("--no-fvd", action="store_true", help="skip FVD (slow without an accelerator)")
    evaluate.add_argument("--max-pictures", type=non_negative_int, default=4, metavar="N",
                          help="write the PNG pictures of the first N videos (default: 4)")

    demo = commands.add_parser(
        "demo", parents=[model, video], help="reconstruct the bundled demo clip: side-by-side video, frame grid, PSNR",
        description="Reconstruct the clip that ships with the package (65 frames of 224 x 128 at 12.5 fps from Big "
                    "Buck Bunny, (c) Blender Foundation, CC BY 3.0; the bundled default model was trained on it) and "
                    "write DIR/demo-side-by-side.mp4 (input left, reconstruction right) and DIR/demo-frames.png "
                    "(input / reconstruction / error x4 at six frames, each headed by its frame number and PSNR); "
                    "print the PSNR of every frame, their mean, and the mean of frames 2..N (causal models code "
                    "frame 1 alone, as an image).")
    demo.add_argument("--output", default=DEFAULT_DEMO_OUTPUT, metavar="DIR",
                      help="existing folder to write into (default: the current folder)")
    _flex_commands(commands)
    return parser


def _flex_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("VideoFlexTok model")
    group.add_argument("--checkpoint", metavar="FILE",
                       help="official VideoFlexTok .safetensors file (config in its metadata), Hub folder (config.json "
                            "beside model.safetensors) or Hub id (e.g. EPFL-VILAB/videoflextok_d18_d28) (default: the "
                            "bundled VideoFlexTok, where this version ships one)")
    group.add_argument("--vidtok-config", metavar="CONFIG",
                       help="config of the VidTok stage when the file has no vae.vidtok.* weights "
                            "(default: vidtok_kl_causal_488_16chn)")
    group.add_argument("--vidtok-checkpoint", metavar="FILE", help="weights of that VidTok stage (.ckpt or .safetensors)")
    group.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="compute type (default: float32)")
    return parent


def _flex_commands(commands) -> None:
    flex = _flex_options()
    encode = commands.add_parser(
        "flex-encode", parents=[flex], help="video to VideoFlexTok token ids (coarse to fine) in an .npz",
        description="Tokenize a video with VideoFlexTok into an .npz holding 'tokens' int32 [t, R] (R tokens per "
                    "latent frame, coarse to fine) and 'metadata' (JSON). The video is padded at its end to the 17 + "
                    "16k frames of the official chunking; flex-decode drops the padding.")
    encode.add_argument("input", metavar="IN", help="input video")
    encode.add_argument("output", metavar="OUT.npz", help="token file to write")
    encode.add_argument("--size", type=positive_int, metavar="N", help="resize the shorter side to N and center-crop N x N "
                        "(default: the model's clip size where its config says it, e.g. the bundled model's 64)")
    encode.add_argument("--fps", type=positive_float, help="resample to about this frame rate (the releases use 8)")
    encode.add_argument("--max-frames", type=positive_int, metavar="N", help="use only the first N frames (after --fps)")
    encode.add_argument("--keep", type=positive_int, metavar="K", help="store only the first K tokens of every latent "
                        "frame (a smaller file; flex-decode decodes it as it is) (default: all)")
    decode = commands.add_parser(
        "flex-decode", parents=[flex], help="VideoFlexTok token file back to a video (any number of tokens)",
        description="Decode a flex-encode token file with the rectified-flow decoder, keeping the first k tokens of "
                    "every latent frame. --keep-sweep writes the videos of several k side by side.")
    decode.add_argument("input", metavar="IN.npz", help="token file")
    decode.add_argument("output", metavar="OUT", help="output video (.mp4)")
    keep = decode.add_mutually_exclusive_group()
    keep.add_argument("--keep", type=positive_int, metavar="K", help="tokens kept per latent frame (default: all)")
    keep.add_argument("--keep-sweep", type=keep_list, metavar="K1,K2,...", help="decode each k, videos side by side")
    decode.add_argument("--steps", type=positive_int, help="Euler steps of the sampler (default: the model's; 30 "
                        "unless its config.json says otherwise, 1 for the bundled model)")
    decode.add_argument("--guidance", type=float, help="guidance scale; 1 turns guidance off (default: 20; the "
                        "bundled model's 1)")
    decode.add_argument("--cfg", action="store_true", help="plain classifier-free guidance instead of APG")
    decode.add_argument("--seed", type=int, default=0, help="seed of the sampler's noise (default: 0)")
    demo = commands.add_parser(
        "flex-demo", parents=[flex], help="a VideoFlexTok on the bundled demo clip: a row per k = 1, 2, 4, ..., R",
        description="Tokenize the first 17 frames of the bundled demo clip with a VideoFlexTok (--checkpoint: a file "
                    "or Hub folder that says its clip size, as train.py export writes), "
                    "decode them from the first k tokens of every latent frame for k = 1, 2, 4, ..., R, and write "
                    "DIR/flex-demo.mp4 (input, VidTok, each k side by side) and DIR/flex-demo.png (a row per k, "
                    "captioned with k and PSNR); print the PSNR of each k.")
    demo.add_argument("--output", default=DEFAULT_DEMO_OUTPUT, metavar="DIR",
                      help="existing folder to write into (default: the current folder)")
    demo.add_argument("--steps", type=positive_int,
                      help="Euler steps of the sampler (default: the model's; 30 unless its config.json says otherwise)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the sampler's noise (default: 0)")
