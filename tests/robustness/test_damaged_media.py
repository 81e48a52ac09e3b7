"""Damaged media: a missing or unreadable frame in the middle of img1/, and a video that ends
before seqLength. By default `track run` warns, tracks those frames on their detections alone
(no appearance features) and notes them in run.json; --strict stops with exit status 2."""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import write_sequence
from tools.cli import main
from tools.io.frames import VIDEO_ENDS, iter_frames
from tools.io.sequence import Sequence
from tracker import DeepSort, Detections
import tracker.nn_matching as nn_matching
from tracker.nn_matching import Gallery

LENGTH = 8


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def damaged_images(root: Path) -> Path:
    """TINY-01 with frame 4 deleted and frame 5 replaced by bytes no decoder reads."""
    seq = write_sequence(root, length=LENGTH)
    os.remove(seq / "img1" / "000004.jpg")
    (seq / "img1" / "000005.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    return seq


def short_video(root: Path, frames: int = 5) -> Path:
    """A sequence whose only frames are a video holding `frames` of the LENGTH frames seqinfo.ini states."""
    seq = write_sequence(root, "VID-01", length=LENGTH, images=False)
    writer = cv2.VideoWriter(str(seq / "VID-01.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return seq


def run_args(seq: Path, tmp_path: Path, *extra) -> list:
    return ["run", "--seq", seq, "--appearance", "hist", "--results-root", tmp_path / "res",
            "--experiment", "e", "--quiet", "--no-eval", *extra]


def test_tolerant_reading_yields_none_and_records_spans(tmp_path):
    seq = Sequence.open(damaged_images(tmp_path))
    damaged, warned = [], []
    frames = list(iter_frames(seq, strict=False, damaged=damaged, warn=warned.append))
    assert [f for f, _ in frames] == list(range(1, LENGTH + 1))
    assert [f for f, img in frames if img is None] == [4, 5]
    assert [(d.first, d.last, d.reason) for d in damaged] == [(4, 4, "missing"), (5, 5, "unreadable")]
    assert damaged[0].path.endswith("000004.jpg") and len(warned) == 2 and "000005.jpg" in warned[1]


def test_missing_and_unreadable_frames_are_tracked_on_detections_and_reported(tmp_path, capsys):
    seq = damaged_images(tmp_path)
    code, out, err = run_cli(run_args(seq, tmp_path), capsys)
    assert code == 0, err
    assert "000004.jpg: frame 4 is missing" in err and "000005.jpg: frame 5 is unreadable" in err
    assert "TINY-01: 2 frame(s) had no image" in err
    run = json.loads((tmp_path / "res" / "e" / "run.json").read_text())
    spans = run["damaged_frames"]["TINY-01"]
    assert [(s["first"], s["last"], s["reason"]) for s in spans] == [(4, 4, "missing"), (5, 5, "unreadable")]
    rows = np.loadtxt(tmp_path / "res" / "e" / "data" / "TINY-01.txt", delimiter=",", ndmin=2)
    # the walker detected in every frame keeps one identity through the two frames without image
    walker = rows[rows[:, 2] < 150]
    assert set(walker[:, 0].astype(int)) >= {3, 4, 5, 6} and len(set(walker[:, 1])) == 1


def test_strict_stops_at_the_first_damaged_frame(tmp_path, capsys):
    seq = damaged_images(tmp_path)
    code, out, err = run_cli(run_args(seq, tmp_path, "--strict"), capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"track: error: {seq / 'img1' / '000004.jpg'}: frame 4 is missing")
    assert not (tmp_path / "res" / "e" / "data" / "TINY-01.txt").exists()


def test_video_that_ends_early(tmp_path, capsys):
    seq = short_video(tmp_path, frames=5)
    code, out, err = run_cli(run_args(seq, tmp_path, "--save-video"), capsys)
    assert code == 0, err
    assert "VID-01.avi: frame 6 is undecodable" in err
    spans = json.loads((tmp_path / "res" / "e" / "run.json").read_text())["damaged_frames"]["VID-01"]
    assert [(s["first"], s["last"], s["reason"]) for s in spans] == [(6, LENGTH, VIDEO_ENDS)]
    assert (tmp_path / "res" / "e" / "data" / "VID-01.txt").is_file()
    cap = cv2.VideoCapture(str(tmp_path / "res" / "e" / "video" / "VID-01.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == LENGTH  # black frames keep the timing
    cap.release()
    code, out, err = run_cli(run_args(seq, tmp_path, "--strict", "--experiment", "strict"), capsys)
    assert code == 2 and err.count("\n") == 1 and f"{seq / 'VID-01.avi'}:" in err and "frame 6 of 8" in err


def test_damage_notes_of_skipped_sequences_survive_a_rerun(tmp_path, capsys):
    damaged_images(tmp_path / "data")
    write_sequence(tmp_path / "data", "TINY-02", length=LENGTH)
    args = ["run", "--all", "--data-root", tmp_path / "data", "--appearance", "hist", "--results-root",
            tmp_path / "res", "--experiment", "e", "--quiet", "--no-eval"]
    assert run_cli(args, capsys)[0] == 0
    os.remove(tmp_path / "res" / "e" / "data" / "TINY-02.txt")
    code, out, err = run_cli(args, capsys)
    assert code == 0 and "skipping 1 finished" in out
    notes = json.loads((tmp_path / "res" / "e" / "run.json").read_text())["damaged_frames"]
    assert list(notes) == ["TINY-01"] and len(notes["TINY-01"]) == 2


# ---------------------------------------------------------------- the tracker side


def _frame(boxes, feats):
    boxes = np.asarray(boxes, float)
    return Detections(boxes, np.ones(len(boxes)), None if feats is None else np.asarray(feats, np.float32))


def test_a_frame_without_features_leaves_galleries_alone_and_ids_continue():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    boxes = lambda t: [[10 + 2 * t, 20, 30, 60], [200 - 2 * t, 20, 30, 60]]
    tracker = DeepSort()
    for t in range(5):
        tracker.update(_frame(boxes(t), [a, b]))
    before = {k: v.copy() for k, v in tracker.gallery.samples.items()}
    ids_before = sorted(i for i, _ in tracker.tracks_to_report())
    got = tracker.update(_frame(boxes(5), None))  # the frame's image could not be read
    assert sorted(i for i, _ in got) == ids_before
    assert tracker.gallery.samples.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(tracker.gallery.samples[k], before[k])
    got = tracker.update(_frame(boxes(6), [a, b]))
    assert sorted(i for i, _ in got) == ids_before
    assert all(len(tracker.gallery.samples[k]) == len(before[k]) + 1 for k in before)


def test_tracks_confirmed_without_any_feature_then_features_arrive():
    """Three frames without image in a row confirm a track with an empty gallery: no KeyError,
    and it keeps its identity when features come back."""
    tracker = DeepSort()
    for t in range(4):
        tracker.update(_frame([[10 + t, 20, 30, 60]], None))
    assert len(tracker.gallery) == 0
    (tid, _), = tracker.tracks_to_report()
    for t in range(4, 7):
        (tid2, _), = tracker.update(_frame([[10 + t, 20, 30, 60]], [[1.0, 0.0, 0.0]]))
        assert tid2 == tid
    assert len(tracker.gallery.samples[tid]) == 3


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_chunked_gallery_distance_equals_one_block(monkeypatch, metric):
    rng = np.random.default_rng(1)
    gallery = Gallery(metric, budget=20)
    for tid in range(1, 40):
        gallery.add(tid, rng.normal(size=(int(rng.integers(1, 21)), 16)).astype(np.float32))
    feats = rng.normal(size=(13, 16)).astype(np.float32)
    ids = list(range(0, 42))  # 0, 40 and 41 have no gallery
    monkeypatch.setattr(nn_matching, "CHUNK_ELEMENTS", 1 << 30)
    whole = gallery.distance(feats, ids)
    monkeypatch.setattr(nn_matching, "CHUNK_ELEMENTS", 50)  # a few tracks per chunk
    chunked = gallery.distance(feats, ids)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=2e-6)
    assert (whole[[0, 40, 41]] == 0).all() and (whole[1:40] != 0).any()
    # and each entry is the nearest sample's distance, computed directly
    t = 7
    g = gallery.samples[t]
    if metric == "cosine":
        direct = 1 - (g / np.linalg.norm(g, axis=1, keepdims=True)) @ (feats / np.linalg.norm(feats, axis=1, keepdims=True)).T
    else:
        direct = ((g[:, None, :] - feats[None]) ** 2).sum(-1)
    np.testing.assert_allclose(whole[t], direct.min(axis=0), atol=1e-4)


def test_motion_only_frames_match_what_constant_features_give():
    """Frames without features behave as if every detection had the same feature (the former
    motion-only mode), so motion-only DeepSORT output is unchanged."""
    rng = np.random.default_rng(3)
    a, b = DeepSort(), DeepSort()
    starts = rng.uniform(0, 500, (6, 2))
    for t in range(60):
        keep = rng.random(6) > 0.15
        boxes = np.concatenate([starts[keep] + 3 * t + rng.normal(0, 2, (keep.sum(), 2)),
                                np.tile([[30.0, 70.0]], (keep.sum(), 1))], axis=1)
        got_a = a.update(_frame(boxes, None))
        got_b = b.update(_frame(boxes, np.ones((len(boxes), 1))))
        assert [i for i, _ in got_a] == [i for i, _ in got_b]
        np.testing.assert_array_equal(np.array([x for _, x in got_a]).reshape(-1, 4),
                                      np.array([x for _, x in got_b]).reshape(-1, 4))
    assert len(a.gallery) == 0 and len(b.gallery) > 0
