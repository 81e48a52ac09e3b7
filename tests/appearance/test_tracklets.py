"""Strict IoU tracklets: pure labels from detections alone, and honest counts of what they hold."""
from __future__ import annotations

import numpy as np
import pytest

from appearance.crops.tracklets import TrackletParams, summarise, tracklet_ids


def walk(x0: float, dx: float, frames: range, y: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    f = np.array(list(frames))
    tlwh = np.stack([x0 + dx * (f - f[0]), np.full(len(f), y), np.full(len(f), 20.0),
                     np.full(len(f), 50.0)], axis=1)
    return f, tlwh


def stack(*walks):
    return (np.concatenate([w[0] for w in walks]), np.concatenate([w[1] for w in walks]))


def test_two_separate_people_get_two_labels_in_any_row_order():
    frame, tlwh = stack(walk(0, 2, range(1, 21)), walk(300, -2, range(1, 21)))
    perm = np.random.default_rng(0).permutation(len(frame))
    label = tracklet_ids(frame[perm], tlwh[perm])
    back = np.empty_like(label)
    back[perm] = label
    assert set(back[:20]) == {0} and set(back[20:]) == {1}


def test_short_tracklets_are_dropped_and_labels_stay_dense():
    frame, tlwh = stack(walk(0, 2, range(1, 5)), walk(300, 0, range(1, 21)))
    label = tracklet_ids(frame, tlwh, TrackletParams(min_length=8))
    assert np.all(label[:4] == -1)
    assert np.all(label[4:] == 0)


def test_a_gap_in_frames_breaks_the_tracklet():
    f1, b1 = walk(0, 1, range(1, 11))
    f2, b2 = walk(10, 1, range(13, 23))
    label = tracklet_ids(*stack((f1, b1), (f2, b2)))
    assert len(set(label[:10])) == 1 and len(set(label[10:])) == 1 and label[0] != label[10]
    joined = tracklet_ids(*stack((f1, b1), (f2, b2)), TrackletParams(max_gap=3))
    assert len(set(joined)) == 1


def test_max_gap_bridges_a_missed_box_while_other_people_are_seen():
    # person A is missed at frames 11-12 while person B, far away, is detected in every frame: the
    # frames are not empty, yet A's tracklet stays open max_gap frames and takes A back
    a1, a2 = walk(0, 1, range(1, 11)), walk(12, 1, range(13, 23))
    b = walk(400, 0, range(1, 23))
    frame, tlwh = stack(a1, a2, b)
    label = tracklet_ids(frame, tlwh, TrackletParams(min_length=3))
    assert label[0] != label[10]                              # consecutive frames only: A splits
    joined = tracklet_ids(frame, tlwh, TrackletParams(min_length=3, max_gap=3))
    assert len(set(joined[:20])) == 1 and len(set(joined[20:])) == 1 and joined[0] != joined[20]
    short = tracklet_ids(frame, tlwh, TrackletParams(min_length=3, max_gap=2))
    assert short[0] != short[10]                              # a 3-frame gap is beyond max_gap 2


def test_ends_left_open_by_a_crossing_do_not_block_the_links_after_it():
    # at a crossing the ambiguous links are dropped and fresh tracklets start, while the old ends
    # stay open for max_gap frames; the fresh ends (seen a frame ago) link first, so the stale
    # ones are no rivals and the longer max_gap labels at least as much, still purely
    frame, tlwh = stack(walk(0, 4, range(1, 31)), walk(124, -4, range(1, 31)))
    gt = np.r_[np.zeros(30, np.int64), np.ones(30, np.int64)]
    one = summarise(tracklet_ids(frame, tlwh, TrackletParams(min_length=3)), gt)
    three = summarise(tracklet_ids(frame, tlwh, TrackletParams(min_length=3, max_gap=3)), gt)
    assert three.purity == one.purity == 1.0
    assert three.labelled >= one.labelled and three.tracklets <= one.tracklets


def test_the_end_seen_last_frame_links_before_an_older_end():
    # A stands at x=0 in frames 1-5. In frame 6 two boxes overlap A's end (B at x=2, C at x=-10),
    # so neither links and both start tracklets. In frame 7 box D (x=4) overlaps B's end (gap 1,
    # IoU 0.82) and A's older end (gap 2, IoU 0.67): B, the end seen a frame ago, takes it. Taken
    # oldest first, A would; taken together, the two ends would be rivals and D would link to none.
    a = walk(0, 0, range(1, 6))
    frame = np.r_[a[0], 6, 6, 7]
    tlwh = np.vstack([a[1], [[2, 50, 20, 50], [-10, 50, 20, 50], [4, 50, 20, 50]]])
    label = tracklet_ids(frame, tlwh, TrackletParams(min_length=1, max_gap=3))
    b, c, d = label[5], label[6], label[7]
    assert len({label[0], b, c}) == 3          # frame 6 links to nothing
    assert d == b


def test_a_crossing_drops_the_ambiguous_links_so_no_tracklet_holds_two_people():
    # two people cross at frame ~11: near the crossing a second box overlaps each end
    a = walk(0, 4, range(1, 23))
    b = walk(84, -4, range(1, 23))
    frame, tlwh = stack(a, b)
    gt = np.r_[np.zeros(22, np.int64), np.ones(22, np.int64)]
    label = tracklet_ids(frame, tlwh, TrackletParams(min_length=3))
    for t in set(label[label >= 0]):
        assert len(set(gt[label == t])) == 1, "a tracklet mixes the two people"
    s = summarise(label, gt)
    assert s.purity == 1.0 and s.tracklets >= 4  # each person split before and after the meeting
    assert s.labelled < len(label)  # the crops at the crossing are left unlabelled


def test_without_the_ambiguity_rule_links_run_through_the_crossing():
    a = walk(0, 4, range(1, 23))
    b = walk(84, -4, range(1, 23))
    frame, tlwh = stack(a, b)
    loose = tracklet_ids(frame, tlwh, TrackletParams(min_length=3, ambiguity_iou=1.01))
    strict = tracklet_ids(frame, tlwh, TrackletParams(min_length=3))
    assert len(set(loose)) == 2 and np.all(loose >= 0)  # one label a person, no split
    assert len(set(strict[strict >= 0])) > 2


def test_summary_counts_and_purity_with_false_positives():
    label = np.array([0, 0, 0, 1, 1, -1])
    gt = np.array([5, 5, 7, 3, -1, 2])
    s = summarise(label, gt)
    assert (s.detections, s.labelled, s.tracklets) == (6, 5, 2)
    assert s.mean_length == pytest.approx(2.5)
    assert s.purity == pytest.approx(3 / 4)  # tracklet 0: two of three on person 5; 1: one on 3
    assert s.unmatched == pytest.approx(1 / 5)
    assert summarise(label).purity is None
    assert "2 tracklets over 5 of 6 detections" in s.line()


def test_mismatched_inputs_and_empty_input():
    with pytest.raises(ValueError):
        tracklet_ids(np.arange(3), np.zeros((2, 4)))
    assert tracklet_ids(np.zeros(0), np.zeros((0, 4))).shape == (0,)
