"""OC-SORT rules: SORT's life cycle with the reference's output boxes, ORU's replay after a gap,
OCM's direction term, OCR's recovery from the last observation, BYTE, camera motion, appearance."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.tracker.filterpy_sort import sort_filter
from tracker import Detections, Sort
from tracker.iou import iou_tlbr
from tracker.oc_sort import OcSort, OcSortParams
from tracker.sort import x_to_tlbr


def dets(boxes, scores=0.9, feature=None):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.broadcast_to(np.asarray(scores, float), (len(boxes),))
    return Detections(boxes, scores, feature)


def walker(frame, x0=100.0, y0=50.0, vx=5.0):
    return [x0 + vx * frame, y0, 40.0, 80.0]


def ids(out):
    return sorted(i for i, _ in out)


def by_id(out):
    return {i: b for i, b in out}


def test_defaults_are_the_authors():
    p = OcSortParams()
    assert (p.max_age, p.min_hits, p.iou_threshold, p.delta_t, p.inertia, p.use_byte, p.min_conf) == \
        (30, 3, 0.3, 3, 0.2, False, 0.1)
    assert p.det_thresh == 0.3  # BoxMOT's; below every score of the public MOT15 detections
    assert (p.appearance_weight, p.ema_alpha) == (0.0, 0.9)


def test_params_or_keywords_but_not_both():
    assert OcSort(max_age=5).params.max_age == 5
    assert OcSort(OcSortParams(delta_t=2)).params.delta_t == 2
    with pytest.raises(TypeError):
        OcSort(OcSortParams(), max_age=5)
    with pytest.raises(TypeError):
        OcSort(no_such_parameter=1)


def test_ids_start_at_one_for_every_instance():
    for _ in range(2):
        t = OcSort()
        assert ids(t.update(dets([walker(0), walker(0, x0=400)]))) == [1, 2]


def test_a_linear_walker_keeps_one_id_and_reports_its_detections():
    rng = np.random.default_rng(0)
    t = OcSort()
    seen = []
    for f in range(40):
        truth = np.array(walker(f, vx=4.0))
        box = truth + rng.normal(0.0, 1.0, 4)
        out = t.update(dets([box]))
        assert len(out) == 1
        tid, tlwh = out[0]
        seen.append(tid)
        # the reference reports the observation itself, not the filter's posterior
        np.testing.assert_allclose(tlwh, box, atol=1e-9)
        assert np.abs(tlwh - truth).max() < 5.0
    assert set(seen) == {1}


def test_the_filter_follows_the_walker():
    t = OcSort()
    for f in range(30):
        t.update(dets([walker(f, vx=4.0)]))
    assert t.x[0, 4] == pytest.approx(4.0, abs=0.05)  # centre x velocity
    assert t.x[0, 0] == pytest.approx(100.0 + 4.0 * 29 + 20.0, abs=0.5)


def test_min_hits_applies_after_the_first_frames_and_tentative_tracks_are_the_rest():
    t = OcSort()
    assert ids(t.update(dets([walker(0)]))) == [1]   # frame_count <= min_hits
    for f in range(1, 5):
        t.update(dets([walker(f)]))
    seen, tentative = [], []
    for f in range(5, 10):
        seen.append(ids(t.update(dets([walker(f), walker(f, x0=500)]))))
        tentative.append([i for i, _ in t.tentative_tracks()])
    # the newcomer has hit_streak 0 when born and is reported at its fourth box in a row
    assert seen == [[1], [1], [1], [1, 2], [1, 2]]
    assert tentative == [[2], [2], [2], [], []]
    (tid, tlwh), = [r for r in t.update(dets([walker(10), walker(10, x0=500)])) if r[0] == 2]
    np.testing.assert_allclose(tlwh, walker(10, x0=500))


def test_empty_frames_are_processed_and_tracks_die_after_max_age():
    t = OcSort(max_age=4)
    for _ in range(3):
        assert t.update(Detections.empty()) == []
    assert t.frame_count == 3
    t.update(dets([walker(0)]))
    for _ in range(4):
        assert t.update(Detections.empty()) == []
        assert len(t) == 1
    t.update(Detections.empty())  # time_since_update 5 > max_age
    assert len(t) == 0


def test_det_thresh_is_strict_and_low_boxes_start_nothing():
    t = OcSort(det_thresh=0.5)
    assert t.update(dets([walker(0), walker(0, x0=400)], [0.5, 0.51])) != []
    assert len(t) == 1 and ids(t.update(dets([walker(1, x0=400)], 0.9))) == [1]


def test_an_occluded_walker_reappearing_on_its_line_keeps_its_id():
    t = OcSort()
    for f in range(10):
        assert ids(t.update(dets([walker(f)]))) == [1]
    for f in range(10, 22):  # hidden for 12 frames, under max_age
        assert t.update(Detections.empty()) == []
    reported = []
    for f in range(22, 30):
        reported += ids(t.update(dets([walker(f)])))
        assert len(t) == 1
    assert reported and set(reported) == {1}


def _stop_behind_scene():
    """A walks right at 6 px/frame. B walks left at 6 px/frame, is missed for frames 8-15 while it
    slows to 1 px/frame, then walks on at 6 px/frame and crosses A (frames 20-21)."""
    frames, bx = [], 300.0
    for f in range(30):
        if f > 0:
            bx -= 1.0 if 8 <= f <= 16 else 6.0
        a, b = walker(f, vx=6.0), [bx, 60.0, 40.0, 80.0]
        frames.append([a] if 8 <= f <= 15 else [a, b])
    return frames


def _run(tracker, frames):
    """Per frame {id: tlwh} reported."""
    return [by_id(tracker.update(dets(boxes))) for boxes in frames]


def test_a_walker_that_slows_while_hidden_is_recovered_and_keeps_its_id_through_a_crossing():
    frames = _stop_behind_scene()
    oc = _run(OcSort(), frames)
    for f, out in enumerate(oc):
        for tid, box in out.items():
            # id 1 is always A (y 50) and id 2 always B (y 60)
            assert box[1] == (50.0 if tid == 1 else 60.0), (f, out)
    assert set(oc[-1]) == {1, 2}
    # SORT extrapolates B's old speed through the gap, misses it and starts a new id, even
    # when allowed to wait as long as OC-SORT
    sort = _run(Sort(max_age=30, min_hits=1), frames)
    b_ids = {tid for out in sort for tid, box in out.items() if abs(box[1] - 60.0) < 3.0}
    assert len(b_ids) == 2


def test_without_ocr_the_slowed_walker_would_be_lost():
    """The same scene: B's prediction has run 40 px ahead, so only OCR (IoU with B's last
    observation) brings it back; the first association alone fails."""
    t = OcSort()
    frames = _stop_behind_scene()
    for boxes in frames[:16]:
        t.update(dets(boxes))
    b = np.flatnonzero(t.ids == 2)[0]
    box_b = np.asarray(frames[16][1])
    box_b = np.concatenate([box_b[:2], box_b[:2] + box_b[2:]])[None]
    x = t.x[b:b + 1].copy()
    x[0, :3] += x[0, 4:]  # next frame's prediction
    assert iou_tlbr(box_b, x_to_tlbr(x))[0, 0] < 0.3
    assert iou_tlbr(box_b, t.last_obs[b:b + 1])[0, 0] > 0.3
    t.update(dets(frames[16]))
    assert t.time_since_update[b] == 0


def _z(tlwh):
    x, y, w, h = tlwh
    return np.array([x + w / 2, y + h / 2, w * h, w / h])


def test_oru_replays_a_linear_virtual_trajectory_from_the_state_frozen_when_lost():
    """Independent filterpy run of the paper's ORU: the filter is taken back to the first frame
    of the gap and corrected with observations interpolated between the last box before the gap
    and the new one (centre, width and height linear), predicting between them; then corrected
    with the new box."""
    boxes = [walker(f, vx=5.0) for f in range(6)]
    new = [130.0, 52.0, 44.0, 84.0]  # frame 10: it slowed while hidden, and grew
    t = OcSort()
    for b in boxes:
        t.update(dets([b]))
    for _ in range(4):
        t.update(Detections.empty())
    t.update(dets([new]))

    kf = sort_filter(_z(boxes[0]))
    for b in boxes[1:]:
        kf.predict()
        kf.update(_z(b))
    kf.predict()
    frozen = kf.x.copy(), kf.P.copy()  # frame 6, the first missed
    for _ in range(4):
        kf.predict()
    kf.update(_z(new))
    plain = kf.x[:, 0].copy(), kf.P.copy()  # a plain correction after the gap, without ORU
    kf.x, kf.P = frozen
    (x1, y1, w1, h1), (x2, y2, w2, h2) = boxes[-1], new
    c1, c2 = np.array([x1 + w1 / 2, y1 + h1 / 2]), np.array([x2 + w2 / 2, y2 + h2 / 2])
    gap = 5
    for k in range(1, gap + 1):
        c = c1 + (c2 - c1) * k / gap
        w, h = w1 + (w2 - w1) * k / gap, h1 + (h2 - h1) * k / gap
        kf.update(np.array([c[0], c[1], w * h, w / h]))
        if k < gap:
            kf.predict()
    kf.update(_z(new))
    np.testing.assert_allclose(t.x[0], kf.x[:, 0], rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(t.P[0], kf.P, rtol=1e-9, atol=1e-8)
    # not what a plain correction after the gap gives: the virtual observations leave the filter
    # far surer of the position than the uncertainty grown while lost would
    assert np.abs(t.x[0] - plain[0]).max() > 0.1
    assert t.P[0, 0, 0] < 0.5 * plain[1][0, 0] and t.P[0, 2, 2] < 0.5 * plain[1][2, 2]


def test_ocm_direction_decides_between_equally_overlapping_boxes():
    """Two tracks whose filters predict the same box (no motion information there), A observed
    moving right and B moving left; two boxes equally far left and right of the prediction.
    With inertia each track takes the box in its direction, whatever the detection order; without
    it the choice is a tie, decided by the order."""
    def run(inertia, order):
        t = OcSort(inertia=inertia, min_hits=1)
        for f in range(4):
            t.update(dets([walker(f, y0=50.0), walker(f, x0=200.0, y0=60.0, vx=-5.0)]))
        t.x[:, [0, 1, 2, 3]] = t.x[0, [0, 1, 2, 3]]
        t.x[:, 4:] = 0.0
        t.P[:] = t.P[0]
        centre = t.x[0, :2]
        left = [centre[0] - 25.0, centre[1] - 40.0, 40.0, 80.0]
        right = [centre[0] - 15.0, centre[1] - 40.0, 40.0, 80.0]
        boxes = [left, right] if order else [right, left]
        got = by_id(t.update(dets(boxes)))
        return "A right" if got[1][0] > got[2][0] else "A left"

    assert run(0.2, True) == run(0.2, False) == "A right"
    assert {run(0.0, True), run(0.0, False)} == {"A right", "A left"}


def test_use_byte_lets_low_boxes_keep_a_track_but_never_start_one():
    def run(use_byte):
        t = OcSort(use_byte=use_byte, det_thresh=0.6)
        for f in range(5):
            t.update(dets([walker(f)], 0.9))
        kept = []
        for f in range(5, 9):  # occluded: only a low-score box, plus a low box elsewhere
            t.update(dets([walker(f), walker(f, x0=500)], 0.3))
            kept.append(int(t.time_since_update[0]))
        return kept, len(t)

    assert run(True) == ([0, 0, 0, 0], 1)
    assert run(False) == ([1, 2, 3, 4], 1)


def _warp(angle=0.0, scale=1.0, t=(0.0, 0.0)):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, t[0]], [s, c, t[1]]])


def test_camera_motion_keeps_a_static_person_under_a_pan():
    def run(compensate):
        t = OcSort(min_hits=1)
        seen = []
        for f in range(12):
            if compensate and f:
                t.apply_camera_motion(_warp(t=(30.0, 0.0)))
            seen += [i for i, _ in t.update(dets([[100.0 + 30.0 * f, 50.0, 20.0, 40.0]]))]
        return seen

    compensated = run(True)
    assert set(compensated) == {1} and len(compensated) == 12
    # uncompensated, each frame's box is a new track, never matched, so never reported
    assert run(False) == [1]


def test_camera_motion_moves_filter_observations_and_direction_alike():
    t = OcSort()
    for f in range(5):
        t.update(dets([walker(f)]))
    t.update(Detections.empty())  # lost: a frozen state for ORU exists now
    x, frozen, obs = t.x.copy(), t.frozen_x.copy(), t.last_obs.copy()
    warp = _warp(np.pi / 2, 2.0, (10.0, 20.0))
    t.apply_camera_motion(warp)

    def move(c):
        return c @ warp[:, :2].T + warp[:, 2]

    np.testing.assert_allclose(t.x[:, :2], move(x[:, :2]))
    np.testing.assert_allclose(t.x[:, 2], 4.0 * x[:, 2])          # area with the scale squared
    np.testing.assert_allclose(t.frozen_x[:, :2], move(frozen[:, :2]))
    centre = (obs[:, :2] + obs[:, 2:]) / 2
    np.testing.assert_allclose((t.last_obs[:, :2] + t.last_obs[:, 2:]) / 2, move(centre))
    np.testing.assert_allclose(t.last_obs[:, 2:] - t.last_obs[:, :2], 2.0 * (obs[:, 2:] - obs[:, :2]))
    # the walker went right (dy, dx) = (0, 1); turned a quarter, it goes down: (1, 0)
    np.testing.assert_allclose(t.velocity[0], [1.0, 0.0], atol=1e-6)
    with pytest.raises(ValueError):
        t.apply_camera_motion(np.eye(2))


def test_appearance_weight_zero_is_motion_only_even_with_features():
    rng = np.random.default_rng(1)
    frames = _stop_behind_scene()
    a, b = OcSort(appearance_weight=0.0), OcSort()
    for boxes in frames:
        feature = rng.normal(size=(len(boxes), 8))
        out_a = a.update(dets(boxes, 0.9, feature))
        out_b = b.update(dets(boxes, 0.9))
        assert [i for i, _ in out_a] == [i for i, _ in out_b]
        for (_, ba), (_, bb) in zip(out_a, out_b):
            np.testing.assert_array_equal(ba, bb)
    np.testing.assert_array_equal(a.x, b.x)


def test_appearance_can_overrule_motion_between_overlapping_tracks():
    """Two still people 30 px apart, red and blue; then boxes 10 px in from each, the nearer to
    the first carrying blue: by motion the near box goes to the near track, by appearance across."""
    red, blue = [1.0, 0.0], [0.0, 1.0]
    first, second = [100.0, 50.0, 40.0, 80.0], [130.0, 50.0, 40.0, 80.0]
    result = {}
    for weight in (0.0, 0.5):
        t = OcSort(appearance_weight=weight, min_hits=1)
        for _ in range(4):
            t.update(dets([first, second], 0.9, np.array([red, blue])))
        out = by_id(t.update(dets([[110.0, 50.0, 40.0, 80.0], [120.0, 50.0, 40.0, 80.0]], 0.9,
                                  np.array([blue, red]))))
        result[weight] = out[1][0]
    assert result == {0.0: 110.0, 0.5: 120.0}


def test_params_dataclass_round_trips_through_asdict():
    p = OcSortParams(det_thresh=0.5, use_byte=True)
    assert OcSort(OcSortParams(**dataclasses.asdict(p))).params == p


class _OneByOne(OcSort):
    """ORU as the reference runs it: each re-found track alone, one virtual step at a time."""

    def _reupdate(self, idx, z_new, gap):
        from tracker.sort import kf_predict, kf_update, tlbr_to_z
        for i, z2, g in zip(idx.tolist(), z_new, gap.tolist()):
            x, P = self.frozen_x[i:i + 1], self.frozen_P[i:i + 1]
            z1 = tlbr_to_z(self.last_obs[i:i + 1])[0]
            w1, h1 = np.sqrt(z1[2] * z1[3]), np.sqrt(z1[2] / z1[3])
            w2, h2 = np.sqrt(z2[2] * z2[3]), np.sqrt(z2[2] / z2[3])
            for k in range(1, g + 1):
                w, h = w1 + k * ((w2 - w1) / g), h1 + k * ((h2 - h1) / g)
                z = [z1[0] + k * ((z2[0] - z1[0]) / g), z1[1] + k * ((z2[1] - z1[1]) / g), w * h, w / h]
                x, P = kf_update(x, P, np.array([z]))
                if k < g:
                    x, P = kf_predict(x, P)
            self.x[i], self.P[i] = x[0], P[0]


def test_tracks_refound_in_one_frame_after_different_gaps_replay_as_each_would_alone():
    """ORU steps the re-found tracks of a frame together, longest gap first; every track must end
    where the reference's one-track-at-a-time replay leaves it."""
    people = [(lambda f, x0=x0, v=v: walker(f, x0=x0, y0=40.0 + 90 * k, vx=v), seen)
              for k, (x0, v, seen) in enumerate([(100.0, 5.0, set(range(9)) | {12, 13}),   # gap 4
                                                 (300.0, -4.0, set(range(6)) | {12, 13}),  # gap 7
                                                 (500.0, 3.0, set(range(10)) | {12, 13}),  # gap 3
                                                 (700.0, -2.0, set(range(14)))])]           # never lost
    runs = []
    for cls in (OcSort, _OneByOne):
        t = cls()
        for f in range(14):
            t.update(dets([box(f) for box, seen in people if f in seen]))
        runs.append(t)
    assert len(runs[0]) == 4 and runs[0].ids.tolist() == runs[1].ids.tolist()
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    np.testing.assert_array_equal(runs[0].P, runs[1].P)
