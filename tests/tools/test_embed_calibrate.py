"""`track embed` (DeepSORT .npy features), batched embedding, and `track calibrate` (label-free threshold)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.cli import main
from tools.io.motformat import read_npy_detections
from tools.io.sequence import Sequence


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    from tools.data.synth import SynthConfig, make_dataset

    root = tmp_path_factory.mktemp("synth")
    make_dataset(root, 1, SynthConfig(frames=40, width=320, height=180, people=5))
    return root


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    import torch

    from appearance.model.checkpoint import save_checkpoint
    from appearance.model.vae import VAE, VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig(latent_dim=8, width=0.0625, decoder_channels=(8, 8, 4, 4, 4), prior_hidden=(16, 16))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, {"kind": "fmvae", "model_config": cfg.to_dict(), "model": VAE(cfg).state_dict(),
                           "norm": {"mean": [0.5, 0.45, 0.4], "std": [0.25, 0.25, 0.25]}, "step": 0})
    return path


def _spec(name: str, checkpoint: Path) -> str:
    return "hist" if name == "hist" else f"fmvae:{checkpoint}"


def test_embed_writes_deepsort_npy_that_reads_back(synth_root, tmp_path, capsys):
    from appearance.descriptors.registry import create

    out = tmp_path / "feats"
    assert main(["embed", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--appearance", "hist",
                 "--out", str(out), "--quiet"]) == 0
    assert "track run --detections" in capsys.readouterr().out
    seq = Sequence.open(synth_root / "SYNTH-01")
    det = seq.detections()
    npy = read_npy_detections(out / "SYNTH-01.npy")
    raw = np.load(out / "SYNTH-01.npy")
    assert raw.shape == (len(det), 10 + 256)
    np.testing.assert_allclose(npy.data, det.data[:, :10], atol=1e-3)  # float32 storage
    desc = create("hist")
    frame_no, image = next(iter(seq.frames()))
    idx = np.flatnonzero(det.data[:, 0] == frame_no)
    np.testing.assert_allclose(npy.feature[idx], desc.embed(image, det.data[idx, 2:6]), atol=1e-6)
    record = json.loads((out / "embed.json").read_text())
    assert record["metric"] == "cosine" and record["dim"] == 256 and record["sequences"] == {"SYNTH-01": len(det)}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # atomic: no temporary left


@pytest.mark.parametrize("name", ["hist", "fmvae"])
def test_tracking_with_embedded_npy_equals_tracking_with_the_descriptor(name, synth_root, tiny_checkpoint, tmp_path):
    spec = _spec(name, tiny_checkpoint)
    common = ["--seq", "SYNTH-01", "--data-root", str(synth_root), "--quiet"]
    assert main(["embed", *common, "--appearance", spec, "--out", str(tmp_path / "feats")]) == 0
    res = tmp_path / "results"
    assert main(["run", *common, "--detections", str(tmp_path / "feats"), "--results-root", str(res),
                 "--experiment", "from-npy", "--no-eval"]) == 0
    assert main(["run", *common, "--appearance", spec, "--results-root", str(res),
                 "--experiment", "direct", "--no-eval"]) == 0
    from_npy = (res / "from-npy" / "data" / "SYNTH-01.txt").read_bytes()
    direct = (res / "direct" / "data" / "SYNTH-01.txt").read_bytes()
    assert len(from_npy.splitlines()) > 50
    assert from_npy == direct


@pytest.mark.parametrize("name", ["hist", "fmvae"])
def test_batched_embedding_equals_one_by_one(name, synth_root, tiny_checkpoint):
    from appearance.descriptors.registry import create

    desc = create(_spec(name, tiny_checkpoint))
    seq = Sequence.open(synth_root / "SYNTH-01")
    _, image = next(iter(seq.frames()))
    h, w = image.shape[:2]
    boxes = np.array([[10, 20, 30, 70], [100.5, 40.2, 25.3, 61.7], [w - 15, h - 50, 40, 80],  # partly outside
                      [-12, -5, 30, 60], [150, 30, 8, 20], [60, 60, 90, 100]], np.float64)
    batched = desc.embed(image, boxes)
    singles = np.concatenate([desc.embed(image, boxes[i:i + 1]) for i in range(len(boxes))])
    assert batched.shape == (len(boxes), desc.dim) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, singles, atol=1e-5, rtol=0)


def test_embed_rejects_descriptors_without_features(synth_root, tmp_path, capsys):
    base = ["embed", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*base, "--appearance", "none"]) == 2
    assert main([*base, "--appearance", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "gives no features" in err and "unknown appearance descriptor" in err
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- calibration


def test_balanced_threshold_takes_the_middle_of_the_gap_and_reports_rates():
    from appearance.scoring.calibration import auc, balanced_threshold, error_rates, percentile_threshold

    pos = np.array([0.05, 0.1, 0.2])
    neg = np.array([0.6, 0.7, 0.8, 0.9])
    p = balanced_threshold(pos, neg)
    assert p.threshold == pytest.approx(0.4) and p.far == 0 and p.frr == 0
    assert auc(pos, neg) == 1.0 and auc(neg, pos) == 0.0
    # overlapping: 0.5 is a positive and 0.45 a negative; the best threshold errs once
    pos = np.array([0.1, 0.2, 0.3, 0.5])
    neg = np.array([0.45, 0.6, 0.7, 0.8])
    p = balanced_threshold(pos, neg)
    assert p.far + p.frr == pytest.approx(0.25)
    far, frr = error_rates(pos, neg, 0.3)
    assert (far, frr) == (0.0, 0.25)  # accepted means distance <= threshold
    q = percentile_threshold(pos, neg, 0.25)
    assert q.threshold == 0.45 and q.far == 0.25


def test_label_free_pairs_cut_tracklets_where_people_overlap():
    from appearance.scoring.calibration import PairSettings, build_tracklets, crowded, negative_pairs, positive_pairs

    # two people walking towards each other: their boxes overlap in frames 5-7
    frames, boxes = [], []
    for f in range(1, 13):
        for x0, v in ((0.0, 10.0), (120.0, -10.0)):
            frames.append(f)
            boxes.append([x0 + v * f, 50.0, 30.0, 80.0])
    frames, boxes = np.array(frames), np.array(boxes)
    track = build_tracklets(frames, boxes, PairSettings())
    assert (track >= 0).sum() > 12 and len(np.unique(track[track >= 0])) >= 2
    busy = crowded(frames, boxes, 0.3)
    assert busy.any() and not busy[frames <= 3].any()
    pos = positive_pairs(frames, track, ~busy, 1, 10)
    assert len(pos) and (track[pos[:, 0]] == track[pos[:, 1]]).all()
    # no pair reaches across the crowded frames, and no crowded detection is used
    assert not busy[pos].any()
    span = np.sort(frames[pos], axis=1)
    crowded_frames = np.unique(frames[busy])
    assert not ((span[:, :1] < crowded_frames.min()) & (span[:, 1:] > crowded_frames.max())).any()
    neg = negative_pairs(frames, boxes, track >= 0, 0.3)
    assert (frames[neg[:, 0]] == frames[neg[:, 1]]).all() and len(neg) >= 6


def test_calibrate_on_synthetic_data_separates_and_lies_between_medians(synth_root, tmp_path, capsys):
    plot, summary = tmp_path / "hist.png", tmp_path / "cal.json"
    assert main(["calibrate", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--appearance", "hist",
                 "--plot", str(plot), "--json", str(summary), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "proposed --max-distance" in out and "USES GT LABELS" in out
    s = json.loads(summary.read_text())
    free = s["label-free"]
    assert s["counts"]["positive_pairs"] > 100 and s["counts"]["negative_pairs"] > 50
    prop = free["proposals"][0]
    assert prop["rule"] == "balanced" and prop["far"] + prop["frr"] < 0.5  # chance is 1
    assert free["auc"] > 0.8
    med_pos = free["percentiles"]["positives"]["50"]
    med_neg = free["percentiles"]["negatives"]["50"]
    assert med_pos < prop["threshold"] < med_neg
    assert s["purity"]["positives"] > 0.9 and s["purity"]["negatives"] > 0.9
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_calibrate_uses_features_carried_by_npy_detections(synth_root, tmp_path, capsys):
    common = ["--seq", "SYNTH-01", "--data-root", str(synth_root), "--quiet"]
    assert main(["embed", *common, "--appearance", "hist", "--out", str(tmp_path / "f")]) == 0
    assert main(["calibrate", *common, "--appearance", "hist", "--json", str(tmp_path / "a.json")]) == 0
    assert main(["calibrate", *common, "--detections", str(tmp_path / "f"), "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())["label-free"]["proposals"][0]["threshold"]
    b = json.loads((tmp_path / "b.json").read_text())["label-free"]["proposals"][0]["threshold"]
    assert a == pytest.approx(b, abs=1e-5)
    capsys.readouterr()
    assert main(["calibrate", *common]) == 2  # neither a descriptor nor features
    assert "give --appearance" in capsys.readouterr().err


def test_embed_centre_subtracts_each_sequences_own_mean(synth_root, tmp_path):
    plain, centred = tmp_path / "plain", tmp_path / "centred"
    for out, extra in ((plain, []), (centred, ["--centre"])):
        assert main(["embed", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--appearance", "hist",
                     "--out", str(out), "--quiet", *extra]) == 0
    raw = read_npy_detections(plain / "SYNTH-01.npy").feature
    shifted = read_npy_detections(centred / "SYNTH-01.npy").feature
    assert np.abs(raw.mean(axis=0)).max() > 1e-3             # hist features share a positive offset
    np.testing.assert_allclose(shifted.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(shifted, raw - raw.mean(axis=0), atol=1e-5)
    assert json.loads((centred / "embed.json").read_text())["centre"] is True
    assert json.loads((plain / "embed.json").read_text())["centre"] is False


def test_the_tables_centred_files_equal_what_track_embed_centre_writes(synth_root, tmp_path):
    from tools.bench.appearance_table import _centre_files

    plain, centred = tmp_path / "plain", tmp_path / "centred"
    for out, extra in ((plain, []), (centred, ["--centre"])):
        assert main(["embed", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--appearance", "hist",
                     "--out", str(out), "--quiet", *extra]) == 0
    _centre_files(plain, tmp_path / "made", ["SYNTH-01"])
    made = read_npy_detections(tmp_path / "made" / "SYNTH-01.npy")
    want = read_npy_detections(centred / "SYNTH-01.npy")
    np.testing.assert_allclose(made.feature, want.feature, atol=1e-5)
    np.testing.assert_array_equal(made.data, want.data)
    assert json.loads((tmp_path / "made" / "embed.json").read_text())["centre"] is True


def test_a_longer_budget_continues_the_longest_shorter_run_of_the_same_recipe(tmp_path):
    from tools.bench.appearance_table import _shorter_run

    recipe = {"steps": 1600, "preset": "cpu", "seed": 0, "kappa2": None, "flatness": None, "loss_scale": None}
    for folder, steps, preset in (("s0", 800, "cpu"), ("s0-1200steps", 1200, "cpu"), ("s0-1400steps", 1400, "paper"),
                                  ("s0-2000steps", 2000, "cpu"), ("s1", 800, "cpu")):
        run = tmp_path / folder / "fmvae"
        run.mkdir(parents=True)
        seed = 1 if folder == "s1" else 0
        (run / "done.json").write_text(json.dumps({**recipe, "steps": steps, "preset": preset, "seed": seed}))
    # 1400 has another preset and 2000 is longer: the 1200-step run is the one to continue
    assert _shorter_run(tmp_path, 0, "fmvae", recipe) == tmp_path / "s0-1200steps" / "fmvae"
    assert _shorter_run(tmp_path, 0, "vhp-vae", recipe) is None
    assert _shorter_run(tmp_path, 0, "fmvae", {**recipe, "steps": 800}) is None
    assert _shorter_run(tmp_path, 1, "fmvae", {**recipe, "seed": 1}) == tmp_path / "s1" / "fmvae"


def test_ema_pairs_measure_a_box_against_its_tracklets_feature_so_far():
    """running_ema folds each tracklet as the tracker's EMA gallery does; alpha 0 keeps the box's
    own feature (so the proposal is the box-against-box one), alpha 1 the tracklet's first."""
    from appearance.scoring.calibration import PairSettings, calibrate, running_ema
    from tracker.nn_matching import Gallery

    rng = np.random.default_rng(0)
    frames, boxes, feats = [], [], []
    for f in range(1, 21):
        for k, x0 in enumerate((0.0, 200.0, 400.0)):
            frames.append(f)
            boxes.append([x0 + 2.0 * f, 50.0, 30.0, 80.0])
            feats.append(np.eye(8)[k] + 0.6 * rng.normal(size=8))
    frames, boxes, feats = np.array(frames), np.array(boxes), np.array(feats, np.float32)
    group = np.where(np.arange(len(frames)) % 3 == 2, -1, np.arange(len(frames)) % 3)
    ema = running_ema(frames, group, feats, 0.9, "cosine")
    g = Gallery("cosine", ema=0.9)
    for i in np.flatnonzero(group == 1):
        g.add(1, feats[i:i + 1])
        np.testing.assert_allclose(ema[i], g.samples[1][0], rtol=1e-6)
    np.testing.assert_array_equal(ema[group < 0], feats[group < 0])
    first = running_ema(frames, group, feats, 1.0, "cosine")
    i0 = np.flatnonzero(group == 0)
    np.testing.assert_allclose(first[i0], np.repeat(first[i0[:1]], len(i0), axis=0), rtol=1e-6)

    plain = calibrate(frames, boxes, feats, "cosine", PairSettings())
    latest = calibrate(frames, boxes, feats, "cosine", PairSettings(ema_alpha=0.0))
    smooth = calibrate(frames, boxes, feats, "cosine", PairSettings(ema_alpha=0.9))
    assert latest.label_free.proposal.threshold == pytest.approx(plain.label_free.proposal.threshold, abs=1e-6)
    np.testing.assert_allclose(np.sort(latest.label_free.pos), np.sort(plain.label_free.pos), atol=1e-6)
    assert len(latest.label_free.neg) == 2 * len(plain.label_free.neg)  # both ways round
    # noisy boxes against a smoothed tracklet feature sit closer than against one noisy box
    assert np.median(smooth.label_free.pos) < np.median(plain.label_free.pos)


def test_calibrate_rejects_an_ema_alpha_outside_zero_to_one(synth_root, capsys):
    assert main(["calibrate", "--seq", "SYNTH-01", "--data-root", str(synth_root), "--appearance", "hist",
                 "--ema-alpha", "1.5", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--ema-alpha" in err[0]
