"""Training runs end to end: resume after kill -9, NaN stop, stage 2, export, loss going down, scale-out.

Runs go through ``train.py`` in subprocesses with a tiny model (ch 8, two levels, 5 frames at
32x32, no LPIPS: the reconstruction loss is tested in test_losses) and a constant learning rate,
so every run of the same settings compiles the same program: a persistent compilation cache shared
by the tests of this session compiles it once. The discriminator trains from step 3 and the
generator's GAN term starts at step 4 (official global steps 7 and 8), so resuming crosses the switch.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vidtok_jax.checkpoints.workdir import read_checkpoint
from vidtok_jax.data.video import write_video
from vidtok_jax.train.command import export_workdir
from vidtok_jax.vidtok.checkpoint import load_params_from_workdir
from tests.conftest import REPO
from tests.helpers import TINY, assert_same_tree, flatten_tree, kill_after_first_checkpoint, read_metrics, subprocess_env

pytestmark = pytest.mark.integration  # training runs through train.py, several in subprocesses

REFERENCE = REPO.parent / "shared" / "vidtok_reference" / "kl_causal_488_4chn"


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("jax_cache")


def _command(workdir: Path, steps: int, extra: list[str] = (), config: str = "tiny_cpu") -> list[str]:
    sets = [arg for item in TINY + list(extra) for arg in ("--set", item)]
    return [sys.executable, str(REPO / "train.py"), "--config", config, "--workdir", str(workdir),
            "--steps", str(steps), *sets]


def run_train(workdir: Path, steps: int, cache: Path, extra: list[str] = (), devices: int | None = None,
              check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(_command(workdir, steps, extra), cwd=REPO, env=subprocess_env(cache, devices), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode:
        raise AssertionError(f"train.py failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="session")
def straight_run(tmp_path_factory, compile_cache) -> Path:
    """Six steps without interruption (checkpoints at 2, 4, 6)."""
    workdir = tmp_path_factory.mktemp("straight")
    run_train(workdir, 6, compile_cache)
    return workdir


def test_killed_run_resumes_exactly(straight_run, tmp_path, compile_cache):
    workdir = tmp_path / "killed"
    finished = kill_after_first_checkpoint(_command(workdir, 1000), workdir, subprocess_env(compile_cache), 2)
    assert finished[-1] < 6, f"killed too late to test resuming (checkpoints {finished})"
    half_written = workdir / "checkpoints" / f"{finished[-1] + 2}.orbax-checkpoint-tmp-1234"
    (half_written / "state").mkdir(parents=True)
    (half_written / "state" / "garbage").write_bytes(b"\x00" * 100)

    result = run_train(workdir, 6, compile_cache)
    assert f"resumed from step {finished[-1]}" in result.stdout
    _, straight, _ = read_checkpoint(straight_run, 6)
    _, resumed, _ = read_checkpoint(workdir, 6)
    assert_same_tree(straight, resumed)
    train_lines = {m["step"]: m["train/total_loss"] for m in read_metrics(straight_run) if "train/total_loss" in m}
    resumed_lines = {m["step"]: m["train/total_loss"] for m in read_metrics(workdir) if "train/total_loss" in m}
    assert resumed_lines[6] == train_lines[6]


def test_sigterm_saves_the_step_in_flight_and_resumes_exactly(straight_run, tmp_path, compile_cache):
    workdir = tmp_path / "terminated"
    rare_saves = ["checkpoint.every=1000"]
    process = subprocess.Popen(_command(workdir, 1000, rare_saves), cwd=REPO, env=subprocess_env(compile_cache),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = workdir / "metrics.jsonl"
    deadline = time.monotonic() + 600
    while not (log.is_file() and log.read_text()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    saved = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert len(saved) == 1 and 1 <= saved[0] < 6, f"checkpoints {saved}\n{output[-3000:]}"
    assert f"step {saved[0]}: stopped by SIGTERM; checkpoint of step {saved[0]} saved" in output

    result = run_train(workdir, 6, compile_cache, rare_saves)
    assert f"resumed from step {saved[0]}" in result.stdout
    assert_same_tree(read_checkpoint(straight_run, 6)[1], read_checkpoint(workdir, 6)[1])


def _data_worker_pids(parent: int) -> list[int]:
    """The grain worker processes (spawned children) of ``parent``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and spawned:
            pids.append(int(stat.parent.name))
    return pids


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _train_steps_logged(workdir: Path) -> int:
    log = workdir / "metrics.jsonl"
    return sum('"train/total_loss"' in line for line in log.read_text().splitlines()) if log.is_file() else 0


@pytest.fixture(scope="module")
def small_videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("small_videos")
    for index in range(3):
        y, x = np.mgrid[0:48, 0:64]
        frames = np.stack([np.stack([(x * 4 + 9 * t + 40 * index) % 256, (y * 5 + 3 * t) % 256,
                                     np.full_like(x, 60 * index)], -1) for t in range(24)]).astype(np.uint8)
        write_video(folder / f"clip{index}.mp4", frames, 24)
    return folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the data workers through /proc")
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_the_whole_job_while_waiting_for_data_saves_and_resumes(stop_signal, small_videos, tmp_path,
                                                                            compile_cache):
    """A scheduler's SIGTERM or a terminal's Ctrl-C reaches the data workers too, here while the run waits for data.

    The worker is frozen until the run has used up what was prefetched, then the whole process group
    gets the signal and the worker is let go: SIGTERM ends it, Ctrl-C is ignored by it. Either way the run
    saves the steps it finished: the one in flight while it read ahead for the next batch (whose metrics are
    logged after that read) included, and the batch read ahead, if it came, is left for the resumed run.
    """
    workdir = tmp_path / "job"
    video_data = ["data.source=videos", f"data.data_dir={small_videos}", "data.num_workers=1",
                  "checkpoint.every=1000", "eval.every=1000"]
    process = subprocess.Popen(_command(workdir, 1000, video_data), cwd=REPO, env=subprocess_env(compile_cache),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not _train_steps_logged(workdir) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _data_worker_pids(process.pid)
        assert len(workers) == 1, f"expected one data worker, found {workers}"
        os.kill(workers[0], signal.SIGSTOP)
        steps, idle, deadline = 0, False, time.monotonic() + 300
        while not idle and process.poll() is None and time.monotonic() < deadline:
            before, cpu = _train_steps_logged(workdir), _cpu_seconds(process.pid)
            time.sleep(1.0)
            steps = _train_steps_logged(workdir)
            idle = steps == before and _cpu_seconds(process.pid) - cpu < 0.2
        assert idle, "the run did not come to wait for data (no step and hardly any CPU in a second)"
        os.killpg(process.pid, stop_signal)
        os.kill(workers[0], signal.SIGCONT)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 128 + stop_signal, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    expected = steps + 1
    saved = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert saved == [expected], f"checkpoints {saved} after {steps} steps\n{output[-3000:]}"
    assert f"step {expected}: stopped by {stop_signal.name}; checkpoint of step {expected} saved" in output

    resumed = run_train(workdir, expected + 1, compile_cache, video_data)
    assert f"resumed from step {expected}" in resumed.stdout
    straight = tmp_path / "straight"
    run_train(straight, expected + 1, compile_cache, video_data)
    assert_same_tree(read_checkpoint(straight, expected + 1)[1], read_checkpoint(workdir, expected + 1)[1])


def test_nan_stops_with_message_and_keeps_last_good_checkpoint(straight_run, tmp_path, compile_cache):
    """Metrics are fetched on log and checkpoint steps only (every 4 and 8 here): the first non-finite step (7)
    is still named exactly, and the checkpoint of step 8 is never written."""
    workdir = tmp_path / "diverging"
    subprocess.run(["cp", "-r", str(straight_run), str(workdir)], check=True)
    sparse = ["optimizer.learning_rate=1e30", "log.every=4", "checkpoint.every=8", "eval.every=8"]
    result = run_train(workdir, 10, compile_cache, sparse, check=False)
    assert result.returncode == 1
    assert "step 7: a loss" in result.stderr, result.stderr[-2000:]
    assert "NaN/Inf" in result.stderr and "Last good checkpoint: step 6" in result.stderr, result.stderr[-2000:]
    steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    assert steps[-1] == 6
    config, params = load_params_from_workdir(workdir)
    assert all(np.all(np.isfinite(leaf)) for _, leaf in flatten_tree(params))
    assert_same_tree(params, load_params_from_workdir(straight_run, 6)[1])


def test_stage2_trains_only_the_decoder(straight_run, tmp_path, compile_cache):
    workdir = tmp_path / "stage2"
    run_train(workdir, 2, compile_cache, ["stage=2", f"init.checkpoint={straight_run}"])
    _, state, _ = read_checkpoint(workdir, 2)
    _, stage1 = load_params_from_workdir(straight_run)
    assert_same_tree(state["frozen"]["encoder"], stage1["encoder"])
    assert set(state["generator"]["autoencoder"]) == {"decoder"}
    optimizer_paths = [path for path, _ in flatten_tree(state["generator_opt"])]
    assert optimizer_paths and not any("encoder" in path for path in optimizer_paths)
    assert any("decoder" in path for path in optimizer_paths)
    decoder_change = max(np.max(np.abs(a - b)) for (_, a), (_, b) in
                         zip(flatten_tree(state["generator"]["autoencoder"]["decoder"]), flatten_tree(stage1["decoder"])))
    assert decoder_change > 0


def test_export_writes_official_layout_that_load_tokenizer_reads(straight_run, tmp_path):
    import vidtok_jax as vt
    from vidtok_jax.checkpoints.state_dict import read_state_dict

    out = tmp_path / "model.safetensors"
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "export", "--workdir", str(straight_run),
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    state_dict = read_state_dict(out)
    assert "loss.logvar" in state_dict and "loss.discriminator.main.0.weight" in state_dict
    assert "encoder.conv_in.conv.weight" in state_dict and "decoder.conv_out.conv.weight" in state_dict
    tok = vt.load_tokenizer(out.with_suffix(".yaml"), out)
    _, params = load_params_from_workdir(straight_run)
    assert_same_tree(tok.params, params)


def test_weights_only_export_holds_just_the_autoencoder(straight_run, tmp_path):
    from vidtok_jax.checkpoints.state_dict import read_state_dict, state_dict_from_params

    out = tmp_path / "weights.safetensors"
    export_workdir(straight_run, out, use_ema=True, weights_only=True)
    state_dict = read_state_dict(out)
    _, params = load_params_from_workdir(straight_run)
    assert set(state_dict) == set(state_dict_from_params(params)) and not any(k.startswith("loss.") for k in state_dict)


def test_load_tokenizer_reads_a_training_workdir(straight_run):
    import vidtok_jax as vt

    tok = vt.load_tokenizer(checkpoint=straight_run)
    config, params = load_params_from_workdir(straight_run)
    assert tok.config == config and tok.config.encoder.ch == 8
    assert_same_tree(tok.params, params)
    video = np.random.default_rng(0).uniform(-1, 1, (1, 5, 32, 32, 3)).astype(np.float32)
    assert np.all(np.isfinite(np.asarray(tok.reconstruct(video))))


def test_loss_falls_in_thirty_steps(tmp_path, compile_cache, straight_run):
    """Also: ``--profile 20:22`` writes a trace of two steps that TensorBoard (xplane) and Perfetto read."""
    workdir = tmp_path / "thirty"
    result = subprocess.run(_command(workdir, 30) + ["--profile", "20:22"], cwd=REPO, env=subprocess_env(compile_cache),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 22: profile of steps 21-22 written" in result.stdout
    assert list((workdir / "profile").rglob("*.xplane.pb")) and list((workdir / "profile").rglob("*.trace.json.gz"))
    metrics = [m for m in read_metrics(workdir) if "train/rec_loss" in m]
    rec = [m["train/rec_loss"] for m in metrics]
    psnr = [m["train/psnr"] for m in metrics]
    assert len(rec) == 30
    assert np.mean(rec[-5:]) < 0.9 * np.mean(rec[:5])
    assert np.mean(psnr[-5:]) > np.mean(psnr[:5]) + 0.8
    assert list((workdir / "samples").glob("*.png"))


@pytest.mark.slow
def test_tiny_preset_learns_over_three_hundred_steps(tmp_path, compile_cache):
    """The tiny_cpu preset as shipped (LPIPS, GAN from step 101, EMA): loss down, PSNR up."""
    workdir = tmp_path / "tiny"
    result = subprocess.run([sys.executable, str(REPO / "train.py"), "--config", "tiny_cpu", "--workdir",
                             str(workdir)], cwd=REPO, env=subprocess_env(compile_cache), capture_output=True, text=True,
                            timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = [m for m in read_metrics(workdir) if "train/rec_loss" in m]
    assert np.mean([m["train/rec_loss"] for m in metrics[-3:]]) < 0.6 * np.mean([m["train/rec_loss"] for m in metrics[:3]])
    evals = [m["eval/eval_psnr"] for m in read_metrics(workdir) if "eval/eval_psnr" in m]
    assert evals[-1] > evals[0] + 3.0


@pytest.mark.slow
def test_one_and_eight_devices_give_the_same_params(straight_run, tmp_path, compile_cache):
    workdir = tmp_path / "eight"
    result = run_train(workdir, 6, compile_cache, ["mesh.data=4", "mesh.fsdp=2", "data.batch_size=8",
                                                   "eval.batch_size=8"], devices=8)
    assert "mesh {'data': 4, 'fsdp': 2} over 8 cpu devices" in result.stdout
    single = tmp_path / "single"
    run_train(single, 6, compile_cache, ["data.batch_size=8", "eval.batch_size=8"])
    assert_same_tree(load_params_from_workdir(single)[1], load_params_from_workdir(workdir)[1], atol=2e-4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_localhost(tmp_path, compile_cache):
    workdir, single = tmp_path / "two", tmp_path / "one"
    coordinator = f"127.0.0.1:{_free_port()}"
    processes = [subprocess.Popen(_command(workdir, 2) + ["--coordinator", coordinator, "--num_processes", "2",
                                                          "--process_id", str(index)],
                                  cwd=REPO, env=subprocess_env(compile_cache), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for index in range(2)]
    try:
        outputs = [process.communicate(timeout=900)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "2 process(es)" in outputs[0]
    run_train(single, 2, compile_cache, devices=2, extra=["mesh.data=2"])
    assert_same_tree(load_params_from_workdir(single)[1], load_params_from_workdir(workdir)[1], atol=2e-4)


@pytest.mark.skipif(not (REFERENCE / "model.ckpt").is_file(), reason="shared/vidtok_reference is missing")
def test_finetune_starts_from_the_official_discriminator_and_logvar():
    from vidtok_jax.checkpoints.state_dict import read_state_dict
    from vidtok_jax.train.config import load_train_config
    from vidtok_jax.vidtok.family import initial_weights

    config = load_train_config("finetune_kl_causal_488_4chn", [
        f"model.config={REFERENCE / 'config.yaml'}", f"init.checkpoint={REFERENCE / 'model.ckpt'}",
        "data.source=synthetic", "loss.disc_channels=8", "loss.disc_num_layers=2"])
    initial = initial_weights(config)
    official = read_state_dict(REFERENCE / "model.ckpt")
    np.testing.assert_array_equal(initial["logvar"], official["loss.logvar"])
    np.testing.assert_array_equal(initial["discriminator"]["params"]["main.0"]["kernel"],
                                  np.transpose(official["loss.discriminator.main.0.weight"], (2, 3, 1, 0)))
    np.testing.assert_array_equal(initial["discriminator"]["batch_stats"]["main.3"]["var"],
                                  official["loss.discriminator.main.3.running_var"])
    np.testing.assert_array_equal(initial["autoencoder"]["decoder"]["conv_out"]["conv"]["bias"],
                                  official["decoder.conv_out.conv.bias"])
    wrong = load_train_config("finetune_kl_causal_488_4chn", [
        f"model.config={REFERENCE / 'config.yaml'}", f"init.checkpoint={REFERENCE / 'model.ckpt'}",
        "data.source=synthetic"])
    with pytest.raises(Exception, match="disc_channels"):
        initial_weights(wrong)


@pytest.mark.slow
@pytest.mark.skipif(not (REFERENCE / "model.ckpt").is_file(), reason="shared/vidtok_reference is missing")
def test_finetune_from_the_official_checkpoint_runs(tmp_path, compile_cache):
    workdir = tmp_path / "finetune"
    command = [sys.executable, str(REPO / "train.py"), "--config", "finetune_kl_causal_488_4chn", "--workdir",
               str(workdir), "--steps", "2"]
    for item in [f"model.config={REFERENCE / 'config.yaml'}", f"init.checkpoint={REFERENCE / 'model.ckpt'}",
                 "data.source=synthetic", "data.num_frames=5", "data.height=32", "data.width=32",
                 "data.batch_size=1", "eval.batch_size=1", "loss.disc_channels=8", "loss.disc_num_layers=2",
                 "model.dtype=float32", "optimizer.warmup_steps=1"]:
        command += ["--set", item]
    result = subprocess.run(command, cwd=REPO, env=subprocess_env(compile_cache), capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [m["train/total_loss"] for m in read_metrics(workdir) if "train/total_loss" in m]
    assert losses and all(np.isfinite(losses))
