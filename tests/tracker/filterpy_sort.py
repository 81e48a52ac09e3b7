"""An independent SORT filter built from filterpy, the reference the batched xysr filter is checked
against (SORT's posterior boxes, OC-SORT's re-update)."""
import numpy as np
from filterpy.kalman import KalmanFilter


def sort_filter(z0) -> KalmanFilter:
    """filterpy KalmanFilter with SORT's F, H, R, P0 and Q, started at observation z0 (xysr)."""
    kf = KalmanFilter(dim_x=7, dim_z=4)
    kf.F = np.eye(7)
    kf.F[0, 4] = kf.F[1, 5] = kf.F[2, 6] = 1
    kf.H = np.eye(4, 7)
    kf.R = np.diag([1.0, 1, 10, 10])
    kf.P = np.diag([10.0, 10, 10, 10, 1e4, 1e4, 1e4])
    kf.Q = np.diag([1.0, 1, 1, 1, 1e-2, 1e-2, 1e-4])
    kf.x[:4, 0] = np.ravel(z0)
    return kf
