"""The synthetic scene's geometry: a level pinhole camera over a flat ground plane, static
occluders (pillars, trees, hedges) standing in the walkway, and how much of each person they
and the frame edges leave visible."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ASPECT = 0.41          # box width / height of a standing person, as in MOT16 ground truth
CAM_HEIGHT = 2.5       # metres; the camera looks level over a flat ground plane
_GRID = 20             # visibility is sampled on a _GRID x _GRID lattice over each box


class Camera:
    """Pinhole camera over a flat ground: feet at depth z appear at row horizon + f*CAM_HEIGHT/z.

    So a person's pixel height is proportional to how far below the horizon their feet are,
    which is the perspective cue that real street footage has.
    """

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.f = 1.6 * height
        self.cx = width / 2
        self.horizon = 0.22 * height
        self.y_far = 0.42 * height      # feet of the farthest walkers
        self.y_near = 0.97 * height     # feet of the nearest walkers
        self.z_near = self.depth_at(self.y_near)
        self.z_far = self.depth_at(self.y_far)

    def depth_at(self, foot_y):
        return self.f * CAM_HEIGHT / (np.asarray(foot_y, dtype=float) - self.horizon)

    def foot_y(self, z):
        return self.horizon + self.f * CAM_HEIGHT / z

    def half_view(self, z: float) -> float:
        """Half the width of ground visible at depth z, in metres."""
        return self.cx * z / self.f

    def edge(self, z: float) -> float:
        """Lateral position just outside the image at depth z (whole person hidden)."""
        return self.half_view(z) + 0.5

    def boxes(self, x, z, tall, build) -> np.ndarray:
        h = self.f * tall / z
        w = ASPECT * build * h
        return np.stack([self.cx + self.f * x / z - w / 2, self.foot_y(z) - h, w, h], axis=-1)

    def sample_depth(self, rng: np.random.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
        """A depth whose foot row lies a fraction in [lo, hi] of the way from far to near.

        Rows are drawn with density growing with the square of their distance below the horizon:
        far walkers stay in view longer (the view is wider there and they cross fewer pixels
        per step), and this evens that out so people fill the image from top to bottom.
        """
        a = (self.y_far + lo * (self.y_near - self.y_far) - self.horizon) ** 3
        b = (self.y_far + hi * (self.y_near - self.y_far) - self.horizon) ** 3
        row = self.horizon + (a + rng.random() * (b - a)) ** (1 / 3)
        return float(self.depth_at(row))


@dataclass(frozen=True)
class Occluder:
    kind: str          # "pillar", "tree" or "hedge"
    x: float           # lateral position of its centre on the ground, metres
    z: float           # depth, metres
    width: float       # metres (trunk width for a tree)
    tall: float        # metres (trunk height for a tree)
    crown: float = 0.0  # crown radius of a tree, metres

    def extent(self, cam: Camera) -> tuple[float, float, float, float]:
        """In the image: the centre column, half the width, the foot row and the top row."""
        u = cam.cx + cam.f * self.x / self.z
        half = cam.f * self.width / self.z / 2
        foot = float(cam.foot_y(self.z))
        return u, half, foot, foot - cam.f * self.tall / self.z

    def boxes(self, cam: Camera) -> list[tuple[float, float, float, float]]:
        """Image boxes (x0, y0, x1, y1) that hide whatever stands behind them."""
        u, half, foot, top = self.extent(cam)
        out = [(u - half, max(top, 0.0), u + half, foot)]
        if self.kind == "tree":
            r = cam.f * self.crown / self.z * 0.85   # a square a little inside the round crown
            out.append((u - r, top - r, u + r, top + r))
        return out


def place_occluders(cam: Camera, n: int, rng: np.random.Generator) -> list[Occluder]:
    """Spread n occluders across the lower middle of the walkway, leaving room to pass behind."""
    out = []
    first = ["pillar", "tree"] if rng.random() < 0.5 else ["tree", "pillar"]   # both hide people whole
    for k in range(n):
        kind = first[k] if k < 2 else str(rng.choice(["pillar", "tree", "hedge"]))
        z = cam.sample_depth(rng, 0.45, 0.8)
        slot = (k + rng.uniform(0.25, 0.75)) / n
        column = cam.width * (0.12 + 0.76 * slot)
        x = (column - cam.cx) * z / cam.f
        if kind == "pillar":
            out.append(Occluder(kind, x, z, rng.uniform(0.5, 0.8), 8.0))
        elif kind == "tree":
            out.append(Occluder(kind, x, z, rng.uniform(0.3, 0.45), rng.uniform(2.8, 3.3),
                                 rng.uniform(0.9, 1.3)))
        else:
            out.append(Occluder(kind, x, z, rng.uniform(1.6, 2.6), rng.uniform(0.8, 1.1)))
    return out


def visibility(boxes: np.ndarray, depth: np.ndarray, blockers: np.ndarray,
                blocker_depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fraction of each box (tlwh) not hidden by nearer blockers (x0,y0,x1,y1) nor cut by the frame.

    Boxes are sampled on a regular lattice, vectorised over all people at once, which is exact
    enough for ground truth and fast enough for 100,000-frame streams.
    """
    if len(boxes) == 0:
        return np.zeros(0)
    u = (np.arange(_GRID) + 0.5) / _GRID
    px = boxes[:, 0, None] + boxes[:, 2, None] * u          # (M, G)
    py = boxes[:, 1, None] + boxes[:, 3, None] * u          # (M, G)
    nearer = blocker_depth[None, :] < depth[:, None]       # (M, B)
    inx = (px[:, :, None] >= blockers[:, 0]) & (px[:, :, None] < blockers[:, 2]) & nearer[:, None, :]
    iny = (py[:, :, None] >= blockers[:, 1]) & (py[:, :, None] < blockers[:, 3])
    covered = (iny[:, :, None, :] & inx[:, None, :, :]).any(axis=-1)     # (M, Gy, Gx)
    outside = ((py < 0) | (py >= height))[:, :, None] | ((px < 0) | (px >= width))[:, None, :]
    return 1.0 - (covered | outside).mean(axis=(1, 2))
