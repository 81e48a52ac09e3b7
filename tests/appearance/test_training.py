"""Training: exact resume, seed repeatability, NaN stop, checkpoints usable by the tracker,
supervised learning on a separable toy set, two-process torchrun, CLI input errors.

Everything runs on tiny networks (4-D latents, 1/16-width VGG, 32x32 crops) on one thread.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import appearance.training.objective as trainer
from appearance.crops.patches import crop_batch
from appearance.model.checkpoint import load_checkpoint
from appearance.model.kinds import VAE_KINDS
from appearance.descriptors.learned import LearnedDescriptor
from appearance.model.network import network_from_checkpoint
from appearance.training.config import TrainConfig
from appearance.training.distributed import parameter_digest
from appearance.training.loop import train
from tools.cli import main as cli_main
from tools.io.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
TINY = {"latent_dim": 4, "width": 0.0625, "decoder_channels": [8, 8, 8, 8, 8], "prior_hidden": [16]}
TINY_FLAGS = ["--latent-dim", "4", "--width", "0.0625", "--decoder-channels", "8", "8", "8", "8", "8",
              "--prior-hidden", "16", "--tracklet-weight", "0"]   # the toy crops hold no tracklets


def make_crop_folder(folder: Path, images: np.ndarray, gt_id: np.ndarray | None = None,
                     seq: str = "TOY-01", fit: str | None = None) -> Path:
    """A crop cache in the layout of appearance.crops.cache (crops.npy, meta.npz, info.json)."""
    folder.mkdir(parents=True)
    n = len(images)
    np.save(folder / "crops.npy", images.astype(np.uint8))
    np.savez(folder / "meta.npz", seq=np.array([seq] * n), frame=np.arange(1, n + 1, dtype=np.int32),
             tlwh=np.tile(np.array([[0, 0, 10, 20]], np.float32), (n, 1)),
             confidence=np.ones(n, np.float32),
             gt_id=np.full(n, -1, np.int64) if gt_id is None else gt_id.astype(np.int64))
    info = {"version": 1, "source": "det", "count": n, "size": 32}
    if fit is not None:
        info["parameters"] = {"fit": fit}
    (folder / "info.json").write_text(json.dumps(info))
    return folder


def toy_images(n: int, n_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Class c: a bright block in one of three places on a noisy background (separable)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    img = rng.integers(0, 80, (n, 32, 32, 3))
    for i, c in enumerate(labels):
        img[i, 4 + 8 * c:12 + 8 * c, 8:24, c % 3] = 230
    return img.astype(np.uint8), labels + 1


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    images, _ = toy_images(96)
    return make_crop_folder(tmp_path_factory.mktemp("crops") / "toy", images)


@pytest.fixture(autouse=True)
def one_thread():
    """Single-threaded for bit-identical runs; the suite's thread count is restored after."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def config(crops: Path, out: Path, **kw) -> TrainConfig:
    base = dict(model="fmvae", crops=[str(crops)], out=str(out), steps=8, batch_size=8, flat_batch=4,
                lr=1e-3, checkpoint_every=4, threads=1, progress=False, model_overrides=dict(TINY))
    base.update(kw)
    if base["model"] in VAE_KINDS and "tracklet_weight" not in kw:
        base["tracklet_weight"] = 0.0      # the toy crops hold no tracklets: the paper's objective
    return TrainConfig(**base)


def state(path: Path) -> dict:
    p = load_checkpoint(path)
    return {"model": p["model"], "optimizer": p["optimizer"], "lagrangian": p["lagrangian"],
            "rng": p["rng"], "step": p["step"]}


def assert_same(a, b, where: str = "") -> None:
    """Exact equality of nested checkpoint structures (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def log_rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


class Interrupt(Exception):
    pass


def fail_at(monkeypatch, step: int, how: str) -> None:
    """Make the VHP terms of the `step`-th training step NaN, or interrupt the run there."""
    real = trainer.vhp_terms
    calls = {"n": 0}

    def patched(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        if calls["n"] == step:
            if how == "interrupt":
                raise Interrupt()
            out = dict(out, C=out["C"] * float("nan"), lagrangian=out["lagrangian"] * float("nan"))
        return out

    monkeypatch.setattr(trainer, "vhp_terms", patched)


@pytest.fixture(scope="module")
def reference(crops, tmp_path_factory) -> Path:
    """An uninterrupted 8-step fmvae run, checkpoints at 4 and 8."""
    out = tmp_path_factory.mktemp("runs") / "reference"
    before = torch.get_num_threads()
    train(config(crops, out))
    torch.set_num_threads(before)
    return out


def test_reference_run_writes_its_files(reference):
    assert {p.name for p in reference.iterdir()} >= {"checkpoint.pt", "log.csv", "config.json", "curves.png"}
    assert (reference / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = log_rows(reference / "log.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    assert all(r[k] != "" for r in rows for k in ("loss", "F", "C", "C_hat", "lambda", "c2", "penalty"))
    payload = load_checkpoint(reference / "checkpoint.pt")
    assert payload["step"] == 8 and payload["kind"] == "fmvae"
    assert len(payload["norm"]["mean"]) == 3 and len(payload["norm"]["std"]) == 3
    cfg = json.loads((reference / "config.json").read_text())
    assert cfg["train"]["eta"] == 300.0 and cfg["model_config"]["latent_dim"] == 4


def test_interrupted_then_resumed_run_is_bit_identical(crops, reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    fail_at(monkeypatch, 7, "interrupt")            # dies after step 6; last checkpoint: step 4
    with pytest.raises(Interrupt):
        train(config(crops, out))
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 4
    assert len(log_rows(out / "log.csv")) == 6      # rows 5 and 6 will be done again
    monkeypatch.undo()
    train(config(crops, out), resume=True)
    assert_same(state(out / "checkpoint.pt"), state(reference / "checkpoint.pt"))
    mine, ref = log_rows(out / "log.csv"), log_rows(reference / "log.csv")
    assert [r["step"] for r in mine] == [r["step"] for r in ref]
    for a, b in zip(mine, ref):
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


def test_resume_through_the_cli_extends_a_finished_run(crops, reference, tmp_path):
    out = tmp_path / "run"
    train(config(crops, out, steps=4))
    assert cli_main(["train", "--out", str(out), "--resume", "--steps", "8", "--threads", "1", "--quiet"]) == 0
    assert_same(state(out / "checkpoint.pt"), state(reference / "checkpoint.pt"))


def test_same_seed_repeats_and_another_seed_differs(crops, reference, tmp_path):
    train(config(crops, tmp_path / "again"))
    assert_same(state(tmp_path / "again" / "checkpoint.pt"), state(reference / "checkpoint.pt"))
    train(config(crops, tmp_path / "seed1", seed=1, steps=1))
    a = load_checkpoint(tmp_path / "seed1" / "checkpoint.pt")["model"]
    b = load_checkpoint(reference / "checkpoint.pt")["model"]
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(crops, tmp_path, monkeypatch, capsys):
    good = tmp_path / "good"
    train(config(crops, good, steps=4))
    out = tmp_path / "run"
    fail_at(monkeypatch, 6, "nan")
    code = cli_main(["train", "--model", "fmvae", "--crops", str(crops), "--out", str(out), "--steps", "8",
                     "--batch-size", "8", "--flat-batch", "4", "--lr", "1e-3", "--checkpoint-every", "4",
                     "--threads", "1", "--quiet", *TINY_FLAGS])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "step 6" in err[0] and "checkpoint.pt (step 4)" in err[0], err
    assert_same(state(out / "checkpoint.pt"), state(good / "checkpoint.pt"))
    assert [int(r["step"]) for r in log_rows(out / "log.csv")] == [1, 2, 3, 4, 5]


def test_vhp_vae_checkpoint_embeds_through_the_learned_descriptor(crops, tmp_path):
    out = tmp_path / "vhp"
    train(config(crops, out, model="vhp-vae", steps=2))
    rows = log_rows(out / "log.csv")
    assert rows[-1]["c2"] == "" and rows[-1]["C"] != ""          # no penalty computed
    desc = LearnedDescriptor(out / "checkpoint.pt", expect_kind="vhp-vae")
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 30, 60], [80, 20, 25, 70], [150, 100, 30, 40]], np.float32)
    feats = desc.embed(frame, boxes)
    assert feats.shape == (3, 4) and feats.dtype == np.float32 and np.isfinite(feats).all()


def test_a_model_trained_on_padded_crops_cuts_its_tracking_crops_the_same_way(tmp_path):
    images, _ = toy_images(48)
    padded = make_crop_folder(tmp_path / "pad", images, fit="pad")
    out = tmp_path / "vhp"
    train(config(padded, out, model="vhp-vae", steps=2))
    desc = LearnedDescriptor(out / "checkpoint.pt")
    assert desc.fit == "pad" and desc.model.cfg.crop_fit == "pad"
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 30, 60], [80, 20, 25, 70]], np.float32)
    want = desc.embed_crops(crop_batch(frame, boxes, desc.size, "pad"))
    np.testing.assert_array_equal(desc.embed(frame, boxes), want)
    assert not np.allclose(desc.embed_crops(crop_batch(frame, boxes, desc.size, "stretch")), want)
    stretched = make_crop_folder(tmp_path / "stretch", images)
    with pytest.raises(InputError, match="cut one way"):
        mixed = config(padded, tmp_path / "mixed", model="vhp-vae", steps=1)
        train(dataclasses.replace(mixed, crops=[str(padded), str(stretched)]))


def test_supervised_training_learns_a_separable_toy_set(tmp_path):
    images, labels = toy_images(120, seed=1)
    folder = make_crop_folder(tmp_path / "gt", images, labels)
    out = tmp_path / "sup"
    train(config(folder, out, model="supervised", steps=60, batch_size=16, lr=1e-3, checkpoint_every=0))
    loss = np.array([float(r["loss"]) for r in log_rows(out / "log.csv")])
    assert loss[0] == pytest.approx(np.log(3), abs=0.2)            # starts at chance
    assert loss[-8:].mean() < 0.1 * loss[:8].mean(), loss
    payload = load_checkpoint(out / "checkpoint.pt")
    assert payload["n_classes"] == 3 and payload["classes"] == ["TOY-01:1", "TOY-01:2", "TOY-01:3"]
    net = network_from_checkpoint(payload)
    desc = LearnedDescriptor(out / "checkpoint.pt", expect_kind="supervised")
    with torch.no_grad():
        pred = net(desc.to_tensor(images)).argmax(1).numpy()
    assert (pred == labels - 1).mean() > 0.9


def test_supervised_without_identities_is_an_input_error(crops, tmp_path, capsys):
    code = cli_main(["train", "--model", "supervised", "--crops", str(crops), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "gt_id" in err[0]


def test_two_processes_under_torchrun_stay_identical(crops, tmp_path):
    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).parent / "torchrun"
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m", "torch.distributed.run"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [*launcher, "--standalone", "--nproc_per_node", "2", "-m", "tools.cli", "train", "--model", "fmvae",
         "--crops", str(crops), "--out", str(out), "--steps", "4", "--checkpoint-every", "2",
         "--batch-size", "8", "--flat-batch", "4", "--lr", "1e-3", "--quiet", *TINY_FLAGS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = load_checkpoint(out / "checkpoint.pt")
    assert payload["step"] == 4 and payload["rng"]["world_size"] == 2
    ranks = payload["rng"]["ranks"]
    assert not torch.equal(ranks[0]["batch"], ranks[1]["batch"])      # each rank drew its own batches
    digests = [json.loads((out / "ranks" / f"rank-{r}.json").read_text())["sha256"] for r in (0, 1)]
    assert digests[0] == digests[1] == parameter_digest(network_from_checkpoint(payload))
    assert [int(r["step"]) for r in log_rows(out / "log.csv")] == [1, 2, 3, 4]


@pytest.mark.parametrize("extra, expect", [
    (["--crops", "NOPE"], "no crop cache"),
    (["--crops", "CROPS", "--encoder-weights", "w.pt"], "width 1.0"),
    (["--crops", "CROPS", "--flat-batch", "100"], "--flat-batch"),
    (["--crops", "CROPS", "--model", "vhp-vae", "--eta", "300"], "--eta"),
    (["--crops", "CROPS", "--model", "vhp-vae", "--flatness", "relative"], "--flatness"),
    (["--crops", "CROPS", "--eta", "0", "--flat-encoder"], "--flat-encoder"),
    (["--crops", "CROPS", "--model", "supervised", "--loss-scale", "lambda"], "--loss-scale"),
    (["--crops", "CROPS", "--model", "vhp-vae", "--flat-start", "2"], "--flat-start"),
    (["--crops", "CROPS", "--steps", "5", "--flat-start", "5"], "--flat-start 5 leaves no step"),
    (["--crops", "CROPS", "--flat-start", "-1"], "--flat-start must be non-negative"),
    (["--crops", "CROPS", "--nu", "0"], "--nu must be positive"),
    (["--crops", "CROPS", "--nu", "inf"], "--nu must be positive and finite"),
    (["--crops", "CROPS", "--eta", "nan"], "--eta must be non-negative and finite"),
    (["--crops", "CROPS", "--lambda-max", "10"], "--lambda-max must be at least --lambda0"),
])
def test_bad_input_is_one_line_and_exit_2(crops, tmp_path, capsys, extra, expect):
    args = ["train", "--model", "fmvae", "--out", str(tmp_path / "o"), "--tracklet-weight", "0", *extra]
    args = [str(tmp_path / "NOPE") if a == "NOPE" else str(crops) if a == "CROPS" else a for a in args]
    code = cli_main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expect in err[0], err
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_existing_run_needs_resume_and_resume_refuses_a_changed_recipe(crops, reference, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    assert cli_main(["train", "--model", "fmvae", "--crops", str(crops), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli_main(["train", "--out", str(out), "--resume", "--lr", "0.5"]) == 2
    assert "--lr" in capsys.readouterr().err
    assert cli_main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_relative_flatness_trains_a_different_model_and_is_part_of_the_recipe(crops, reference, tmp_path, capsys):
    out = tmp_path / "relative"
    train(config(crops, out, flatness="relative", flat_encoder=True))
    rows = log_rows(out / "log.csv")
    # The scale-free penalty is what is trained on, so the logged penalty equals its relative value.
    assert all(float(r["penalty"]) == pytest.approx(float(r["relative"]), rel=1e-5) for r in rows)
    assert load_checkpoint(out / "checkpoint.pt")["train_config"]["flatness"] == "relative"
    digest = lambda run: parameter_digest(network_from_checkpoint(load_checkpoint(run / "checkpoint.pt")))  # noqa: E731
    assert digest(out) != digest(reference)
    assert cli_main(["train", "--out", str(out), "--resume", "--flatness", "absolute"]) == 2
    assert "--flatness" in capsys.readouterr().err


def test_loss_scale_lambda_divides_the_loss_before_adam_sees_it_and_old_runs_keep_the_raw_loss(crops, tmp_path):
    moments = {}
    for scale in ("lambda", "none"):
        out = tmp_path / scale
        train(config(crops, out, model="vhp-vae", steps=1, lambda0=1000.0, loss_scale=scale))
        state_ = load_checkpoint(out / "checkpoint.pt")["optimizer"]["state"]
        moments[scale] = torch.cat([s["exp_avg_sq"].flatten() for s in state_.values()]).double()
    # The first step's forward is the same in both runs; Adam's second moment holds (1 - beta2) g^2,
    # so the raw run's is lambda0^2 times the scaled run's.
    ratio = moments["none"].sum() / moments["lambda"].sum()
    assert ratio.item() == pytest.approx(1000.0 ** 2, rel=1e-3)
    stored = load_checkpoint(tmp_path / "lambda" / "checkpoint.pt")["train_config"]
    assert TrainConfig.from_dict(stored).loss_scale == "lambda"
    old = {k: v for k, v in stored.items() if k != "loss_scale"}   # a run stored before the option
    assert TrainConfig.from_dict(old).loss_scale == "none"


def test_flat_encoder_moves_the_encoder_of_a_smooth_decoder(crops, tmp_path):
    mlp = {"architecture": "mlp", "mlp_hidden": [16], "latent_dim": 2, "prior_hidden": [16]}
    digests = []
    for flag in (False, True):
        out = tmp_path / f"enc-{flag}"
        train(config(crops, out, flat_encoder=flag, eta=10.0, model_overrides=dict(mlp)))
        model = network_from_checkpoint(load_checkpoint(out / "checkpoint.pt"))
        digests.append(parameter_digest(model.encoder))
    # tanh decoder: J depends on z, so the penalty's gradient reaches the encoder only with the flag
    assert digests[0] != digests[1]


def test_flat_start_trains_the_vhp_vae_of_the_same_seed_first_then_adds_the_penalty(crops, tmp_path, capsys,
                                                                                    monkeypatch):
    vhp, fm, staged = tmp_path / "vhp", tmp_path / "fm", tmp_path / "staged"
    train(config(crops, vhp, model="vhp-vae", steps=6, checkpoint_every=0))
    train(config(crops, fm, eta=10.0, steps=8, flat_start=6, checkpoint_every=0))
    digest = lambda run: parameter_digest(network_from_checkpoint(load_checkpoint(run / "checkpoint.pt")))  # noqa: E731
    rows = log_rows(fm / "log.csv")
    assert [r["penalty"] for r in rows[:6]] == [""] * 6          # no penalty during the warm-up
    assert [r["C"] for r in rows[:6]] == [r["C"] for r in log_rows(vhp / "log.csv")]
    assert all(float(r["penalty"]) > 0 for r in rows[6:])
    # The same run in stages: stopped during step 5, resumed to step 6 (inside the warm-up, which a
    # resume may do), then to 8. At step 6 it holds the VHP-VAE's weights bit for bit, at 8 the single run's.
    fail_at(monkeypatch, 5, "interrupt")
    with pytest.raises(Interrupt):
        train(config(crops, staged, eta=10.0, steps=8, flat_start=6, checkpoint_every=4))
    monkeypatch.undo()
    assert cli_main(["train", "--out", str(staged), "--resume", "--steps", "6", "--quiet"]) == 0
    assert digest(staged) == digest(vhp)
    assert cli_main(["train", "--out", str(staged), "--resume", "--steps", "8", "--quiet"]) == 0
    assert digest(staged) == digest(fm)
    vhp8 = tmp_path / "vhp8"                                      # steps 7-8 had the penalty
    train(config(crops, vhp8, model="vhp-vae", steps=8, checkpoint_every=0))
    assert digest(fm) != digest(vhp8)
    assert cli_main(["train", "--out", str(staged), "--resume", "--flat-start", "2"]) == 2
    assert "--flat-start" in capsys.readouterr().err


def test_nu_and_lambda_max_drive_the_multiplier_and_are_part_of_the_recipe(crops, tmp_path, capsys):
    out = tmp_path / "damped"
    probe = tmp_path / "probe"
    train(config(crops, probe, model="vhp-vae", steps=1, lambda0=1000.0))
    c1 = float(log_rows(probe / "log.csv")[0]["C"])   # the first batch's C, the same in every run below
    train(config(crops, out, model="vhp-vae", steps=6, lambda0=1000.0, kappa2=c1 - 0.5, nu=0.05,
                 lambda_max=1100.0, checkpoint_every=3))
    state_ = load_checkpoint(out / "checkpoint.pt")["lagrangian"]
    assert state_["nu"] == 0.05 and state_["lambda_clip"][1] == 1100.0
    lams = [float(r["lambda"]) for r in log_rows(out / "log.csv")]
    # delta = 0.5 on the first step: exp(0.05 * 0.5) = 1.025, where nu = 1 would hit the 1.05 clip;
    # lambda then climbs until the cap holds it.
    assert lams[0] == pytest.approx(1000.0 * math.exp(0.025), rel=1e-5)
    assert max(lams) == 1100.0 and lams[-1] == 1100.0
    assert cli_main(["train", "--out", str(out), "--resume", "--nu", "1"]) == 2
    assert "--nu" in capsys.readouterr().err


def tracklet_folder(folder: Path, frames: int = 40, people: int = 3, seed: int = 2) -> tuple[Path, np.ndarray]:
    """Detection crops of `people` walking slowly 100 px apart, one box each per frame, with no
    identity stored (gt_id -1): only the boxes link them into tracklets. Returns the true ids."""
    images, _ = toy_images(frames * people, seed=seed)
    truth = np.tile(np.arange(people), frames)
    rng = np.random.default_rng(seed)
    for i, c in enumerate(truth):   # redraw each crop in its person's pattern
        images[i] = rng.integers(0, 80, (32, 32, 3))
        images[i, 4 + 8 * c:12 + 8 * c, 8:24, c % 3] = 230
    make_crop_folder(folder, images)
    frame = np.repeat(np.arange(1, frames + 1, dtype=np.int32), people)
    tlwh = np.stack([100.0 * truth + 0.5 * frame, np.zeros(len(frame)), np.full(len(frame), 10.0),
                     np.full(len(frame), 20.0)], 1).astype(np.float32)
    meta = dict(np.load(folder / "meta.npz"))
    np.savez(folder / "meta.npz", **{**meta, "frame": frame, "tlwh": tlwh})
    return folder, truth


def test_tracklet_training_learns_identities_from_the_boxes_alone(tmp_path):
    folder, truth = tracklet_folder(tmp_path / "det")
    out = tmp_path / "trk"
    train(config(folder, out, model="tracklet", steps=60, batch_size=16, lr=1e-3, checkpoint_every=0))
    payload = load_checkpoint(out / "checkpoint.pt")
    assert payload["kind"] == "tracklet" and payload["classes"] == ["TOY-01:t0", "TOY-01:t1", "TOY-01:t2"]
    assert json.loads((out / "config.json").read_text())["data"]["tracklets"][0]["tracklets"] == 3
    loss = np.array([float(r["loss"]) for r in log_rows(out / "log.csv")])
    assert loss[-8:].mean() < 0.2 * loss[:8].mean(), loss
    desc = LearnedDescriptor(out / "checkpoint.pt", expect_kind="tracklet")
    images = np.load(folder / "crops.npy")
    with torch.no_grad():
        pred = network_from_checkpoint(payload)(desc.to_tensor(images)).argmax(1).numpy()
    assert (pred == truth).mean() > 0.9      # tracklet t_k is person k: first seen in that order


def test_tracklet_term_of_the_vae_family_is_on_by_default_off_at_weight_0_and_resumes_exactly(tmp_path):
    folder, _ = tracklet_folder(tmp_path / "det")
    digest = lambda run: parameter_digest(network_from_checkpoint(load_checkpoint(run / "checkpoint.pt")))  # noqa: E731
    train(config(folder, tmp_path / "default", model="vhp-vae", tracklet_weight=None))
    train(config(folder, tmp_path / "one", model="vhp-vae", tracklet_weight=1.0,
                 tracklet_negatives="co-occurring"))
    assert digest(tmp_path / "default") == digest(tmp_path / "one")   # the default recipe, spelled out
    train(config(folder, tmp_path / "zero", model="vhp-vae", tracklet_weight=0.0))
    assert digest(tmp_path / "zero") != digest(tmp_path / "one")
    assert "tracklet_head" not in load_checkpoint(tmp_path / "zero" / "checkpoint.pt")   # the paper's objective
    assert all(r["tracklet"] == "" for r in log_rows(tmp_path / "zero" / "log.csv"))
    train(config(folder, tmp_path / "on", model="vhp-vae", tracklet_weight=5.0))
    assert digest(tmp_path / "on") != digest(tmp_path / "one")
    rows = log_rows(tmp_path / "on" / "log.csv")
    assert all(np.isfinite(float(r["tracklet"])) for r in rows) and rows[0]["tracklet"] != ""
    assert "tracklet_head" in load_checkpoint(tmp_path / "on" / "checkpoint.pt")
    # 4 steps, then resumed to 8: the same model as the uninterrupted run
    train(config(folder, tmp_path / "half", model="vhp-vae", tracklet_weight=5.0, steps=4))
    train(config(folder, tmp_path / "half", model="vhp-vae", tracklet_weight=5.0, steps=8), resume=True)
    assert digest(tmp_path / "half") == digest(tmp_path / "on")


@pytest.mark.parametrize("extra, expect", [
    (["--model", "fmvae", "--tracklet-weight", "0", "--min-tracklet", "4"], "--min-tracklet"),
    (["--model", "supervised", "--tracklet-weight", "1"], "--tracklet-weight applies"),
    (["--model", "tracklet", "--link-iou", "0"], "--link-iou must lie"),
    (["--model", "vhp-vae", "--tracklet-weight", "-1"], "--tracklet-weight must be non-negative"),
])
def test_tracklet_options_are_checked(crops, tmp_path, capsys, extra, expect):
    code = cli_main(["train", "--crops", str(crops), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expect in err[0], err


def test_tracklet_labels_refuse_gt_crops(tmp_path, capsys):
    images, labels = toy_images(30)
    folder = make_crop_folder(tmp_path / "gt", images, labels)
    info = json.loads((folder / "info.json").read_text())
    (folder / "info.json").write_text(json.dumps({**info, "source": "gt"}))
    code = cli_main(["train", "--model", "tracklet", "--crops", str(folder), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "detection crops" in err[0], err


def test_the_vae_familys_tracklet_term_is_weighted_like_the_reconstruction_constraint():
    from appearance.model.vae import VAE, VAEConfig

    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=8, width=0.0625, decoder_channels=(8, 8, 4, 4, 4), prior_hidden=(16, 16))).eval()
    x = torch.rand(6, 3, 64, 64)
    labels = torch.tensor([0, 1, -1, 2, 0, -1])
    with_term = trainer.Objective(vae, "vhp-vae", kappa2=0.25, tracklet_weight=0.5, n_classes=3)
    without = trainer.Objective(vae, "vhp-vae", kappa2=0.25)
    for lam in (10.0, 1000.0):
        torch.manual_seed(1)
        on = with_term(x, labels, lam)
        torch.manual_seed(1)
        off = without(x, labels, lam)
        # loss = VAE Lagrangian + weight x lambda x cross-entropy over the labelled items
        torch.testing.assert_close(on["loss"], off["loss"] + 0.5 * lam * on["tracklet"], rtol=1e-5, atol=1e-3)
        assert on["tracklet"] > 0


def test_training_draws_no_progress_bar_into_a_log_file(crops, tmp_path, capsys):
    # progress=True, but stderr is captured (not a terminal): a log file gets the summary lines only
    train(config(crops, tmp_path / "run", model="vhp-vae", steps=3, progress=True))
    err = capsys.readouterr().err
    assert "step/s" not in err and "it/s" not in err, err


def test_co_occurrence_pairs_tracklets_alive_at_once_within_a_sequence():
    from appearance.training.data import co_occurrence

    classes = ["A:t0", "A:t1", "A:t2", "B:t0"]
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, -1])
    frames = np.array([1, 10, 5, 20, 11, 30, 1, 40, 3])   # t0 1-10, t1 5-20, t2 11-30; B:t0 1-40
    got = co_occurrence(labels, frames, classes)
    want = np.array([[1, 1, 0, 0],      # t0 meets t1, never t2 (it ends at 10, t2 starts at 11)
                     [1, 1, 1, 0],
                     [0, 1, 1, 0],
                     [0, 0, 0, 1]], bool)   # another sequence: never a rival
    np.testing.assert_array_equal(got, want)


def test_co_occurring_negatives_leave_tracklets_that_never_meet_out_of_the_softmax(tmp_path):
    from appearance.model.network import build_network
    from appearance.model.vae import VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig(latent_dim=8, width=0.0625, decoder_channels=(8, 8, 4, 4, 4), prior_hidden=(16, 16))
    net = build_network("tracklet", cfg, 3).eval()
    x, labels = torch.rand(6, 3, 64, 64), torch.tensor([0, 1, 2, 0, 1, 2])
    every = trainer.Objective(net, "tracklet", n_classes=3)(x, labels, 0.0)["loss"].item()
    alone = trainer.Objective(net, "tracklet", n_classes=3, rivals=torch.eye(3, dtype=torch.bool))(x, labels, 0.0)
    assert every > 0.1 and alone["loss"].item() == pytest.approx(0.0, abs=1e-6)   # nothing to compete with
    pair = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=torch.bool)
    some = trainer.Objective(net, "tracklet", n_classes=3, rivals=pair)(x, labels, 0.0)["loss"].item()
    assert 0 < some < every


def test_track_train_records_the_negatives_choice(tmp_path):
    folder, _ = tracklet_folder(tmp_path / "det")
    # given, each choice is recorded; not given, the tracklet classifier's default is co-occurring
    for given, choice in (("all", "all"), ("co-occurring", "co-occurring"), (None, "co-occurring")):
        out = tmp_path / str(given)
        train(config(folder, out, model="tracklet", steps=2, tracklet_negatives=given))
        assert json.loads((out / "config.json").read_text())["train"]["tracklet_negatives"] == choice
    with pytest.raises(Exception, match="--tracklet-negatives must be one of"):
        train(config(folder, tmp_path / "bad", model="tracklet", tracklet_negatives="some"))
    with pytest.raises(Exception, match="apply to"):
        train(config(folder, tmp_path / "vae", model="vhp-vae", tracklet_negatives="all"))


@pytest.mark.parametrize("source, weight, negatives", [("det", 1.0, "co-occurring"), ("gt", 0.0, None),
                                                       ("pendulum", 0.0, None)])
def test_vae_default_recipe_takes_the_tracklet_term_on_detection_crops_only(tmp_path, source, weight, negatives):
    folder = tmp_path / source
    folder.mkdir()
    (folder / "info.json").write_text(json.dumps({"version": 1, "source": source}))
    for kind in VAE_KINDS:
        cfg = TrainConfig(model=kind, crops=[str(folder)], out=str(tmp_path / "o")).resolved()
        assert (cfg.tracklet_weight, cfg.tracklet_negatives) == (weight, negatives)
        explicit = TrainConfig(model=kind, crops=[str(folder)], out=str(tmp_path / "o"), tracklet_weight=0.0)
        assert explicit.resolved().tracklet_weight == 0.0      # the paper's objective, whatever the crops


def test_crops_cut_from_every_kth_frame_link_as_consecutive_frames(tmp_path):
    """With `track crops --every 2` the cut frames are 1, 3, 5, ...: the linker must see them as
    neighbours (gap 1), so its labels equal those of the same boxes on frames 1, 2, 3, ... (a gap
    of 2 would move each box on by its velocity first)."""
    from appearance.crops.cache import CropSet
    from appearance.crops.tracklets import TrackletParams, tracklet_ids
    from appearance.training.data import _identities

    rng = np.random.default_rng(4)
    steps, people = 30, 4
    index = np.repeat(np.arange(steps), people)
    x = 60.0 * np.tile(np.arange(people), steps) + np.cumsum(rng.normal(3, 4, (steps, people)), 0).ravel()
    tlwh = np.stack([x, rng.normal(0, 2, len(x)), np.full(len(x), 30.0), np.full(len(x), 70.0)], 1)
    folder = make_crop_folder(tmp_path / "every2", np.zeros((len(x), 32, 32, 3), np.uint8))
    meta = dict(np.load(folder / "meta.npz"))
    np.savez(folder / "meta.npz", **{**meta, "frame": (1 + 2 * index).astype(np.int32),
                                     "tlwh": tlwh.astype(np.float32)})
    info = json.loads((folder / "info.json").read_text())
    (folder / "info.json").write_text(json.dumps({**info, "parameters": {"every": 2}}))
    params = TrackletParams(min_length=2)
    ident, _ = _identities(CropSet.load(folder), "tracklet", params, folder)
    want = tracklet_ids(index, tlwh.astype(np.float32), params)
    np.testing.assert_array_equal(ident, want)
    assert len(set(want[want >= 0])) >= people     # the scene links into tracklets at all
