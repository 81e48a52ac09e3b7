"""Re-identification metrics: hand-computed AP and CMC, the protocol's gallery, perfect and random features."""
from __future__ import annotations

import numpy as np
import pytest

from appearance.descriptors.histogram import HistogramDescriptor
from appearance.scoring.reid import embed_crops, evaluate_reid, ranking_scores, select_queries
from tracker.nn_matching import pairwise_distance as distance_matrix


def test_average_precision_and_first_rank_by_hand():
    dist = np.array([[0.1, 0.2, 0.3, 0.4],    # matches at ranks 2 and 4: AP (1/2 + 2/4) / 2 = 0.5
                     [0.4, 0.3, 0.2, 0.1],    # match at rank 1 (index 3 is closest): AP 1
                     [0.1, 0.2, 0.3, 0.4]])   # match at rank 3: AP 1/3
    match = np.array([[False, True, False, True],
                      [False, False, False, True],
                      [False, False, True, False]])
    ap, first = ranking_scores(dist, match)
    np.testing.assert_allclose(ap, [0.5, 1.0, 1 / 3])
    np.testing.assert_array_equal(first, [1, 0, 2])


def test_invalid_gallery_entries_are_ignored_and_ties_count_against_the_query():
    dist = np.array([[0.0, 0.5, 0.5, 0.9]])
    match = np.array([[True, True, False, False]])
    valid = np.array([[False, True, True, True]])   # the identical crop is outside the gallery
    ap, first = ranking_scores(dist, match, valid)
    # the match ties with a non-match at 0.5: the non-match ranks first
    assert first[0] == 1 and ap[0] == pytest.approx(0.5)
    ap, first = ranking_scores(dist, match, np.zeros_like(valid))
    assert np.isnan(ap[0]) and first[0] == -1


def _toy_identities(n_ids: int = 6, frames: int = 120, seqs: int = 2):
    ids, fr, grp = [], [], []
    for s in range(seqs):
        for f in range(1, frames + 1):
            for i in range(n_ids):
                ids.append(i)
                fr.append(f)
                grp.append(s)
    return np.array(ids), np.array(fr), np.array(grp)


def test_perfect_descriptor_scores_one_and_random_scores_near_chance():
    ids, frames, groups = _toy_identities()
    onehot = np.eye(6, dtype=np.float32)[ids]
    for metric in ("cosine", "euclidean"):
        r = evaluate_reid(onehot, ids, frames, groups, metric, min_gap=30, queries_per_id=10)
        assert r.mAP == pytest.approx(1.0) and r.rank1 == pytest.approx(1.0)
        assert r.queries == 2 * 6 * 10 and r.skipped == 0 and r.identities == 12
    rng = np.random.default_rng(0)
    r = evaluate_reid(rng.standard_normal((len(ids), 32)), ids, frames, groups, "cosine", 30, 10)
    assert r.mAP < 0.3 and r.rank1 < 0.4  # chance: 1/6 of the gallery matches
    constant = np.ones((len(ids), 4))
    r = evaluate_reid(constant, ids, frames, groups, "cosine", 30, 10)
    assert r.rank1 == 0.0  # all ties: pessimistic ranking gives no credit


def test_gallery_keeps_min_gap_and_never_spans_sequences():
    # identity 0 looks the same everywhere; only frames far enough away may serve as gallery
    ids = np.array([0, 0, 0, 1, 1])
    frames = np.array([1, 5, 50, 1, 50])
    groups = np.array([0, 0, 0, 0, 1])
    feats = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    r = evaluate_reid(feats, ids, frames, groups, "cosine", min_gap=10, queries_per_id=5)
    # queries of id 0: frames 1 and 5 find frame 50, frame 50 finds 1 and 5; id 1 is split over
    # two sequences, so its queries have no gallery match and are skipped
    assert r.queries == 3 and r.skipped == 2 and r.mAP == pytest.approx(1.0)
    # gallery sizes: frame 1 -> {50}, frame 5 -> {50}, frame 50 -> {1, 5, and id 1 at frame 1}
    assert r.mean_gallery == pytest.approx((1 + 1 + 3) / 3)


def test_query_selection_spreads_over_the_track():
    ids = np.zeros(100, np.int64)
    frames = np.arange(1, 101)
    q = select_queries(ids, frames, np.zeros(100, np.int64), 5)
    np.testing.assert_array_equal(frames[q], [1, 26, 51, 75, 100])
    assert len(select_queries(np.full(10, -1), np.arange(10), np.zeros(10), 5)) == 0


def test_distances_match_the_trackers_definitions():
    a = np.array([[3.0, 4.0], [1.0, 0.0]])
    b = np.array([[6.0, 8.0], [0.0, 2.0]])
    np.testing.assert_allclose(distance_matrix(a, b, "cosine"), [[0.0, 0.2], [0.4, 1.0]], atol=1e-12)
    np.testing.assert_allclose(distance_matrix(a, b, "euclidean"), [[25.0, 13.0], [89.0, 5.0]])


def test_frame_descriptors_embed_crops_through_a_mosaic_exactly():
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)
    desc = HistogramDescriptor()
    one_by_one = np.concatenate([desc.embed(np.ascontiguousarray(c[..., ::-1]), np.array([[0, 0, 64, 64]]))
                                 for c in crops])
    np.testing.assert_allclose(embed_crops(desc, crops, batch=16), one_by_one, atol=1e-6)
