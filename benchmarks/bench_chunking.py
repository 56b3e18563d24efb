"""Benchmark whole-clip against chunked reconstruction of one video, side by side in one process.

    python benchmarks/bench_chunking.py                      # the bundled model and demo clip at 128x128
    python benchmarks/bench_chunking.py --video ../shared/videos/example.mp4 --chunks 8 16 32 64

Every variant is compiled first; then the variants run in turn, `--repeats` rounds, and the best
time of each is compared with the whole-clip time as a ratio (these machines are noisy, so the
rounds alternate). The video is padded to 1 + 4k frames by repeating its last frame, as the CLI
does. Prints a table and writes benchmarks/results/bench_chunking.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

import vidtok_jax as vt
from vidtok_jax.cli.demo import DEMO_CLIP

RESULTS = Path(__file__).resolve().parent / "results" / "bench_chunking.json"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", default=str(DEMO_CLIP))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--chunks", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    tok = vt.load_tokenizer()
    video, _ = vt.read_video(args.video, size=args.size)
    length = tok.config.causal_length(video.shape[1])
    video = np.concatenate([video, np.repeat(video[:, -1:], length - video.shape[1], axis=1)], axis=1)
    variants = [None, *args.chunks]

    def run(chunk):
        start = time.perf_counter()
        jax.block_until_ready(tok.reconstruct(video) if chunk is None else tok.reconstruct(video, chunk_frames=chunk))
        return time.perf_counter() - start

    compile_seconds = {chunk: run(chunk) for chunk in variants}
    times = {chunk: [] for chunk in variants}
    for _ in range(args.repeats):
        for chunk in variants:
            times[chunk].append(run(chunk))
    whole = min(times[None])
    rows = [{"chunk_frames": chunk, "best_s": min(times[chunk]), "ratio_to_whole": min(times[chunk]) / whole,
             "first_call_s": compile_seconds[chunk], "runs_s": times[chunk]} for chunk in variants]
    print(f"{tok.config.name}, {video.shape[1]} frames of {video.shape[2]}x{video.shape[3]}, "
          f"{jax.devices()[0].platform}, best of {args.repeats}")
    print("| chunk_frames | best time | ratio to whole clip | first call (compile + run) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['chunk_frames'] or 'whole clip'} | {row['best_s']:.2f} s | {row['ratio_to_whole']:.2f} | "
              f"{row['first_call_s']:.1f} s |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"video": args.video, "frames": video.shape[1], "size": args.size,
                                   "platform": jax.devices()[0].platform, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
