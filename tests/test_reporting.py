"""Console/JSONL reporting of a training run: ETA text and the data-wait fraction."""

import json

from vidtok_jax.train import reporting
from vidtok_jax.train.reporting import Reporter, format_duration


def test_format_duration_counts_days_past_24_hours():
    assert format_duration(59.4) == "0:00:59"
    assert format_duration(3600 + 61) == "1:01:01"
    assert format_duration(2 * 86400 + 3 * 3600 + 4 * 60 + 5) == "2d 3:04:05"
    assert format_duration(float("nan")) == "?"


def test_log_train_reports_throughput_and_data_wait(tmp_path, monkeypatch, capsys):
    clock = iter([100.0, 103.0, 103.0, 107.0, 107.0])  # window start, log, window start, log, next window start
    monkeypatch.setattr(reporting.time, "perf_counter", lambda: next(clock))
    reporter = Reporter(tmp_path, total_steps=10, clips_per_step=2, tensorboard=False)
    metrics = {"total_loss": 1.0, "rec_loss": 0.1, "psnr": 20.0, "g_loss": 0.0, "disc_loss": 0.0}
    reporter.start_window()
    reporter.tick()
    reporter.log_train(1, metrics)  # the first step of a process also compiled: no ETA from it
    first = capsys.readouterr().out
    assert "3 s/step including compilation" in first and "eta" not in first
    reporter.tick(data_wait=0.5)
    reporter.tick(data_wait=0.5)
    reporter.log_train(3, metrics)
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["train/seconds_per_step"] == 2.0
    assert record["train/clips_per_second"] == 1.0
    assert record["train/data_wait_fraction"] == 0.25
    line = capsys.readouterr().out
    assert "1.00 clips/s" in line and "data wait 25%" in line and "eta 0:00:14" in line
