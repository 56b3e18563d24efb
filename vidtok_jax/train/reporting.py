"""What a run reports: console lines with throughput and ETA, TensorBoard scalars, a JSONL log.

Scalars go to ``<workdir>/metrics.jsonl`` (one JSON object per logged step, always) and to
TensorBoard event files in ``<workdir>/tensorboard`` when ``tensorboardX`` is installed and
``log.tensorboard`` is on. Only process 0 writes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax


def _tensorboard_writer(directory: Path):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        print("tensorboardX is not installed: scalars go to metrics.jsonl only (pip install tensorboardX)")
        return None
    return SummaryWriter(str(directory))


class Reporter:
    """Console + JSONL + TensorBoard scalars of one run; ``tick`` marks a finished step for throughput."""

    def __init__(self, workdir: str | Path, total_steps: int, clips_per_step: int, tensorboard: bool):
        self.enabled = jax.process_index() == 0
        self.total_steps, self.clips_per_step = total_steps, clips_per_step
        self.workdir = Path(workdir)
        self._window_start, self._window_steps, self._seconds_per_step = None, 0, None
        self._writer = _tensorboard_writer(self.workdir / "tensorboard") if self.enabled and tensorboard else None

    def start_window(self) -> None:
        """Start timing (after compilation, so throughput counts steps only)."""
        self._window_start, self._window_steps = time.perf_counter(), 0

    def tick(self) -> None:
        self._window_steps += 1

    def _throughput(self) -> tuple[float, float]:
        if self._window_start is None or not self._window_steps:
            return float("nan"), float("nan")
        seconds = (time.perf_counter() - self._window_start) / self._window_steps
        self._seconds_per_step = seconds
        return seconds, self.clips_per_step / seconds

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if not self.enabled:
            return
        record = {"step": step, **{f"{prefix}/{k}": float(v) for k, v in values.items()}}
        with open(self.workdir / "metrics.jsonl", "a") as file:
            file.write(json.dumps(record) + "\n")
        if self._writer is not None:
            for key, value in record.items():
                if key != "step":
                    self._writer.add_scalar(key, value, step)
            self._writer.flush()

    def log_train(self, step: int, metrics: dict[str, float]) -> None:
        seconds, clips = self._throughput()
        self.scalars(step, {**metrics, "seconds_per_step": seconds, "clips_per_second": clips})
        self.start_window()
        if not self.enabled:
            return
        eta = seconds * (self.total_steps - step)
        eta_text = "?" if eta != eta else time.strftime("%H:%M:%S", time.gmtime(eta))
        print(f"step {step}/{self.total_steps}  loss {metrics['total_loss']:.4g}  rec {metrics['rec_loss']:.4f}  "
              f"psnr {metrics['psnr']:.2f}  g {metrics['g_loss']:.3f}  d {metrics['disc_loss']:.3f}  "
              f"{clips:.2f} clips/s  {seconds:.2f} s/step  eta {eta_text}", flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
