"""The vidtok-jax command, run in-process through cli.main with the small reference models (ch=16).

Every model run here uses 9 frames of 32 x 32 (or 8 frames, padded to 9), so each model
compiles once per method for the whole module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import wave
from pathlib import Path

import av
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import vidtok_jax
from vidtok_jax.cli import info as cli_info, model as cli_model
from vidtok_jax.cli import main
from vidtok_jax.data.chunks import exactly, pad_end, padded, paired_with_inputs, regroup, skip_and_take
from vidtok_jax.data.transforms import resize_shorter_side_and_center_crop
from vidtok_jax.data.video import probe_video, read_video, write_video
from vidtok_jax.errors import InputError
from vidtok_jax.runtime import compilation_cache
from vidtok_jax.vidtok.tokenizer import load_tokenizer

pytestmark = pytest.mark.integration  # the commands end to end on real clips

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "vidtok_reference"
EXAMPLE = REPO.parent / "shared" / "videos" / "example.mp4"


def model_args(case: str) -> list[str]:
    folder = REFERENCE / case
    if not (folder / "model.ckpt").is_file():
        pytest.skip(f"reference model missing: {folder}")
    return ["--config", str(folder / "config.yaml"), "--checkpoint", str(folder / "model.ckpt")]


KL = "kl_causal_488_4chn"
FSQ = "fsq_causal_488_32768"


@pytest.fixture(scope="module")
def example() -> Path:
    if not EXAMPLE.is_file():
        pytest.skip(f"example video missing: {EXAMPLE}")
    return EXAMPLE


EXAMPLE_32 = ["--size", "32", "--max-frames", "9"]  # 9 frames of 32 x 32 from the 256 x 256 example


def moving_pattern(frames: int, height: int, width: int, seed: int) -> np.ndarray:
    """A smooth coloured gradient drifting over time: compresses well, differs per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width]
    phase = rng.uniform(0, 2 * np.pi, 3)
    video = [np.stack([np.sin(x / 5 + y / 7 + t / 2 + p) for p in phase], axis=-1) for t in range(frames)]
    return np.rint((np.stack(video) + 1) * 127.5).astype(np.uint8)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


@pytest.fixture(scope="module")
def reconstructed(example, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("reconstruct") / "rec.mp4"
    assert main(["reconstruct", str(example), str(output), *model_args(KL), *EXAMPLE_32]) == 0
    return output


@pytest.fixture(scope="module")
def kl_token_file(example, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("encode") / "kl.npz"
    assert main(["encode", str(example), str(output), *model_args(KL), *EXAMPLE_32]) == 0
    return output


@pytest.fixture(scope="module")
def fsq_token_file(example, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("encode") / "fsq.npz"
    assert main(["encode", str(example), str(output), *model_args(FSQ), *EXAMPLE_32]) == 0
    return output


def load_tokens(path: Path) -> tuple[np.ndarray, dict]:
    with np.load(path) as archive:
        key = "tokens" if "tokens" in archive.files else "latents"
        return archive[key], json.loads(archive["metadata"].item())


# reconstruct


def test_reconstruct_with_size_keeps_frame_count_and_fps(reconstructed):
    info = probe_video(reconstructed)
    assert (info.num_frames, info.fps, info.height, info.width) == (9, 30.0, 32, 32)


def test_reconstruct_with_pad_keeps_an_odd_size_and_a_frame_count_the_model_cannot_take(tmp_path, capsys):
    source = tmp_path / "odd.mp4"
    write_video(source, moving_pattern(8, 27, 30, seed=1), fps=12)  # 8 frames: padded to 9 in time, 32 x 32 in space
    code, out, _ = run(["reconstruct", source, tmp_path / "out.mp4", *model_args(KL), "--pad"], capsys)
    info = probe_video(tmp_path / "out.mp4")
    assert code == 0 and "8 frames" in out
    assert (info.num_frames, info.fps, info.height, info.width) == (8, 12.0, 27, 30)


def test_side_by_side_shows_the_input_left_of_the_reconstruction(example, reconstructed, tmp_path):
    output = tmp_path / "both.mp4"
    assert main(["reconstruct", str(example), str(output), *model_args(KL), *EXAMPLE_32, "--side-by-side"]) == 0
    both, fps = read_video(output)
    assert both.shape == (9, 32, 64, 3) and fps == 30.0
    original = resize_shorter_side_and_center_crop(read_video(example, max_frames=9)[0], 32)
    reconstruction = read_video(reconstructed)[0].astype(np.float32)
    assert np.abs(both[:, :, :32] - original).mean() < 8  # both went through the lossy video codec
    assert np.abs(both[:, :, 32:] - reconstruction).mean() < 8
    assert np.abs(original - reconstruction).mean() > 40, "random reference weights do not reproduce the input"


def test_noncausal_model_encodes_and_decodes_16_frame_clips(example, tmp_path, capsys):
    noncausal = model_args("kl_noncausal_488_16chn")
    code, _, _ = run(["encode", example, tmp_path / "nc.npz", *noncausal, "--size", "32", "--max-frames", "20"], capsys)
    latents, metadata = load_tokens(tmp_path / "nc.npz")
    assert code == 0 and latents.shape == (8, 4, 4, 16) and metadata["video"]["num_frames"] == 20  # 2 clips of 4 latent frames
    code, _, _ = run(["decode", tmp_path / "nc.npz", tmp_path / "nc.mp4", "--checkpoint", noncausal[-1]], capsys)
    info = probe_video(tmp_path / "nc.mp4")
    assert code == 0 and (info.num_frames, info.fps, info.height, info.width) == (20, 30.0, 32, 32)


# encode and decode


def test_encode_stores_latents_with_metadata(kl_token_file):
    latents, metadata = load_tokens(kl_token_file)
    assert latents.shape == (3, 4, 4, 4) and latents.dtype == np.float32
    assert metadata["config_name"] == "config" and metadata["checkpoint"] == "model.ckpt"
    assert metadata["package_version"] == vidtok_jax.__version__ and metadata["dtype"] == "float32"
    assert metadata["model"]["regularizer"] == "kl" and metadata["model"]["latent_channels"] == 4
    assert metadata["video"] == {"fps": 30.0, "num_frames": 9, "source_size": [256, 256], "processed_size": [32, 32],
                                 "resize_crop": 32, "padding": {"bottom": 0, "right": 0}}


def test_encode_then_decode_gives_the_reconstruction(kl_token_file, reconstructed, tmp_path, capsys):
    code, _, _ = run(["decode", kl_token_file, tmp_path / "dec.mp4", "--checkpoint", REFERENCE / KL / "model.ckpt"], capsys)
    decoded, fps = read_video(tmp_path / "dec.mp4")
    assert code == 0 and decoded.shape == (9, 32, 32, 3) and fps == 30.0
    assert np.abs(decoded.astype(np.float32) - read_video(reconstructed)[0]).mean() < 1.5


def test_fsq_encode_stores_int_token_ids_in_range(fsq_token_file):
    tokens, metadata = load_tokens(fsq_token_file)
    assert tokens.shape == (3, 4, 4) and tokens.dtype == np.int32
    assert 0 <= tokens.min() and tokens.max() < 32768 and len(np.unique(tokens)) > 5
    assert metadata["model"]["codebook_size"] == 32768


def test_warnings_while_loading_become_one_stderr_line_each(example, tmp_path, capsys, monkeypatch):
    def load_with_a_warning(*args, **kwargs):
        warnings.warn("weights are odd", stacklevel=2)
        return load_tokenizer(*args, **kwargs)

    monkeypatch.setattr(cli_model, "load_tokenizer", load_with_a_warning)
    code, _, err = run(["encode", example, tmp_path / "t.npz", *model_args(KL), *EXAMPLE_32], capsys)
    assert code == 0 and error_lines(err) == ["vidtok-jax: warning: weights are odd"]


@pytest.mark.slow  # random initialisation compiles model.init: 1.5 to 2.5 min on 2 CPU cores
def test_random_weights_give_one_warning_line(example, tmp_path, capsys):
    config = model_args(FSQ)[:2]
    code, _, err = run(["encode", example, tmp_path / "random.npz", *config, *EXAMPLE_32, "--seed", "3"], capsys)
    assert code == 0 and error_lines(err) == ["vidtok-jax: warning: no checkpoint given: config has random weights (seed 3)"]
    assert load_tokens(tmp_path / "random.npz")[1]["seed"] == 3


# streaming and tiling


def test_chunked_encode_streams_to_the_same_token_ids(example, fsq_token_file, tmp_path, capsys):
    code, _, _ = run(["encode", example, tmp_path / "chunked.npz", *model_args(FSQ), *EXAMPLE_32, "--chunk-frames", "4"], capsys)
    chunked, metadata = load_tokens(tmp_path / "chunked.npz")
    assert code == 0 and metadata["video"]["num_frames"] == 9
    np.testing.assert_array_equal(chunked, load_tokens(fsq_token_file)[0])


def test_tiled_encode_passes_the_tiles_to_the_tokenizer(example, kl_token_file, tmp_path, capsys):
    code, _, _ = run(["encode", example, tmp_path / "tiled.npz", *model_args(KL), *EXAMPLE_32,
                      "--tile", "16x16", "--tile-overlap", "8"], capsys)
    tiled, whole = load_tokens(tmp_path / "tiled.npz")[0], load_tokens(kl_token_file)[0]
    assert code == 0 and tiled.shape == whole.shape and np.isfinite(tiled).all()
    assert not np.allclose(tiled, whole, atol=1e-3), "16 x 16 tiles see less context than the whole 32 x 32 frame"


@pytest.mark.slow  # compiles the streaming steps of a second model: 1 to 2 min
def test_chunked_reconstruct_side_by_side_pairs_inputs_with_their_reconstruction(example, tmp_path, capsys):
    v11 = model_args("v11_kl_causal_488_4chn")
    outputs = {}
    for name, extra in (("whole", []), ("chunked", ["--chunk-frames", "4"])):
        path = tmp_path / f"{name}.mp4"
        assert run(["reconstruct", example, path, *v11, "--size", "32", "--max-frames", "10", "--side-by-side", *extra],
                   capsys)[0] == 0
        outputs[name] = read_video(path)[0].astype(np.float32)
    assert outputs["chunked"].shape == (10, 32, 64, 3)
    assert np.abs(outputs["chunked"] - outputs["whole"]).mean() < 3  # equal before the lossy codec


@pytest.mark.slow  # compiles the streaming decoder steps: about 30 to 60 s
def test_chunked_decode_gives_the_whole_decode(kl_token_file, tmp_path, capsys):
    videos = {}
    for name, extra in (("whole", []), ("chunked", ["--chunk-frames", "4"])):
        path = tmp_path / f"{name}.mp4"
        assert run(["decode", kl_token_file, path, *_checkpoint(KL), *extra], capsys)[0] == 0
        videos[name] = read_video(path)[0].astype(np.float32)
    assert videos["chunked"].shape == (9, 32, 32, 3)
    assert np.abs(videos["chunked"] - videos["whole"]).mean() < 3


def test_frame_chunk_streams_regroup_pad_check_trim_and_pair():
    video = np.arange(10)[:, None]
    chunks = [video[:3], video[3:4], video[4:10]]
    assert [len(piece) for piece in regroup(chunks, 4)] == [4, 4, 2]
    assert np.concatenate(list(pad_end(chunks, 13)))[:, 0].tolist() == list(range(10)) + [9, 9, 9]
    assert type(padded(chunks, 13)) is np.ndarray and padded(chunks, 13)[:, 0].tolist() == list(range(10)) + [9, 9, 9]
    on_device = padded([jnp.asarray(video[:4])], 6)
    assert isinstance(on_device, jax.Array) and on_device[:, 0].tolist() == [0, 1, 2, 3, 3, 3]
    assert np.concatenate(list(skip_and_take(chunks, 2, 5)))[:, 0].tolist() == [2, 3, 4, 5, 6]
    with pytest.raises(InputError, match="announces 12 frames but 10 were decoded"):
        list(exactly(chunks, 12, "v.mp4"))
    pairs = list(paired_with_inputs(chunks, lambda frames: (piece * 10 for piece in regroup(frames, 4))))
    assert all((output == inputs * 10).all() for inputs, output in pairs) and sum(len(i) for i, _ in pairs) == 10


# info


def info_rows(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()[1:]}


def test_info_gives_the_official_parameter_counts(capsys):
    names = ["vidtok_kl_causal_488_4chn", "vidtok_fsq_causal_488_262144", "vidtok_kl_causal_41616_4chn"]
    code, out, _ = run(["info", *names], capsys)
    rows = info_rows(out)
    assert code == 0 and list(rows) == names
    assert "157,451,663" in rows["vidtok_kl_causal_488_4chn"] and " 192" in rows["vidtok_kl_causal_488_4chn"]
    assert "157,451,661" in rows["vidtok_fsq_causal_488_262144"] and "262144 codes" in rows["vidtok_fsq_causal_488_262144"]
    assert "198,967,951" in rows["vidtok_kl_causal_41616_4chn"] and "4x16x16" in rows["vidtok_kl_causal_41616_4chn"]


def test_info_lists_every_bundled_config(capsys, monkeypatch):
    monkeypatch.setattr(cli_info, "count_params", lambda config: 1234)  # the real count takes ~1.5 s per config
    code, out, _ = run(["info"], capsys)
    rows = info_rows(out)
    assert code == 0 and len(rows) == 24 and out.splitlines()[0].startswith("config")
    assert "vidtok_jax_default" in rows  # the bundled default model, then the 23 official configs
    assert "1.1" in rows["vidtok_kl_causal_488_4chn_v1_1"] and " no " in rows["vidtok_kl_noncausal_488_4chn"]
    assert all("1,234" in row for row in rows.values())


# encode-dir


@pytest.fixture
def video_folder(tmp_path) -> Path:
    folder = tmp_path / "videos"
    (folder / "nested").mkdir(parents=True)
    for seed, name in enumerate(["a.mp4", "b.mp4", "nested/c.mkv"]):
        write_video(folder / name, moving_pattern(8, 32, 32, seed), fps=10)
    (folder / "corrupt.mp4").write_bytes(b"this is not a video" * 100)
    return folder


def test_encode_dir_writes_shards_records_failures_and_resumes(video_folder, tmp_path, capsys):
    output = tmp_path / "tokens"
    code, out, err = run(["encode-dir", video_folder, output, *model_args(FSQ), "--shard-size", "2"], capsys)
    assert code == 1 and "encoded 3 video(s) into 2 new shard(s)" in out
    assert "1 of 4 video(s) failed" in err and "corrupt.mp4: not a readable video" in err
    index = json.loads((output / "index.json").read_text())
    assert sorted(index["videos"]) == ["a.mp4", "b.mp4", "nested/c.mkv"] and list(index["failures"]) == ["corrupt.mp4"]
    assert sorted(os.listdir(output)) == ["index.json", "shard-00000.npz", "shard-00001.npz"]
    entry = index["videos"]["nested/c.mkv"]
    with np.load(output / entry["shard"]) as shard:
        tokens = shard[entry["key"]]
        assert json.loads(shard["metadata"].item())[entry["key"]]["source"] == "nested/c.mkv"
    assert tokens.shape == (3, 4, 4) and entry["num_frames"] == 8 and entry["fps"] == 10.0

    single = tmp_path / "c.npz"
    assert main(["encode", str(video_folder / "nested" / "c.mkv"), str(single), *model_args(FSQ)]) == 0
    np.testing.assert_array_equal(tokens, load_tokens(single)[0])

    modified = {name: (output / name).stat().st_mtime_ns for name in ("shard-00000.npz", "shard-00001.npz")}
    capsys.readouterr()
    code, out, err = run(["encode-dir", video_folder, output, *model_args(FSQ), "--shard-size", "2"], capsys)
    assert code == 1 and "encoded 0 video(s) into 0 new shard(s)" in out and "3 already done" in out
    assert "corrupt.mp4: not a readable video" in err
    assert {name: (output / name).stat().st_mtime_ns for name in modified} == modified


def test_encode_dir_reads_a_csv_list_and_refuses_other_settings(video_folder, tmp_path, capsys):
    listing = tmp_path / "list.csv"
    listing.write_text("videos,caption\nb.mp4,a drift\nnested/c.mkv,another\n")
    output = tmp_path / "tokens"
    code, out, _ = run(["encode-dir", listing, output, "--data-dir", video_folder, *model_args(FSQ)], capsys)
    index = json.loads((output / "index.json").read_text())
    assert code == 0 and sorted(index["videos"]) == ["b.mp4", "nested/c.mkv"]
    code, _, err = run(["encode-dir", listing, output, "--data-dir", video_folder, *model_args(FSQ), "--fps", "5"], capsys)
    assert code == 1 and "other settings (differing: preprocessing)" in err


# bad input: exit status 1, one line on stderr, no output file


def _wav(folder: Path) -> Path:
    path = folder / "sound.wav"
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1), sound.setsampwidth(2), sound.setframerate(8000)
        sound.writeframes(np.zeros(800, np.int16).tobytes())
    return path


def _no_frames(folder: Path) -> Path:
    """A Matroska file with a video stream that holds no frame, and a little audio."""
    path = folder / "empty.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        samples.rate, samples.pts = 16000, 0
        for packet in [*audio.encode(samples), *audio.encode(), *video.encode()]:
            container.mux(packet)
    return path


def _corrupt(folder: Path) -> Path:
    path = folder / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    return path


@pytest.mark.parametrize(("make_input", "problem"), [
    (lambda folder: folder / "missing.mp4", "missing.mp4: no such file"),
    (_corrupt, "corrupt.mp4: not a readable video"),
    (_wav, "sound.wav: has no video stream"),
    (_no_frames, "empty.mkv: contains no video frames"),
])
@pytest.mark.parametrize("command", ["reconstruct", "encode"])
def test_bad_video_fails_in_one_line_without_output(tmp_path, capsys, make_input, problem, command):
    source = make_input(tmp_path)
    output = tmp_path / "out" / ("out.npz" if command == "encode" else "out.mp4")
    output.parent.mkdir()
    code, _, err = run([command, source, output, *model_args(KL), "--pad"], capsys)
    assert code == 1 and len(error_lines(err)) == 1 and err.startswith(f"vidtok-jax: error: {source.parent / problem}")
    assert os.listdir(output.parent) == []


def _rewritten(token_file: Path, folder: Path, change) -> Path:
    """A copy of a token file with its array changed by ``change(array, metadata)``."""
    with np.load(token_file) as archive:
        arrays = dict(archive)
    key = "tokens" if "tokens" in arrays else "latents"
    metadata = json.loads(arrays["metadata"].item())
    arrays[key] = change(arrays[key], metadata)
    arrays["metadata"] = np.array(json.dumps(metadata))
    path = folder / f"changed-{token_file.name}"
    np.savez(path, **arrays)
    return path


def _checkpoint(case: str) -> list[str]:
    return ["--checkpoint", str(REFERENCE / case / "model.ckpt")]


@pytest.mark.parametrize(("token_case", "make_input", "decode_args", "problem"), [
    (FSQ, lambda file, folder: folder / "missing.npz", [], "no such file"),
    (FSQ, lambda file, folder: _corrupt(folder), [], "not a token file written by 'vidtok-jax encode'"),
    (FSQ, lambda file, folder: file, ["--config", "vidtok_fsq_causal_488_32768"],
     "made with config 'config', not 'vidtok_fsq_causal_488_32768'"),
    (FSQ, lambda file, folder: file, ["--config", str(REFERENCE / KL / "config.yaml")],
     "made by a different model than config: regularizer fsq, not kl"),
    (FSQ, lambda file, folder: _rewritten(file, folder, lambda ids, meta: ids + 40000), [],
     "token ids must be in [0, 32767]"),
    (KL, lambda file, folder: _rewritten(file, folder, lambda z, meta: z[..., :3]), [], "holds an array of shape [3, 4, 4, 3]"),
    (KL, lambda file, folder: _rewritten(file, folder, lambda z, meta: meta.update(checkpoint=None, seed=0) or z), [],
     "made with random weights (seed 0), not a checkpoint"),
])
def test_bad_token_file_fails_in_one_line_without_output(request, tmp_path, capsys, token_case, make_input, decode_args, problem):
    token_file = request.getfixturevalue("fsq_token_file" if token_case == FSQ else "kl_token_file")
    source = make_input(token_file, tmp_path)
    output = tmp_path / "out" / "out.mp4"
    output.parent.mkdir()
    code, _, err = run(["decode", source, output, *_checkpoint(token_case), *decode_args], capsys)
    assert code == 1 and len(error_lines(err)) == 1 and err.startswith("vidtok-jax: error: ") and problem in err
    assert os.listdir(output.parent) == []


def test_decode_without_the_checkpoint_used_for_encoding_fails(fsq_token_file, tmp_path, capsys):
    code, _, err = run(["decode", fsq_token_file, tmp_path / "out.mp4"], capsys)
    assert code == 1 and "made with checkpoint model.ckpt: pass it with --checkpoint" in err
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(("options", "problem"), [
    (["--size", "30"], "--size 30 is not a multiple of the model's spatial factor 8"),
    (["--tile", "64", "64", "64"], "--tile takes a height and width"),
    (["--max-frames", "0"], "must be a positive integer"),
    (["--chunk-frames", "6"], "--chunk-frames 6 is not a multiple of the model's temporal factor 4"),
    (["--tile-overlap", "8"], "--tile-overlap needs --tile"),
])
def test_bad_options_are_usage_errors(example, tmp_path, capsys, options, problem):
    code, _, err = run(["encode", example, tmp_path / "out.npz", *model_args(KL), *options], capsys)
    assert code == 2 and problem in err and not (tmp_path / "out.npz").exists()


def test_model_commands_turn_on_the_compilation_cache(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(compilation_cache, "enable_compilation_cache", lambda: calls.append("on"))
    run(["encode", tmp_path / "missing.mp4", tmp_path / "out.npz"], capsys)
    run(["info", "vidtok_kl_causal_488_4chn"], capsys)
    assert calls == ["on"]


def test_an_unwritable_compilation_cache_is_a_warning(tmp_path, capsys, monkeypatch):
    def unwritable():
        raise PermissionError(13, "Permission denied", "/cache")

    monkeypatch.setattr(compilation_cache, "enable_compilation_cache", unwritable)
    code, _, err = run(["encode", tmp_path / "missing.mp4", tmp_path / "out.npz"], capsys)
    assert code == 1 and error_lines(err)[0].startswith("vidtok-jax: warning: no compilation cache")
    assert error_lines(err)[1].endswith("missing.mp4: no such file")


CACHE_COUNTS = """
import collections, jax, numpy as np, vidtok_jax as vt
events = collections.Counter()
jax.monitoring.register_event_listener(lambda name, **_: events.update([name.rsplit("/", 1)[-1]]))
vt.load_tokenizer().encode(np.zeros((1, 5, 32, 32, 3), np.float32))
print(events["cache_hits"], events["cache_misses"])
"""


@pytest.mark.integration
def test_the_python_api_turns_the_cache_on_so_a_second_process_does_not_recompile(tmp_path):
    env = {**os.environ, "VIDTOK_JAX_COMPILATION_CACHE": str(tmp_path / "cache")}

    def hits_and_misses() -> list[int]:
        done = subprocess.run([sys.executable, "-c", CACHE_COUNTS], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return [int(v) for v in done.stdout.split()]

    hits, misses = hits_and_misses()
    assert hits == 0 and misses > 0 and any((tmp_path / "cache").iterdir())
    assert hits_and_misses() == [misses, 0]


def test_a_cache_folder_given_to_jax_is_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDTOK_JAX_COMPILATION_CACHE", raising=False)
    previous = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    try:
        assert compilation_cache.enable_compilation_cache() == tmp_path / "mine"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
        assert compilation_cache.enable_compilation_cache(tmp_path / "other") == tmp_path / "other"
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)


def test_threefry_becomes_one_gpu_kernel_per_call():
    def init_like(key):  # as Flax: fold a name in, then draw the parameter
        return jax.random.normal(jax.random.fold_in(key, 7), (3, 3))

    def lowered_for_gpu() -> str:
        key = jax.random.key(0, impl="rbg")
        return jax.jit(init_like).trace(key).lower(lowering_platforms=("cuda",)).as_text()

    previous = jax.config.jax_threefry_gpu_kernel_lowering
    try:
        jax.config.update("jax_threefry_gpu_kernel_lowering", False)
        unrolled = lowered_for_gpu()
        compilation_cache.use_threefry_gpu_kernel()
        kernel = lowered_for_gpu()
    finally:
        jax.config.update("jax_threefry_gpu_kernel_lowering", previous)
    assert unrolled.count("stablehlo.xor") > 20 and "threefry2x32_ffi" not in unrolled
    assert kernel.count("stablehlo.xor") == 0 and "threefry2x32_ffi" in kernel


def test_help_through_python_m_and_the_console_script():
    commands = [[sys.executable, "-m", "vidtok_jax", "--help"]]
    script = Path(sys.executable).with_name("vidtok-jax")
    if script.is_file():
        commands.append([str(script), "--help"])
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert all(name in result.stdout for name in ("reconstruct", "encode-dir", "info", "decode"))


def test_long_causal_videos_stream_in_pieces_unless_a_chunk_length_is_given():
    causal = vidtok_jax.load_model_config("vidtok_jax_default")
    options = cli_model.ModelOptions(config="vidtok_jax_default")
    assert cli_model.streamed(options, causal, cli_model.STREAM_CHUNK_FRAMES).chunk_frames is None
    assert cli_model.streamed(options, causal, 200).chunk_frames == cli_model.STREAM_CHUNK_FRAMES
    given = cli_model.ModelOptions(config="vidtok_jax_default", chunk_frames=8)
    assert cli_model.streamed(given, causal, 200).chunk_frames == 8
    noncausal = vidtok_jax.load_model_config("vidtok_kl_noncausal_488_4chn")
    assert cli_model.streamed(options, noncausal, 200).chunk_frames is None


def test_ctrl_c_stops_a_long_reconstruction_between_pieces_and_leaves_nothing(tmp_path):
    import signal
    import time

    source, output = tmp_path / "long.mp4", tmp_path / "out.mp4"
    write_video(source, np.random.default_rng(0).integers(0, 256, (400, 64, 64, 3), dtype=np.uint8), 25.0)
    env = dict(os.environ, VIDTOK_JAX_COMPILATION_CACHE="0", JAX_PLATFORMS="cpu")
    # A handled (not ignored) SIGINT here gives the command Ctrl-C as from a terminal, even where the test runner
    # itself was started with SIGINT ignored (a background job): an ignored signal would stay ignored after exec.
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        process = subprocess.Popen([sys.executable, "-m", "vidtok_jax", "reconstruct", str(source), str(output)],
                                   cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, ignored)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.*.partial*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before writing its first piece: " + process.communicate()[1][-2000:]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]
