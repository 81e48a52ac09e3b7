"""DeepSORT rules: cascade order, gating, IoU stage, confirmation, gallery budget, reporting, NMS."""
import numpy as np
import pytest

from tracker import DeepSort, DeepSortParams, DetectionFilter, Detections, non_max_suppression
from tracker import kalman_filter as kf
from tracker.deep_sort import CONFIRMED, TENTATIVE
from tracker.iou import iou_tlbr, iou_tlwh
from tracker.linear_assignment import INFTY_COST, global_matching, matching_cascade, min_cost_matching
from tracker.nn_matching import Gallery


def frame(boxes, feats=None, conf=0.9):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    f = None if feats is None else np.asarray(feats, np.float32).reshape(len(boxes), -1)
    return Detections(boxes, np.full(len(boxes), conf), f)


def box(f, x0=100.0, vx=2.0):
    return [x0 + vx * f, 50.0, 40.0, 100.0]


# -- matching cascade and min-cost matching ---------------------------------------------------

def test_cascade_serves_recently_seen_tracks_first():
    cost = np.array([[0.05], [0.15]])  # track 0 fits better but was missed for longer
    tsu = np.array([2, 1])
    matches, unmatched_tracks, unmatched_dets = matching_cascade(cost, 0.2, 30, tsu, np.array([0, 1]), np.array([0]))
    assert matches == [(1, 0)]
    assert unmatched_tracks.tolist() == [0] and len(unmatched_dets) == 0
    # without the cascade (one assignment) track 0 would win
    plain, unmatched, _ = global_matching(cost, 0.2, 30, tsu, np.array([0, 1]), np.array([0]))
    assert plain == [(0, 0)] and unmatched.tolist() == [1]


def test_global_matching_reaches_only_the_cascades_tracks():
    cost = np.array([[0.05], [0.15]])  # track 0 fits better but is older than the cascade's depth
    matches, unmatched, _ = global_matching(cost, 0.2, 30, np.array([31, 1]), np.array([0, 1]), np.array([0]))
    assert matches == [(1, 0)] and unmatched.tolist() == [0]


def test_min_cost_matching_rejects_pairs_over_the_threshold():
    cost = np.array([[0.1, 0.5], [INFTY_COST, 0.9]])
    matches, ut, ud = min_cost_matching(cost, 0.2, np.array([0, 1]), np.array([0, 1]))
    assert matches == [(0, 0)]
    assert ut.tolist() == [1] and ud.tolist() == [1]


def test_cascade_skips_tracks_older_than_its_depth():
    cost = np.array([[0.01]])
    matches, ut, ud = matching_cascade(cost, 0.2, 3, np.array([4]), np.array([0]), np.array([0]))
    assert matches == [] and ut.tolist() == [0] and ud.tolist() == [0]


# -- Kalman filter and gating ---------------------------------------------------------------------

def test_gating_distance_is_the_squared_mahalanobis_distance():
    mean, cov = kf.initiate(np.array([[100.0, 80.0, 0.4, 100.0], [300.0, 90.0, 0.5, 120.0]]))
    mean, cov = kf.predict(mean, cov)
    meas = np.array([[101.0, 82.0, 0.41, 99.0], [170.0, 80.0, 0.4, 100.0]])
    got = kf.gating_distance(mean, cov, meas)
    pm, S = kf.project(mean, cov)
    for t in range(2):
        for m in range(2):
            d = meas[m] - pm[t]
            assert got[t, m] == pytest.approx(d @ np.linalg.inv(S[t]) @ d, rel=1e-9)
    assert kf.CHI2_INV_95[4] == pytest.approx(9.4877)
    assert got[0, 0] < kf.CHI2_INV_95[4] < got[0, 1]


def test_kalman_update_matches_the_textbook_formula():
    mean, cov = kf.initiate(np.array([[100.0, 80.0, 0.4, 100.0]]))
    mean, cov = kf.predict(mean, cov)
    z = np.array([[103.0, 79.0, 0.42, 104.0]])
    new_mean, new_cov = kf.update(mean, cov, z)
    H = np.eye(4, 8)
    pm, S = kf.project(mean, cov)
    K = cov[0] @ H.T @ np.linalg.inv(S[0])
    np.testing.assert_allclose(new_mean[0], mean[0] + K @ (z[0] - pm[0]), rtol=1e-10)
    np.testing.assert_allclose(new_cov[0], cov[0] - K @ S[0] @ K.T, rtol=1e-8, atol=1e-12)


def test_a_far_detection_with_identical_appearance_is_gated_out():
    same = [[1.0, 0.0]]
    t = DeepSort(n_init=1, max_age=5)
    for f in range(6):
        t.update(frame([box(f)], same))
    assert t.state[0] == CONFIRMED
    out = t.update(frame([[500.0, 300.0, 40.0, 100.0]], same))  # appearance says yes, motion says no
    ids = sorted(i for i, _ in out)
    assert 1 in ids  # the old track is still reported (missed for one frame, predicted box)
    assert len(t) == 2 and t.time_since_update[0] == 1


# -- track life cycle ---------------------------------------------------------------------------

def test_tentative_tracks_are_confirmed_after_n_init_hits_through_the_iou_stage():
    rng = np.random.default_rng(0)
    t = DeepSort(n_init=3)
    reported = []
    for f in range(4):
        # a new random feature every frame: only IoU can associate a tentative track
        reported.append([i for i, _ in t.update(frame([box(f)], rng.normal(size=(1, 8))))])
    assert reported == [[], [], [1], [1]]
    assert t.state.tolist() == [CONFIRMED]



def test_tentative_tracks_lists_unconfirmed_tracks_seen_this_frame():
    t = DeepSort(n_init=3)
    assert t.update(frame([box(0)])) == []                 # results: confirmed tracks only
    (tid, tlwh), = t.tentative_tracks()
    assert tid == 1 and tlwh == pytest.approx(box(0), abs=1e-6)
    t.update(frame([box(1)]))
    assert [i for i, _ in t.update(frame([box(2)]))] == [1]
    assert t.tentative_tracks() == []

def test_a_tentative_track_missed_once_is_deleted():
    t = DeepSort(n_init=3)
    t.update(frame([box(0)]))
    t.update(frame([box(1)]))
    assert t.state.tolist() == [TENTATIVE]
    t.update(Detections.empty())
    assert len(t) == 0


def test_confirmed_tracks_missed_this_frame_are_reported_with_the_predicted_box():
    t = DeepSort(n_init=2, max_age=3)
    for f in range(5):
        t.update(frame([box(f)]))
    out = t.update(Detections.empty())
    assert [i for i, _ in out] == [1]
    assert out[0][1][0] > box(4)[0]  # moved on with the velocity estimate
    assert t.update(Detections.empty()) == []  # missed twice: kept but not reported
    assert len(t) == 1
    for _ in range(3):
        t.update(Detections.empty())
    assert len(t) == 0  # deleted after max_age misses


def test_motion_only_reacquires_a_track_after_a_gap():
    t = DeepSort(n_init=2, max_age=10)
    for f in range(6):
        t.update(frame([box(f)]))
    for _ in range(3):
        t.update(Detections.empty())
    out = t.update(frame([box(9)]))
    assert [i for i, _ in out] == [1]


def test_appearance_keeps_identities_apart_where_motion_alone_would_not():
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    left, right = [100.0, 50.0, 40.0, 100.0], [104.0, 50.0, 40.0, 100.0]  # both inside both gates
    t = DeepSort(n_init=2, max_age=10)
    for _ in range(6):
        t.update(frame([left, right], [a, b]))
    id_of = {round(bx[0]): i for i, bx in t.tracks_to_report()}
    # the two swap places: the feature, not the position, decides who is who
    out = t.update(frame([left, right], [b, a]))
    x_of = {i: bx[0] for i, bx in out}
    assert x_of[id_of[100]] > 102 and x_of[id_of[104]] < 102  # each pulled to its feature's box
    still = DeepSort(n_init=2, max_age=10)  # motion alone keeps everyone in place
    for _ in range(6):
        still.update(frame([left, right]))
    x_still = {i: bx[0] for i, bx in still.update(frame([left, right]))}
    assert x_still[id_of[100]] < 101


def test_gallery_keeps_the_newest_budget_features():
    g = Gallery("cosine", budget=3)
    for k in range(5):
        g.add(7, np.eye(5, dtype=np.float32)[k:k + 1])
    assert len(g.samples[7]) == 3
    np.testing.assert_allclose(g.samples[7], np.eye(5)[2:5])
    cost = g.distance(np.eye(5, dtype=np.float32), [7])
    np.testing.assert_allclose(cost[0], [1, 1, 0, 0, 0], atol=1e-6)
    g.retain([])
    assert len(g) == 0


def test_tracker_galleries_respect_the_budget_and_forget_deleted_tracks():
    rng = np.random.default_rng(1)
    t = DeepSort(n_init=1, nn_budget=4, max_age=2, max_distance=2.0)
    for f in range(10):
        t.update(frame([box(f)], rng.normal(size=(1, 6)) + 5))
    assert len(t.gallery.samples[1]) == 4
    for _ in range(4):
        t.update(Detections.empty())
    assert len(t.gallery) == 0


def test_euclidean_gallery_distance_is_squared_and_nearest():
    g = Gallery("euclidean", budget=None)
    g.add(1, np.array([[0.0, 0.0], [3.0, 0.0]], np.float32))
    cost = g.distance(np.array([[1.0, 0.0], [3.0, 4.0]], np.float32), [1])
    np.testing.assert_allclose(cost, [[1.0, 16.0]], atol=1e-5)


# -- preprocessing ------------------------------------------------------------------------------

def test_nms_keeps_the_best_box_and_reorders_by_score():
    boxes = np.array([[0, 0, 10, 20], [1, 0, 10, 20], [50, 0, 10, 20]], float)
    keep = non_max_suppression(boxes, 0.7, np.array([0.5, 0.9, 0.7]))
    assert keep.tolist() == [1, 2]
    keep = non_max_suppression(boxes, 1.0, np.array([0.5, 0.9, 0.7]))
    assert keep.tolist() == [1, 2, 0]  # nothing suppressed, order by descending score


def test_detection_filter_applies_confidence_height_and_nms():
    d = Detections(np.array([[0, 0, 10, 20], [1, 0, 10, 20], [50, 0, 10, 5], [80, 0, 10, 20]], float),
                   np.array([0.5, 0.9, 0.95, 0.2]))
    out = DetectionFilter(min_confidence=0.3, min_height=10, nms_max_overlap=0.7)(d)
    assert out.tlwh[:, 0].tolist() == [1]


def test_iou_functions_agree_with_each_other_and_with_a_direct_computation():
    rng = np.random.default_rng(2)
    a = np.c_[rng.uniform(0, 50, (5, 2)), rng.uniform(5, 30, (5, 2))]
    b = np.c_[rng.uniform(0, 50, (4, 2)), rng.uniform(5, 30, (4, 2))]
    to_tlbr = lambda x: np.c_[x[:, :2], x[:, :2] + x[:, 2:]]
    np.testing.assert_allclose(iou_tlwh(a, b), iou_tlbr(to_tlbr(a), to_tlbr(b)), rtol=1e-12)
    i, j = 1, 2
    x1, y1 = max(a[i, 0], b[j, 0]), max(a[i, 1], b[j, 1])
    x2 = min(a[i, 0] + a[i, 2], b[j, 0] + b[j, 2])
    y2 = min(a[i, 1] + a[i, 3], b[j, 1] + b[j, 3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    expect = inter / (a[i, 2] * a[i, 3] + b[j, 2] * b[j, 3] - inter)
    assert iou_tlwh(a, b)[i, j] == pytest.approx(expect)


def test_params_dataclass_has_paper_defaults():
    p = DeepSortParams()
    assert (p.max_distance, p.nn_budget, p.max_iou_distance, p.max_age, p.n_init) == (0.2, 100, 0.7, 30, 3)
    assert (p.motion_weight, p.ema_alpha, p.motion_fallback) == (0.0, None, False)  # the reference
    f = DetectionFilter()
    assert (f.min_confidence, f.nms_max_overlap) == (0.3, 0.7)


def _crossing_run(**params):
    """Two confirmed tracks side by side whose features then swap: the fused cost's test scene."""
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    left, right = [100.0, 50.0, 40.0, 100.0], [110.0, 50.0, 40.0, 100.0]
    t = DeepSort(n_init=2, max_age=10, max_distance=1.5, **params)
    for _ in range(8):
        t.update(frame([left, right], [a, b]))
    id_of = {round(bx[0]): i for i, bx in t.tracks_to_report()}
    out = t.update(frame([left, right], [b, a]))
    return id_of, {i: bx[0] for i, bx in out}


def test_fused_cost_lets_motion_outvote_a_weak_appearance_difference():
    # appearance alone (lambda 0, the reference) follows the swapped features
    id_of, x_of = _crossing_run()
    assert x_of[id_of[100]] > 105
    # lambda 1: the cost is the Mahalanobis distance alone, so each track keeps its own box
    id_of, x_of = _crossing_run(motion_weight=1.0)
    assert x_of[id_of[100]] < 105 and x_of[id_of[110]] > 105


def test_fused_cost_keeps_the_appearance_gate():
    # a narrow box that jumps 12 px: inside the Mahalanobis gate, outside the IoU stage's reach
    def jump(feature, **params):
        t = DeepSort(n_init=1, max_age=5, max_distance=0.2, **params)
        for f in range(6):
            t.update(frame([[100.0, 50.0, 10.0, 100.0]], [[1.0, 0.0]]))
        t.update(frame([[112.0, 50.0, 10.0, 100.0]], [feature]))
        return t
    for params in ({}, {"motion_weight": 0.5}):
        kept = jump([1.0, 0.0], **params)
        assert len(kept) == 1 and kept.time_since_update[0] == 0       # same look: matched
        refused = jump([-1.0, 0.0], **params)                          # cosine distance 2 > 0.2
        assert len(refused) == 2 and refused.time_since_update[0] == 1  # a new track instead


def test_motion_weight_zero_is_the_reference_tracker():
    rng = np.random.default_rng(3)
    runs = []
    for params in ({}, {"motion_weight": 0.0}):
        t = DeepSort(n_init=2, **params)
        out = []
        for f in range(30):
            boxes = [box(f, 100.0 + 60 * k, 1.0 + k) for k in range(3)]
            feats = rng.standard_normal((3, 4)) if not params else runs[0][1][f]
            out.append((t.update(frame(boxes, feats)), feats))
        runs.append(([[(i, b.tolist()) for i, b in o] for o, _ in out], [f for _, f in out]))
    assert runs[0][0] == runs[1][0]


# -- EMA track feature (StrongSORT) -------------------------------------------------------------

def test_ema_gallery_keeps_one_renormalised_blend_per_track():
    g = Gallery("cosine", budget=100, ema=0.75)
    a, b = np.array([[3.0, 0.0]], np.float32), np.array([[0.0, 2.0]], np.float32)
    g.add(1, a)
    g.add(1, np.concatenate([b, b]))
    want = np.array([1.0, 0.0])
    for _ in range(2):
        want = 0.75 * want + 0.25 * np.array([0.0, 1.0])
        want /= np.linalg.norm(want)
    assert g.samples[1].shape == (1, 2)
    np.testing.assert_allclose(g.samples[1][0], want, rtol=1e-6)
    np.testing.assert_allclose(g.distance(b, [1]), [[1.0 - want[1]]], rtol=1e-6)
    e = Gallery("euclidean", ema=0.5)   # no renormalising under the Euclidean metric
    e.add(1, np.array([[0.0, 0.0], [4.0, 0.0]], np.float32))
    np.testing.assert_allclose(e.samples[1], [[2.0, 0.0]])


def test_ema_gallery_forgets_a_single_odd_feature_that_a_nearest_neighbour_gallery_keeps():
    usual, odd = np.array([[1.0, 0.0]], np.float32), np.array([[0.0, 1.0]], np.float32)
    costs = {}
    for ema in (None, 0.9):
        g = Gallery("cosine", budget=100, ema=ema)
        for f in [usual] * 10 + [odd] + [usual] * 3:
            g.add(5, f)
        costs[ema] = g.distance(odd, [5])[0, 0]
    assert costs[None] < 1e-6            # the gallery still holds the odd crop: a perfect match
    assert costs[0.9] > 0.5              # the EMA has moved back towards the usual look


@pytest.mark.parametrize("ema", [-0.1, 1.5])
def test_ema_outside_zero_one_is_refused(ema):
    with pytest.raises(ValueError, match="ema"):
        Gallery("cosine", ema=ema)


def test_ema_alpha_zero_is_a_gallery_of_the_last_feature():
    rng = np.random.default_rng(4)
    outputs = []
    for params in ({"ema_alpha": 0.0}, {"nn_budget": 1}):
        t = DeepSort(n_init=2, max_distance=0.6, **params)
        frames, reported = [], []
        for f in range(40):
            boxes = [box(f, 100.0 + 45 * k, 1.5 + 0.5 * k) for k in range(4)]
            feats = rng.standard_normal((4, 6)) + np.eye(4, 6) * 3 if not outputs else outputs[0][1][f]
            frames.append(feats)
            reported.append([(i, b.tolist()) for i, b in t.update(frame(boxes, feats))])
        outputs.append((reported, frames, {k: v.copy() for k, v in t.gallery.samples.items()}))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][2].keys() == outputs[1][2].keys()
    for k in outputs[0][2]:
        np.testing.assert_allclose(outputs[0][2][k], outputs[1][2][k], rtol=1e-6)


def test_ema_track_feature_resists_a_one_frame_look_alike():
    # two side-by-side tracks; for one frame track A's crop looks like B. With a gallery, B's
    # later crops then match A's gallery perfectly (cost 0) in the swap frame; the EMA is not fooled.
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    left, right = [100.0, 50.0, 40.0, 100.0], [130.0, 50.0, 40.0, 100.0]
    costs = {}
    for params in ({}, {"ema_alpha": 0.9}):
        t = DeepSort(n_init=2, max_age=10, max_distance=0.5, **params)
        for f in range(10):
            t.update(frame([left, right], [a, b] if f != 5 else [b, b]))
        cost = t.gallery.distance(np.array([b], np.float32), t.ids.tolist())[:, 0]
        costs[bool(params)] = sorted(cost.tolist())
    assert costs[False][1] < 1e-3        # gallery: both tracks hold a crop that looks like b
    assert costs[True][1] > 0.5          # EMA: only B's own feature is near b


def _return_after_gap(**params):
    """One person seen 6 frames (feature a), hidden 3, back where motion expects them but looking
    different (feature b: a crop the descriptor cannot read). Returns the ids of the last frame."""
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    t = DeepSort(n_init=2, max_age=10, **params)
    for f in range(6):
        t.update(frame([box(f)], [a]))
    for _ in range(3):
        t.update(Detections.empty())
    t.update(frame([box(9)], [b]))
    return [i for i, _ in t.update(frame([box(10)], [b]))]


def test_motion_fallback_matches_what_the_appearance_gate_rejected():
    """The reference leaves a track missed for 3 frames to the cascade alone: its appearance
    rejects the returning box, the IoU stage is closed to it, and a new track starts. With the
    fallback the gated motion-only cascade takes the pair, as motion-only DeepSORT would."""
    assert _return_after_gap() == [2]
    assert _return_after_gap(motion_fallback=True) == [1]


def test_motion_fallback_leaves_appearance_the_first_word():
    """Two people in both gates; appearance has matched each to its own box, so the fallback has
    nothing left to change."""
    id_of, x_of = _crossing_run()
    id_fb, x_fb = _crossing_run(motion_fallback=True)
    assert id_fb == id_of and x_fb == x_of
    assert x_of[id_of[100]] > 105 and x_of[id_of[110]] < 105


def test_motion_fallback_without_features_is_motion_only_deepsort():
    runs = []
    for fb in (False, True):
        t = DeepSort(n_init=2, max_age=10, motion_fallback=fb)
        out = []
        for f in range(12):
            dets = [box(f)] if f not in (5, 6, 7) else []
            dets += [box(f, x0=400.0, vx=-3.0)]
            out.append(t.update(frame(dets)))
        runs.append([[(i, b.tolist()) for i, b in o] for o in out])
    assert runs[0] == runs[1]


def test_motion_fallback_stays_inside_the_mahalanobis_gate():
    """A box far outside the lost track's gate starts a new track, fallback or not."""
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    for fb in (False, True):
        t = DeepSort(n_init=2, max_age=10, motion_fallback=fb)
        for f in range(6):
            t.update(frame([box(f)], [a]))
        for _ in range(3):
            t.update(Detections.empty())
        t.update(frame([box(9, x0=400.0)], [b]))
        assert [i for i, _ in t.update(frame([box(10, x0=400.0)], [b]))] == [2]


def _neighbour_claims(**params):
    """Two people side by side (features close but not equal); A is hidden 2 frames, then A's box
    returns while B's is missed. Returns the id that takes A's returning box."""
    a = np.array([1.0, 0.3, 0.0]) / np.hypot(1.0, 0.3)
    b = np.array([1.0, 0.0, 0.3]) / np.hypot(1.0, 0.3)   # cosine distance to a: about 0.08
    left, right = [100.0, 50.0, 40.0, 100.0], [110.0, 50.0, 40.0, 100.0]
    t = DeepSort(n_init=2, max_age=10, max_distance=0.2, **params)
    for _ in range(6):
        ids = [i for i, _ in t.update(frame([left, right], [a, b]))]
    id_a, id_b = ids
    for _ in range(2):
        t.update(frame([right], [b]))
    (taken,) = [i for i, bx in t.update(frame([left], [a])) if bx[0] < 105]
    return taken, id_a, id_b


def test_global_matching_lets_the_nearest_feature_win_over_the_most_recent_track():
    taken, id_a, id_b = _neighbour_claims()
    assert taken == id_b                       # the cascade asks B first (seen last frame)
    taken, id_a, id_b = _neighbour_claims(matching="global")
    assert taken == id_a                       # one assignment: A's own feature is nearest


def test_global_matching_keeps_the_motion_fallback_and_checks_its_name():
    assert _return_after_gap(matching="global") == [2]          # appearance rejects the return
    assert _return_after_gap(matching="global", motion_fallback=True) == [1]
    with pytest.raises(ValueError, match="matching"):
        DeepSort(matching="globl")
