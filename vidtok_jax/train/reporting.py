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

# (metric, console label, format) shown on the console line of a training step, where the family reports it.
CONSOLE_METRICS = (("total_loss", "loss", ".4g"), ("rec_loss", "rec", ".4f"), ("psnr", "psnr", ".2f"),
                   ("g_loss", "g", ".3f"), ("disc_loss", "d", ".3f"), ("mean_keep", "mean k", ".1f"),
                   ("grad_norm", "|grad|", ".3g"))


def _tensorboard_writer(directory: Path):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        print("tensorboardX is not installed: scalars go to metrics.jsonl only (pip install tensorboardX)")
        return None
    return SummaryWriter(str(directory))


def format_duration(seconds: float) -> str:
    """``H:MM:SS``, with a day count in front past 24 hours; ``?`` when unknown."""
    if seconds != seconds:
        return "?"
    days, rest = divmod(round(seconds), 86400)
    text = f"{rest // 3600}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


class Reporter:
    """Console + JSONL + TensorBoard scalars of one run; ``tick`` marks a finished step for throughput."""

    def __init__(self, workdir: str | Path, total_steps: int, clips_per_step: int, tensorboard: bool):
        self.enabled = jax.process_index() == 0
        self.total_steps, self.clips_per_step = total_steps, clips_per_step
        self.workdir = Path(workdir)
        self._window_start, self._window_steps, self._window_data_wait = None, 0, 0.0
        self._compiled = False  # the first logged window of a process also holds the step's compilation
        self._writer = _tensorboard_writer(self.workdir / "tensorboard") if self.enabled and tensorboard else None

    def start_window(self) -> None:
        """Start timing (after compilation, so throughput counts steps only)."""
        self._window_start, self._window_steps, self._window_data_wait = time.perf_counter(), 0, 0.0

    def tick(self, data_wait: float = 0.0) -> None:
        """One step done, ``data_wait`` seconds of which went to waiting for its batch."""
        self._window_steps += 1
        self._window_data_wait += data_wait

    def _throughput(self) -> tuple[float, float, float]:
        """Seconds per step, clips per second and the fraction of time spent waiting for input."""
        if self._window_start is None or not self._window_steps:
            return float("nan"), float("nan"), float("nan")
        elapsed = time.perf_counter() - self._window_start
        seconds = elapsed / self._window_steps
        return seconds, self.clips_per_step / seconds, self._window_data_wait / elapsed

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
        """Log a training step's metrics; the console line shows those of `CONSOLE_METRICS` the family reports."""
        seconds, clips, data_wait = self._throughput()
        self.scalars(step, {**metrics, "seconds_per_step": seconds, "clips_per_second": clips,
                            "data_wait_fraction": data_wait})
        self.start_window()
        if not self.enabled:
            return
        shown = "  ".join(f"{label} {metrics[key]:{spec}}" for key, label, spec in CONSOLE_METRICS if key in metrics)
        if not self._compiled:  # no ETA from a window that includes compiling the step
            self._compiled = True
            print(f"step {step}/{self.total_steps}  {shown}  {seconds:.3g} s/step including compilation", flush=True)
            return
        print(f"step {step}/{self.total_steps}  {shown}  "
              f"{clips:.2f} clips/s  {seconds:.3g} s/step  data wait {data_wait:.0%}  "
              f"eta {format_duration(seconds * (self.total_steps - step))}", flush=True)

    def message(self, text: str) -> None:
        if self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
