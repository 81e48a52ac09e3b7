"""ByteTrack rules: the high/low score split, who may start a track, the lost buffer, the partial
assignment with a cost limit, and the optional appearance term."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tracker import ByteTrack, ByteTrackParams, Detections
from tracker.byte_track import assign_with_limit, iou_inclusive


def dets(boxes, scores, feature=None):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Detections(boxes, np.asarray(scores, float).reshape(-1), feature)


def walker(frame, x0=100.0, vx=4.0):
    return [x0 + vx * frame, 50.0, 40.0, 80.0]


def ids(out):
    return sorted(i for i, _ in out)


def test_defaults_are_the_authors():
    p = ByteTrackParams()
    assert (p.track_thresh, p.low_thresh, p.match_thresh, p.second_match_thresh, p.track_buffer) == \
        (0.5, 0.1, 0.8, 0.5, 30)
    assert ByteTrack().det_thresh == pytest.approx(0.6)
    with pytest.raises(TypeError):
        ByteTrack(ByteTrackParams(), track_buffer=5)


def test_ids_start_at_one_for_every_instance_and_the_first_frame_reports_at_once():
    for _ in range(2):
        t = ByteTrack()
        assert ids(t.update(dets([walker(0), walker(0, x0=400)], [0.9, 0.9]))) == [1, 2]


def test_a_later_birth_is_reported_from_its_second_frame():
    t = ByteTrack()
    t.update(dets([walker(0)], [0.9]))
    out = t.update(dets([walker(1), walker(1, x0=400)], [0.9, 0.9]))
    assert ids(out) == [1]
    assert [i for i, _ in t.tentative_tracks()] == [2]
    assert ids(t.update(dets([walker(2), walker(2, x0=400)], [0.9, 0.9]))) == [1, 2]


def test_low_score_boxes_keep_a_track_alive_but_never_start_one():
    t = ByteTrack()
    for f in range(3):
        t.update(dets([walker(f)], [0.9]))
    # the person is occluded: the detector is unsure for a while
    for f in range(3, 8):
        out = t.update(dets([walker(f), walker(f, x0=500)], [0.3, 0.3]))
        assert ids(out) == [1], "the low box keeps track 1; the lone low box starts nothing"
    # a high box between the thresholds (0.5 <= s < 0.6) matches but does not start a track
    out = t.update(dets([walker(8), walker(8, x0=500)], [0.9, 0.55]))
    assert ids(out) == [1] and len(t) == 1


def test_without_the_low_association_the_track_would_be_lost():
    t = ByteTrack(low_thresh=0.5)   # every low box discarded: plain high-score tracking
    for f in range(3):
        t.update(dets([walker(f)], [0.9]))
    assert ids(t.update(dets([walker(3)], [0.3]))) == []


def test_a_lost_track_is_refound_within_its_buffer_which_scales_with_the_frame_rate():
    def refound_after(gap, frame_rate):
        t = ByteTrack(track_buffer=30, frame_rate=frame_rate)
        for f in range(5):
            t.update(dets([walker(f, vx=1.0)], [0.9]))
        for f in range(5, 5 + gap):
            t.update(dets(np.zeros((0, 4)), []))
        return t.update(dets([walker(5 + gap, vx=1.0)], [0.9]))

    assert ids(refound_after(10, 30.0)) == [1]
    assert ByteTrack(frame_rate=15.0).max_time_lost == 15
    assert ids(refound_after(20, 15.0)) == [], "past 15 frames lost the track is gone"
    assert ids(refound_after(20, 30.0)) == [1]


def test_iou_counts_a_box_edge_as_one_pixel_like_cython_bbox():
    a = np.array([[0.0, 0.0, 9.0, 9.0]])   # 10 x 10 pixels inclusive
    b = np.array([[5.0, 0.0, 14.0, 9.0]])
    assert iou_inclusive(a, b)[0, 0] == pytest.approx(50.0 / 150.0)
    assert iou_inclusive(a, a)[0, 0] == pytest.approx(1.0)


def _brute_force(cost, limit):
    """The least sum of (cost - limit) over partial matchings taking only pairs <= limit."""
    n, m = cost.shape
    best = 0.0
    for k in range(1, min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = cost[list(rows), list(cols)]
                if np.all(c <= limit):
                    best = min(best, float(np.sum(c - limit)))
    return best


@pytest.mark.parametrize("seed", range(20))
def test_the_partial_assignment_is_optimal_under_the_limit(seed):
    rng = np.random.default_rng(seed)
    cost = rng.uniform(0, 1, size=(rng.integers(1, 5), rng.integers(1, 5)))
    cost[rng.uniform(size=cost.shape) < 0.2] = np.inf
    limit = 0.6
    matches, free_rows, free_cols = assign_with_limit(cost, limit)
    got = float(np.sum(cost[matches[:, 0], matches[:, 1]] - limit)) if len(matches) else 0.0
    assert got == pytest.approx(_brute_force(cost, limit))
    assert np.all(cost[matches[:, 0], matches[:, 1]] <= limit)
    assert sorted(np.concatenate([matches[:, 0], free_rows]).tolist()) == list(range(cost.shape[0]))
    assert sorted(np.concatenate([matches[:, 1], free_cols]).tolist()) == list(range(cost.shape[1]))


def test_the_limit_keeps_a_cheap_pair_that_a_forced_full_matching_would_give_up():
    # Hungarian on the full matrix would take (0,1)+(1,0) = 1.0 < 0.05 + 9; then the filter drops
    # (0,1) and (1,0) both exceed 0.5 -> nothing. With the limit, (0,0) is kept.
    cost = np.array([[0.05, 0.5001], [0.5001, 9.0]])
    matches, _, _ = assign_with_limit(cost, 0.5)
    assert matches.tolist() == [[0, 0]]


def _crossing(appearance_weight):
    """Two people walk towards each other and cross behind one another at the same height; their
    features tell them apart. Returns the id seen on person A before and after the crossing."""
    t = ByteTrack(appearance_weight=appearance_weight, appearance_thresh=0.5)
    fa, fb = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    first = last = None
    for f in range(30):
        a = [100.0 + 10.0 * f, 50.0, 40.0, 80.0]
        b = [390.0 - 10.0 * f, 50.0, 40.0, 80.0]
        out = dict(t.update(dets([a, b], [0.9, 0.9], np.stack([fa, fb]))))
        for tid, box in out.items():
            if abs(box[0] - a[0]) < 5:
                first = tid if first is None else first
                last = tid
    return first, last


def test_appearance_weight_zero_is_motion_only_even_with_features():
    rng = np.random.default_rng(1)
    a, b = ByteTrack(), ByteTrack()
    for f in range(20):
        boxes = [walker(f), walker(f, x0=300, vx=-3.0), walker(f, x0=160, vx=1.0)]
        scores = [0.9, 0.35, 0.7]
        out_a = a.update(dets(boxes, scores, rng.normal(size=(3, 8))))
        out_b = b.update(dets(boxes, scores))
        assert ids(out_a) == ids(out_b)
        for (ia, ba), (ib, bb) in zip(sorted(out_a, key=lambda r: r[0]), sorted(out_b, key=lambda r: r[0])):
            np.testing.assert_allclose(ba, bb)


def test_an_inadmissible_appearance_distance_blocks_a_motion_match():
    red, blue = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    seen = {}
    for weight in (0.0, 0.5):
        t = ByteTrack(appearance_weight=weight, appearance_thresh=0.3)
        for f in range(3):
            t.update(dets([walker(f)], [0.9], red))
        # the same place, another appearance: only motion alone continues track 1
        seen[weight] = ids(t.update(dets([walker(3)], [0.9], blue)))
    assert seen == {0.0: [1], 0.5: []}


def test_camera_motion_moves_the_prediction():
    t = ByteTrack()
    for f in range(3):
        t.update(dets([[100.0, 50.0, 40.0, 80.0]], [0.9]))
    t.apply_camera_motion(np.array([[1.0, 0.0, 60.0], [0.0, 1.0, 0.0]]))
    out = t.update(dets([[160.0, 50.0, 40.0, 80.0]], [0.9]))
    assert ids(out) == [1]
    with pytest.raises(ValueError):
        t.apply_camera_motion(np.eye(2))
