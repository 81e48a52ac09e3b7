"""Gap filling of result rows: linear in the frame number, only within a track, only short gaps."""
from __future__ import annotations

import numpy as np

from tracker.interpolation import interpolate_gaps


def _rows(*tracks):
    return np.array([r for t in tracks for r in t], dtype=np.float64)


def test_a_gap_is_filled_linearly_and_rows_come_sorted_by_frame_then_id():
    a = [(1, 1, 0, 0, 10, 20), (4, 1, 30, 60, 16, 20)]
    b = [(2, 2, 5, 5, 5, 5), (3, 2, 6, 6, 5, 5)]
    out = interpolate_gaps(_rows(a, b), max_gap=5)
    assert out[:, 0].tolist() == [1, 2, 2, 3, 3, 4]
    assert out[:, 1].tolist() == [1, 1, 2, 1, 2, 1]
    filled = out[out[:, 1] == 1]
    np.testing.assert_allclose(filled[1], [2, 1, 10, 20, 12, 20])
    np.testing.assert_allclose(filled[2], [3, 1, 20, 40, 14, 20])


def test_gaps_longer_than_max_gap_and_between_tracks_stay_open():
    a = [(1, 1, 0, 0, 10, 10), (5, 1, 40, 0, 10, 10)]   # 3 missing frames
    b = [(7, 2, 0, 0, 10, 10)]
    rows = _rows(a, b)
    assert len(interpolate_gaps(rows, max_gap=2)) == 3
    assert len(interpolate_gaps(rows, max_gap=3)) == 6
    assert len(interpolate_gaps(rows, max_gap=0)) == 3


def test_several_gaps_in_one_track_each_get_their_own_line():
    a = [(1, 3, 0, 0, 1, 1), (3, 3, 2, 0, 1, 1), (6, 3, 2, 30, 1, 1)]
    out = interpolate_gaps(_rows(a), max_gap=10)
    assert out[:, 0].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(out[:, 2], [0, 1, 2, 2, 2, 2])
    np.testing.assert_allclose(out[:, 3], [0, 0, 0, 10, 20, 30])


def test_empty_input():
    assert interpolate_gaps(np.zeros((0, 6)), 5).shape == (0, 6)
