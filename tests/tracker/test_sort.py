"""SORT rules: birth, reporting, death, posterior boxes, empty frames, the legacy array API."""
import numpy as np
import pytest

from tracker import Detections, Sort, SortParams
from tests.tracker.filterpy_sort import sort_filter
from tracker.sort import associate


def dets(*boxes, conf=0.9):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return Detections(boxes, np.full(len(boxes), conf))


def walker(frame, x0=100.0, y0=50.0, vx=3.0):
    return (x0 + vx * frame, y0, 40.0, 80.0)


def test_ids_start_at_one_for_every_tracker_instance():
    for _ in range(2):
        s = Sort()
        out = s.update(dets(walker(0), walker(0, x0=400)))
        assert sorted(i for i, _ in out) == [1, 2]


def test_first_frames_report_at_once_then_min_hits_applies():
    s = Sort(min_hits=3)
    assert [i for i, _ in s.update(dets(walker(0)))] == [1]  # frame_count <= min_hits
    for f in range(1, 5):
        s.update(dets(walker(f)))
    # a newcomer at frame 6 starts with hit_streak 0: reported after min_hits further hits
    seen = []
    for f in range(5, 10):
        out = s.update(dets(walker(f), walker(f, x0=500)))
        seen.append(sorted(i for i, _ in out))
    assert seen == [[1], [1], [1], [1, 2], [1, 2]]



def test_tentative_tracks_are_the_unreported_ones_seen_this_frame():
    s = Sort(min_hits=3)
    for f in range(4):
        s.update(dets(walker(f)))
    out = s.update(dets(walker(4), walker(4, x0=500)))
    assert [i for i, _ in out] == [1]                      # the results are unchanged
    (tid, tlwh), = s.tentative_tracks()                    # the newcomer, not yet reported
    assert tid == 2 and tlwh == pytest.approx([500 + 3 * 4, 50, 40, 80], abs=1e-6)
    for f in range(5, 8):
        s.update(dets(walker(f), walker(f, x0=500)))
    assert s.tentative_tracks() == []                      # reported now: no longer tentative

def test_a_missed_frame_hides_the_track_and_two_misses_kill_it():
    s = Sort(max_age=1, min_hits=1)
    for f in range(4):
        s.update(dets(walker(f)))
    assert s.update(Detections.empty()) == []  # not updated this frame -> not reported
    assert len(s) == 1
    out = s.update(dets(walker(5)))  # caught again within max_age: same ID
    assert [i for i, _ in out] == [1]
    s.update(Detections.empty())
    s.update(Detections.empty())
    assert len(s) == 0
    assert s.update(dets(walker(8))) == []  # born with hit_streak 0
    assert [i for i, _ in s.update(dets(walker(9)))] == [2]


def test_empty_frames_are_processed():
    s = Sort()
    for _ in range(3):
        assert s.update(Detections.empty()) == []
    assert s.frame_count == 3
    # frame_count is past min_hits: a new track is not reported on its first frame
    assert s.update(dets(walker(0))) == []


def _filterpy_posterior(boxes_tlbr):
    """An independent SORT filter built from filterpy, for the reported posterior boxes."""
    def z(b):
        w, h = b[2] - b[0], b[3] - b[1]
        return np.array([[b[0] + w / 2], [b[1] + h / 2], [w * h], [w / h]])

    def box(x):
        w = np.sqrt(x[2, 0] * x[3, 0])
        h = x[2, 0] / w
        return np.array([x[0, 0] - w / 2, x[1, 0] - h / 2, x[0, 0] + w / 2, x[1, 0] + h / 2])

    kf = sort_filter(z(boxes_tlbr[0]))
    out = [box(kf.x)]
    for b in boxes_tlbr[1:]:
        if kf.x[6, 0] + kf.x[2, 0] <= 0:
            kf.x[6, 0] = 0
        kf.predict()
        kf.update(z(b))
        out.append(box(kf.x))
    return np.array(out)


def test_reported_boxes_are_the_filter_posterior_not_the_detection():
    rng = np.random.default_rng(3)
    tlbr = np.array([[100 + 4 * f, 50 + f, 140 + 4 * f, 130 + f] for f in range(12)], float)
    tlbr += rng.normal(0, 2.0, tlbr.shape)
    s = Sort(min_hits=1)
    got = []
    for b in tlbr:
        got.append(s.update(np.array([[*b, 0.9]]))[0, :4])
    expected = _filterpy_posterior(tlbr)
    np.testing.assert_allclose(np.array(got), expected, atol=1e-6)
    assert np.abs(np.array(got)[3:] - tlbr[3:]).max() > 0.1  # smoothing changed the boxes


def test_legacy_array_api_returns_x1y1x2y2_id():
    s = Sort()
    out = s.update(np.array([[10, 10, 50, 90, 0.9], [200, 10, 240, 90, 0.8]]))
    assert out.shape == (2, 5)
    assert set(out[:, 4]) == {1.0, 2.0}
    np.testing.assert_allclose(out[out[:, 4] == 1, :4], [[10, 10, 50, 90]], atol=1e-9)
    assert s.update(np.empty((0, 5))).shape == (0, 5)
    with pytest.raises(ValueError):
        s.update(np.zeros((2, 3)))


def test_association_drops_pairs_under_the_threshold_and_uses_assignment_on_conflicts():
    trks = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    detections = np.array([[1, 0, 11, 10], [50, 50, 60, 60]], float)
    matches, unmatched = associate(detections, trks, 0.3)
    assert matches.tolist() == [[0, 0]] and unmatched.tolist() == [1]
    # one detection overlapping two tracks above the threshold -> optimal assignment picks the best
    detections = np.array([[4, 0, 24, 10], [19, 0, 29, 10]], float)
    matches, unmatched = associate(detections, trks, 0.1)
    assert sorted(map(tuple, matches.tolist())) == [(0, 0), (1, 1)]
    assert unmatched.tolist() == []


def test_params_dataclass_has_paper_defaults():
    p = SortParams()
    assert (p.max_age, p.min_hits, p.iou_threshold) == (1, 3, 0.3)


@pytest.mark.parametrize("coupled", [False, True])
def test_batched_correction_is_filterpys_joseph_form(coupled):
    """kf_update against filterpy's update for a batch of filters: with the diagonal innovation
    covariance SORT's filter keeps (its shortcut), and with x and y mixed as after a camera
    rotation (the general inverse)."""
    from tracker.sort import kf_update

    rng = np.random.default_rng(3)
    xs, Ps, zs, expected = [], [], [], []
    for i in range(4):
        kf = sort_filter([100.0 + 10 * i, 50.0, 3200.0, 0.5])
        for k in range(3):
            kf.predict()
            kf.update(kf.x[:4, 0] + rng.normal(size=4))
        kf.predict()
        if coupled:
            a = rng.normal(size=(7, 7)) * 0.5
            kf.P = kf.P + a @ a.T  # still symmetric positive definite, now fully coupled
        xs.append(kf.x[:, 0].copy())
        Ps.append(kf.P.copy())
        zs.append(kf.x[:4, 0] + rng.normal(size=4) * 3)
        kf.update(zs[-1])
        expected.append((kf.x[:, 0].copy(), kf.P.copy()))
    x, P = kf_update(np.array(xs), np.array(Ps), np.array(zs))
    S = np.array(Ps)[:, :4, :4]
    assert (np.abs(S - S * np.eye(4)).max() > 0) == coupled
    for i, (ex, eP) in enumerate(expected):
        np.testing.assert_allclose(x[i], ex, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(P[i], eP, rtol=1e-12, atol=1e-9)
