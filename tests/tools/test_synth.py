"""The synthetic data maker: layout, determinism, staged hard cases, detector noise, streams, CLI."""
from __future__ import annotations

import argparse
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from tools.cli import synth as synth_command
from tools.io.errors import InputError
from tools.io.motformat import read_mot_file
from tools.io.sequence import Sequence, list_sequences
from tools.data.synth import SynthConfig, make_dataset, make_sequence, synth_stream


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of tlwh boxes (N, 4) x (M, 4)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter
    return inter / union


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> list[Path]:
    return make_dataset(tmp_path_factory.mktemp("synth"), 2, SynthConfig(), split="train")


@pytest.fixture(scope="module")
def seq(dataset) -> Sequence:
    return Sequence.open(dataset[0])


@pytest.fixture(scope="module")
def gt(seq) -> np.ndarray:
    return seq.ground_truth().data


@pytest.fixture(scope="module")
def det(seq) -> np.ndarray:
    return seq.detections().data


def test_dataset_layout_reads_back(dataset, tmp_path_factory):
    root = dataset[0].parent
    assert root.name == "train"
    assert [p.name for p in dataset] == ["SYNTH-01", "SYNTH-02"]
    assert [s.name for s in list_sequences(root.parent, split="train")] == ["SYNTH-01", "SYNTH-02"]
    config = SynthConfig()
    for path in dataset:
        s = Sequence.open(path)
        assert (s.info.width, s.info.height, s.info.length) == (config.width, config.height, config.frames)
        assert s.info.frame_rate == config.frame_rate
        assert sorted(p.name for p in s.image_dir.iterdir()) == [f"{f:06d}.jpg" for f in range(1, 151)]
        d = read_mot_file(s.det_path, "det").data
        g = read_mot_file(s.gt_path, "gt").data
        s.detections(), s.ground_truth()        # also checks every box touches the image
        first = s.det_path.read_text().splitlines()[0].split(",")
        assert len(first) == 10 and len(s.gt_path.read_text().splitlines()[0].split(",")) == 9
        assert (d[:, 1] == -1).all() and (d[:, 7:10] == -1).all()
        assert ((d[:, 6] > 0) & (d[:, 6] <= 1)).all()
        assert ((g[:, 6] == 1) & (g[:, 7] == 1)).all()
        assert ((g[:, 8] >= 0) & (g[:, 8] <= 1)).all()
        assert len(np.unique(g[:, 1])) > config.people      # people enter as others leave
    # the two sequences have their own seeds
    assert dataset[0].joinpath("gt/gt.txt").read_bytes() != dataset[1].joinpath("gt/gt.txt").read_bytes()


def test_frames_decode_at_seqinfo_size(seq):
    count = 0
    previous = None
    for frame, image in seq.frames():
        count += 1
        assert image.shape == (seq.info.height, seq.info.width, 3)
        assert image.std() > 10                     # textured, not a flat colour
        if previous is not None and frame % 30 == 0:
            assert np.abs(image.astype(int) - previous).mean() > 0.5   # people move
        previous = image.astype(int)
    assert count == seq.info.length


def test_same_seed_same_files_other_seed_differs(tmp_path):
    config = SynthConfig(frames=30, seed=3)
    a = make_sequence(tmp_path / "a", "S", config)
    b = make_sequence(tmp_path / "b", "S", config)
    c = make_sequence(tmp_path / "c", "S", SynthConfig(frames=30, seed=4))
    for rel in ("det/det.txt", "gt/gt.txt", "seqinfo.ini", "img1/000030.jpg"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert (a / "det/det.txt").read_bytes() != (c / "det/det.txt").read_bytes()
    assert (a / "gt/gt.txt").read_bytes() != (c / "gt/gt.txt").read_bytes()


def test_stream_rows_equal_the_written_files(tmp_path):
    root = make_sequence(tmp_path, "S", SynthConfig(frames=40, seed=5))
    det = read_mot_file(root / "det/det.txt", "det").data
    gt = read_mot_file(root / "gt/gt.txt", "gt").data
    rows = list(synth_stream(40, 8, 5))
    assert [f for f, _, _ in rows] == list(range(1, 41))
    np.testing.assert_allclose(np.concatenate([d for _, d, _ in rows]), det, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([g for _, _, g in rows]), gt[:, :9], atol=1e-6)


def test_rewriting_shorter_sequence_drops_stale_frames(tmp_path):
    make_sequence(tmp_path, "S", SynthConfig(frames=12))
    root = make_sequence(tmp_path, "S", SynthConfig(frames=5))
    assert sorted(p.name for p in (root / "img1").iterdir()) == [f"{f:06d}.jpg" for f in range(1, 6)]
    assert Sequence.open(root).info.length == 5


def test_identities_move_smoothly(gt):
    checked = 0
    for pid in np.unique(gt[:, 1]):
        rows = gt[gt[:, 1] == pid]
        rows = rows[np.argsort(rows[:, 0])]
        frames = rows[:, 0]
        assert (np.diff(frames) == 1).all(), f"id {pid} has gaps"    # no teleporting in and out
        # fully inside the image, the box is the person (no border cut), so size is smooth too
        inside = (rows[:, 2] > 0) & (rows[:, 2] + rows[:, 4] < 640) & (rows[:, 3] + rows[:, 5] < 360)
        a, b = rows[:-1], rows[1:]
        both = inside[:-1] & inside[1:]
        cx_step = np.abs((b[:, 2] + b[:, 4] / 2) - (a[:, 2] + a[:, 4] / 2))
        foot_step = np.abs((b[:, 3] + b[:, 5]) - (a[:, 3] + a[:, 5]))
        assert (cx_step[both] < 0.2 * a[both, 5]).all(), f"id {pid} jumps sideways"
        assert (foot_step[both] < 0.05 * a[both, 5] + 1).all(), f"id {pid} jumps in depth"
        assert (np.abs(b[both, 5] / a[both, 5] - 1) < 0.05).all(), f"id {pid} changes size abruptly"
        checked += int(both.sum())
    assert checked > 500


def test_perspective_lower_people_are_taller(gt):
    foot = gt[:, 3] + gt[:, 5]
    inside = (gt[:, 3] > 0) & (foot < 360)
    assert np.corrcoef(foot[inside], gt[inside, 5])[0, 1] > 0.9
    assert gt[inside, 5].max() > 1.8 * gt[inside, 5].min()     # people at a range of depths


def _velocity(gt: np.ndarray, pid: float, frame: float) -> float:
    rows = gt[(gt[:, 1] == pid) & (np.abs(gt[:, 0] - frame) <= 8)]
    rows = rows[np.argsort(rows[:, 0])]
    cx = rows[:, 2] + rows[:, 4] / 2
    return float(np.polyfit(rows[:, 0], cx, 1)[0]) if len(rows) > 2 else 0.0


def test_people_cross_at_similar_heights_and_the_nearer_hides_the_farther(gt):
    crossings = set()
    head_on = 0
    near_more_visible = far_more_visible = 0
    for f in np.unique(gt[:, 0]):
        g = gt[gt[:, 0] == f]
        overlap = iou(g[:, 2:6], g[:, 2:6])
        for i, j in zip(*np.nonzero(np.triu(overlap, 1) > 0.3)):
            crossings.add((g[i, 1], g[j, 1]))
            near, far = (i, j) if g[i, 3] + g[i, 5] > g[j, 3] + g[j, 5] else (j, i)
            if g[near, 8] > g[far, 8]:
                near_more_visible += 1
            elif g[near, 8] < g[far, 8]:
                far_more_visible += 1
            similar = abs(g[i, 5] - g[j, 5]) < 0.12 * max(g[i, 5], g[j, 5])
            if similar and _velocity(gt, g[i, 1], f) * _velocity(gt, g[j, 1], f) < -1.0:
                head_on += 1
    assert len(crossings) >= 3
    assert head_on > 0                  # people walking towards each other at similar heights
    assert near_more_visible > 4 * far_more_visible


def test_occluders_lower_visibility(gt):
    drops = 0
    for f in np.unique(gt[:, 0]):
        g = gt[gt[:, 0] == f]
        overlap = iou(g[:, 2:6], g[:, 2:6])
        np.fill_diagonal(overlap, 0)
        alone = overlap.max(axis=1) == 0
        inside = (g[:, 2] >= 0) & (g[:, 3] >= 0) & (g[:, 2] + g[:, 4] <= 640) & (g[:, 3] + g[:, 5] <= 360)
        drops += int(((g[:, 8] < 0.5) & alone & inside).sum())   # nobody else in front: an occluder
    assert drops > 0


def _match(det: np.ndarray, gt: np.ndarray):
    """Per frame Hungarian matching at IoU >= 0.5: (matched gt rows, their det rows, unmatched det rows)."""
    hit_gt, hit_det, false = [], [], []
    for f in range(1, int(max(gt[:, 0].max(), det[:, 0].max())) + 1):
        g = np.flatnonzero(gt[:, 0] == f)
        d = np.flatnonzero(det[:, 0] == f)
        matched = set()
        if len(g) and len(d):
            overlap = iou(det[d, 2:6], gt[g, 2:6])
            r, c = linear_sum_assignment(-overlap)
            ok = overlap[r, c] >= 0.5
            hit_gt += list(g[c[ok]])
            hit_det += list(d[r[ok]])
            matched = set(d[r[ok]])
        false += [k for k in d if k not in matched]
    return np.array(hit_gt), np.array(hit_det), np.array(false)


def test_detections_have_misses_false_positives_and_jitter(det, gt):
    hit_gt, hit_det, false = _match(det, gt)
    detected = np.zeros(len(gt), bool)
    detected[hit_gt] = True
    vis = gt[:, 8]
    assert len(false) > 10
    assert (~detected).sum() > 10
    assert (~detected[vis < 0.2]).mean() > 0.9          # heavily occluded people are missed
    clear = vis > 0.7
    assert 0 < (~detected[clear]).mean() < 0.2          # random misses among clearly visible ones
    assert det[hit_det, 6].mean() > det[false, 6].mean() + 0.2
    overlap = np.diag(iou(det[hit_det, 2:6], gt[hit_gt, 2:6]))
    assert 0.6 < overlap.mean() < 0.97                  # jittered, not copied
    fp = det[false]
    whole = (fp[:, 2] > 0) & (fp[:, 3] > 0) & (fp[:, 2] + fp[:, 4] < 640) & (fp[:, 3] + fp[:, 5] < 360)
    ratio = fp[whole, 4] / fp[whole, 5]                 # boxes not cut by the image border
    assert ((ratio > 0.25) & (ratio < 0.65)).mean() > 0.9  # false positives look like pedestrians


def test_identities_look_different(seq, gt):
    """Torso colour histograms from the first half of each person's clear views pick out the same
    person in the second half: the appearance a descriptor should learn is really there."""
    feats, labels = [], []
    clear = gt[(gt[:, 8] >= 0.99) & (gt[:, 5] >= 50)]
    for frame, image in seq.frames():
        for r in clear[clear[:, 0] == frame]:
            x, y, w, h = r[2:6]
            crop = image[int(y + 0.2 * h):int(y + 0.5 * h), int(x + 0.3 * w):int(x + 0.7 * w)]
            hist = cv2.calcHist([crop], [0, 1, 2], None, [4, 4, 4], [0, 256] * 3).ravel()
            feats.append(hist / hist.sum())
            labels.append(int(r[1]))
    feats, labels = np.array(feats), np.array(labels)
    gallery, queries = {}, []
    for pid in np.unique(labels):
        rows = np.flatnonzero(labels == pid)
        if len(rows) >= 4:
            gallery[pid] = feats[rows[: len(rows) // 2]].mean(axis=0)
            queries += list(rows[len(rows) // 2:])
    assert len(gallery) >= 5
    ids = np.array(list(gallery))
    dist = np.abs(feats[queries][:, None] - np.array(list(gallery.values()))[None]).sum(axis=-1)
    assert (ids[dist.argmin(axis=1)] == labels[queries]).mean() > 0.85


def test_stream_is_bounded_and_plausible():
    people, frames = 6, 5000
    live, ids = [], set()
    try:
        for frame, det, gt in synth_stream(frames, people, seed=1):
            # tracing is slow: watch the last 300 frames, long after the scene filled up
            if frame == frames - 300:
                tracemalloc.start()
            if frame == frames - 250:
                early = tracemalloc.get_traced_memory()[0]
            assert det.shape[1] == 10 and gt.shape[1] == 9
            assert (det[:, 0] == frame).all() and (gt[:, 0] == frame).all()
            assert ((det[:, 6] > 0) & (det[:, 6] <= 1)).all()
            assert ((gt[:, 8] >= 0) & (gt[:, 8] <= 1)).all()
            assert (det[:, 4:6] > 0).all() and (gt[:, 4:6] > 0).all()
            assert (det[:, 2] >= 0).all() and (det[:, 2] + det[:, 4] <= 640 + 1e-6).all()
            live.append(len(gt))
            ids.update(gt[:, 1].tolist())
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert frame == frames
    assert max(live) <= people + 2                  # a pair may overshoot by one
    assert np.mean(live) > people / 2
    assert len(ids) > 100                           # people keep entering and leaving
    assert late - early < 64 * 1024                 # nothing accumulates per frame


def test_config_rejects_bad_values():
    for bad in ({"people": 0}, {"frames": 0}, {"width": 10}, {"miss_rate": 1.5}, {"seed": -1},
                {"frame_rate": float("nan")}):
        with pytest.raises(ValueError):
            SynthConfig(**bad)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="track")
    synth_command.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_writes_sequences_and_prints_them(tmp_path, capsys):
    args = _parser().parse_args(["synth", "--out", str(tmp_path), "--sequences", "2", "--frames", "6",
                                 "--people", "3", "--seed", "2", "--width", "320", "--height", "180",
                                 "--split", "val"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "val" / "SYNTH-01"), str(tmp_path / "val" / "SYNTH-02")]
    s = Sequence.open(printed[1])
    assert (s.info.width, s.info.height, s.info.length) == (320, 180, 6)


def test_cli_bad_input_is_an_input_error(tmp_path):
    parser = _parser()
    for flags, word in ((["--frames", "0"], "--frames"), (["--people", "-1"], "--people"),
                        (["--sequences", "0"], "--sequences"), (["--split", "../x"], "--split")):
        args = parser.parse_args(["synth", "--out", str(tmp_path), *flags])
        with pytest.raises(InputError, match=word):
            args.func(args)
    (tmp_path / "file").write_text("x")
    args = parser.parse_args(["synth", "--out", str(tmp_path / "file")])
    with pytest.raises(InputError):
        args.func(args)


def test_cli_every_flag_has_help():
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = [a for a in sub.choices["synth"]._actions if a.option_strings and a.dest != "help"]
    assert len(actions) >= 8
    assert all(a.help for a in actions)
