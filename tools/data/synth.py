"""Synthetic MOTChallenge sequences: pedestrians on a ground plane who cross, meet and hide.

Why this exists: the tracker, the descriptors and the evaluation need data with known identities
that is small, quick to make and free to share. The scenes are staged so that appearance matters:
people cross at similar depths, meet and turn back, overtake each other and walk behind pillars,
trees and hedges, where IoU and motion alone lose or swap identities but clothing colour and
pattern (plain, stripes, checks) tell people apart.

One simulation drives both `make_sequence` (rendered frames plus text files) and `synth_stream`
(rows only, for long benchmark streams), so a sequence's det.txt/gt.txt hold exactly the rows
the stream yields for the same settings.
"""
from __future__ import annotations

import colorsys
import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from tools.io.atomic import atomic_write_text
from tools.io.motformat import SeqInfo, write_seqinfo

ASPECT = 0.41          # box width / height of a standing person, as in MOT16 ground truth
CAM_HEIGHT = 2.5       # metres; the camera looks level over a flat ground plane
STRIDE = 1.4           # metres walked per full leg cycle
_GRID = 20             # visibility is sampled on a _GRID x _GRID lattice over each box


@dataclass(frozen=True)
class SynthConfig:
    """Everything that shapes a synthetic sequence; the defaults make a 640x360, 10 s clip."""

    width: int = 640
    height: int = 360
    frames: int = 150
    people: int = 8             # people in the scene at a time; others enter as they leave
    frame_rate: float = 15.0
    seed: int = 0
    occluders: int = 2          # static pillars / trees / hedges standing in the walkway
    fp_rate: float = 0.4        # mean false positive detections per frame (Poisson)
    miss_rate: float = 0.05     # chance that a clearly visible person is not detected
    jitter: float = 0.04        # detection box noise, standard deviation as a fraction of size
    min_visibility: float = 0.3  # detections fade out around this visibility
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        checks = [
            (self.width >= 64, "width must be at least 64"),
            (self.height >= 64, "height must be at least 64"),
            (self.frames >= 1, "frames must be at least 1"),
            (self.people >= 1, "people must be at least 1"),
            (self.frame_rate > 0, "frame_rate must be positive"),
            (self.seed >= 0, "seed must not be negative"),
            (self.occluders >= 0, "occluders must not be negative"),
            (self.fp_rate >= 0, "fp_rate must not be negative"),
            (0 <= self.miss_rate <= 1, "miss_rate must lie in [0, 1]"),
            (0 <= self.jitter <= 0.5, "jitter must lie in [0, 0.5]"),
            (0 <= self.min_visibility <= 1, "min_visibility must lie in [0, 1]"),
            (1 <= self.jpeg_quality <= 100, "jpeg_quality must lie in [1, 100]"),
        ]
        finite = all(math.isfinite(v) for v in (self.frame_rate, self.fp_rate, self.miss_rate, self.jitter,
                                                 self.min_visibility))
        checks.append((finite, "frame_rate, fp_rate, miss_rate, jitter and min_visibility must be finite"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


# ----------------------------------------------------------------------------- geometry


class _Camera:
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
class _Occluder:
    kind: str          # "pillar", "tree" or "hedge"
    x: float           # lateral position of its centre on the ground, metres
    z: float           # depth, metres
    width: float       # metres (trunk width for a tree)
    tall: float        # metres (trunk height for a tree)
    crown: float = 0.0  # crown radius of a tree, metres

    def boxes(self, cam: _Camera) -> list[tuple[float, float, float, float]]:
        """Image boxes (x0, y0, x1, y1) that hide whatever stands behind them."""
        u = cam.cx + cam.f * self.x / self.z
        half = cam.f * self.width / self.z / 2
        foot = float(cam.foot_y(self.z))
        top = foot - cam.f * self.tall / self.z
        out = [(u - half, max(top, 0.0), u + half, foot)]
        if self.kind == "tree":
            r = cam.f * self.crown / self.z * 0.85   # a square a little inside the round crown
            out.append((u - r, top - r, u + r, top + r))
        return out


def _place_occluders(cam: _Camera, n: int, rng: np.random.Generator) -> list[_Occluder]:
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
            out.append(_Occluder(kind, x, z, rng.uniform(0.5, 0.8), 8.0))
        elif kind == "tree":
            out.append(_Occluder(kind, x, z, rng.uniform(0.3, 0.45), rng.uniform(2.8, 3.3),
                                 rng.uniform(0.9, 1.3)))
        else:
            out.append(_Occluder(kind, x, z, rng.uniform(1.6, 2.6), rng.uniform(0.8, 1.1)))
    return out


def _visibility(boxes: np.ndarray, depth: np.ndarray, blockers: np.ndarray,
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


# ----------------------------------------------------------------------------- simulation

_FIELDS = {"id": np.int64, "spawn": np.int64, "x": float, "z": float, "vx": float, "vz": float,
           "v0x": float, "v0z": float, "tall": float, "build": float, "phase": float,
           "stop_x": float, "pause": np.int64, "pause_len": np.int64, "rvx": float, "rvz": float,
           "seen": bool, "age": np.int64}


class _Crowd:
    """The people in the scene as parallel arrays, so that each frame's update is vectorised."""

    def __init__(self) -> None:
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))

    def __len__(self) -> int:
        return len(self.id)

    def add(self, agents: list[dict]) -> None:
        for name, dtype in _FIELDS.items():
            new = np.array([a[name] for a in agents], dtype=dtype)
            setattr(self, name, np.concatenate([getattr(self, name), new]))

    def keep(self, mask: np.ndarray) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[mask])


@dataclass
class _Frame:
    """One simulated frame: the rows to write and what the renderer needs for each gt row."""

    frame: int
    det: np.ndarray      # (N, 10)
    gt: np.ndarray       # (M, 9), sorted by id
    depth: np.ndarray    # (M,) metres, for drawing order
    boxes: np.ndarray    # (M, 4) unrounded tlwh, for drawing
    phase: np.ndarray    # (M,) leg cycle
    vx: np.ndarray       # (M,) m/s
    speed: np.ndarray    # (M,) m/s
    facing: np.ndarray   # (M,) +1 right, -1 left
    build: np.ndarray    # (M,) body width factor


class _World:
    """Walkers on the ground plane, scheduled as staged events so that hard cases always occur.

    Events: a single walker crossing the view, two people crossing head-on at similar depths,
    two people who meet, pause and turn back (the case motion alone gets wrong), an overtake
    at similar depths, and a walker passing straight behind an occluder.
    """

    KINDS = ("single", "cross", "meet", "overtake", "behind")
    WEIGHTS = (0.4, 0.25, 0.1, 0.1, 0.15)

    def __init__(self, config: SynthConfig):
        self.cfg = config
        self.cam = _Camera(config.width, config.height)
        self.dt = 1.0 / config.frame_rate
        seeds = np.random.SeedSequence(config.seed).spawn(3)
        self.rng = np.random.default_rng(seeds[0])        # motion and scheduling
        self.det_rng = np.random.default_rng(seeds[1])    # detector noise
        layout = np.random.default_rng(seeds[2])          # occluders
        self.occluders = _place_occluders(self.cam, config.occluders, layout)
        boxes = [(b, o.z) for o in self.occluders for b in o.boxes(self.cam)]
        self.occ_boxes = np.array([b for b, _ in boxes], dtype=float).reshape(-1, 4)
        self.occ_depth = np.array([z for _, z in boxes], dtype=float)
        self.crowd = _Crowd()
        self.pending: list[dict] = []
        self.next_id = 1
        self.max_age = int(90 * config.frame_rate)

    # -- scheduling

    def _agent(self, x: float, z: float, speed: float, direction: tuple[float, float], spawn: int,
               **extra) -> dict:
        norm = math.hypot(*direction) or 1.0
        v0x, v0z = speed * direction[0] / norm, speed * direction[1] / norm
        agent = {"id": self.next_id, "spawn": spawn, "x": x, "z": z, "vx": v0x, "vz": v0z,
                 "v0x": v0x, "v0z": v0z, "tall": float(np.clip(self.rng.normal(1.75, 0.08), 1.55, 1.95)),
                 "build": self.rng.uniform(0.9, 1.1), "phase": self.rng.uniform(0, 2 * math.pi),
                 "stop_x": math.nan, "pause": 0, "pause_len": 0, "rvx": 0.0, "rvz": 0.0,
                 "seen": False, "age": 0}
        agent.update(extra)
        self.next_id += 1
        return agent

    def _plan(self, kind: str, t: int, in_scene: bool) -> list[dict]:
        rng, cam = self.rng, self.cam
        d = float(rng.choice([-1.0, 1.0]))
        start = t if in_scene else t + int(rng.integers(0, int(2 * self.cfg.frame_rate) + 1))
        if kind == "behind" and not self.occluders:
            kind = "single"
        if kind == "single":
            z_in, z_out = cam.sample_depth(rng), cam.sample_depth(rng)
            x_in, x_out = -d * cam.edge(z_in), d * cam.edge(z_out)
            u = rng.uniform(0.1, 0.7) if in_scene else 0.0
            return [self._agent(x_in + u * (x_out - x_in), z_in + u * (z_out - z_in), rng.uniform(1.0, 1.6),
                                (x_out - x_in, z_out - z_in), start)]
        if kind == "behind":
            occ = self.occluders[int(rng.integers(len(self.occluders)))]
            z = min(occ.z + rng.uniform(1.5, 6.0), cam.z_far * 0.97)
            x_at = occ.x * z / occ.z          # same image column as the occluder
            speed = rng.uniform(1.0, 1.6)
            x0 = x_at - d * speed * rng.uniform(0.8, 2.5) if in_scene else -d * cam.edge(z)
            return [self._agent(x0, z, speed, (d, 0.0), start)]
        z_a = cam.sample_depth(rng, 0.1, 0.9)
        z_b = float(np.clip(z_a * (1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.08)), cam.z_near, cam.z_far))
        x_m = rng.uniform(-0.4, 0.4) * cam.half_view(z_a)
        if kind == "overtake":
            s_a, s_b = rng.uniform(1.6, 1.9), rng.uniform(0.7, 0.95)
            sides = (-d, -d)
        else:
            s_a, s_b = rng.uniform(1.0, 1.6), rng.uniform(1.0, 1.6)
            sides = (-d, d)
        if in_scene:
            lead = rng.uniform(1.2, 3.0)
            x_a, x_b = x_m + sides[0] * s_a * lead, x_m + sides[1] * s_b * lead
            t_a = t_b = start
        else:
            x_a, x_b = sides[0] * cam.edge(z_a), sides[1] * cam.edge(z_b)
            time_a, time_b = abs(x_m - x_a) / s_a, abs(x_m - x_b) / s_b
            late = max(time_a, time_b)
            t_a = start + int(round((late - time_a) * self.cfg.frame_rate))
            t_b = start + int(round((late - time_b) * self.cfg.frame_rate))
        extra_a: dict = {}
        extra_b: dict = {}
        if kind == "meet":
            # each stops just short of the meeting point, waits, then walks back where it came from
            gap = rng.uniform(0.2, 0.45)

            def meet(side: float, speed: float) -> dict:
                return {"stop_x": x_m + side * gap / 2,
                        "pause_len": max(1, int(rng.uniform(0.8, 2.0) * self.cfg.frame_rate)),
                        "rvx": speed * side, "rvz": rng.uniform(-0.1, 0.1)}

            extra_a, extra_b = meet(sides[0], s_a), meet(sides[1], s_b)
        return [self._agent(x_a, z_a, s_a, (-sides[0], 0.0), t_a, **extra_a),
                self._agent(x_b, z_b, s_b, (-sides[1], 0.0), t_b, **extra_b)]

    def _fill(self, t: int) -> None:
        """Plan events until the crowd (present and scheduled) reaches the target size.

        A pair may overshoot the target by one person: otherwise, with people leaving one at a
        time, only single walkers would ever be planned after the first frame.
        """
        target = self.cfg.people
        forced = ["cross", "behind", "meet"] if t == 1 else []
        while True:
            deficit = target - len(self.crowd) - len(self.pending)
            if deficit <= 0:
                return
            kind = forced.pop(0) if forced else str(self.rng.choice(self.KINDS, p=self.WEIGHTS))
            if kind in ("cross", "meet", "overtake") and target < 2:
                kind = "single"
            self.pending.extend(self._plan(kind, t, in_scene=t == 1))

    # -- motion

    def _step(self) -> None:
        c, dt = self.crowd, self.dt
        noise = self.rng.normal(size=(len(c), 2))   # drawn for everyone: keeps the stream deterministic
        paused = c.pause > 0
        c.pause[paused] -= 1
        resume = paused & (c.pause == 0)
        c.v0x[resume], c.v0z[resume] = c.rvx[resume], c.rvz[resume]
        c.vx[resume], c.vz[resume] = 0.5 * c.rvx[resume], 0.5 * c.rvz[resume]
        walking = c.pause == 0
        theta, sigma = 0.8, 0.12 * math.sqrt(dt)
        c.vx = np.where(walking, c.vx + theta * (c.v0x - c.vx) * dt + sigma * noise[:, 0], 0.0)
        c.vz = np.where(walking, c.vz + theta * (c.v0z - c.vz) * dt + sigma * noise[:, 1], 0.0)
        c.x += c.vx * dt
        c.z += c.vz * dt
        low, high = c.z < self.cam.z_near, c.z > self.cam.z_far
        c.z = np.clip(c.z, self.cam.z_near, self.cam.z_far)
        c.vz[low], c.v0z[low] = np.abs(c.vz[low]), np.abs(c.v0z[low])
        c.vz[high], c.v0z[high] = -np.abs(c.vz[high]), -np.abs(c.v0z[high])
        c.phase += 2 * math.pi * np.hypot(c.vx, c.vz) * dt / STRIDE
        arrive = walking & np.isfinite(c.stop_x) & ((c.x - c.stop_x) * np.sign(c.v0x) >= 0)
        c.pause[arrive] = c.pause_len[arrive]
        c.stop_x[arrive] = np.nan
        c.vx[arrive] = c.vz[arrive] = 0.0
        c.age += 1

    # -- detector

    def _detect(self, frame: int, gt: np.ndarray) -> np.ndarray:
        """Detections from gt: jittered boxes, misses (random and when occluded), false positives."""
        rng, cfg, cam = self.det_rng, self.cfg, self.cam
        m = len(gt)
        vis = gt[:, 8]
        lo, hi = cfg.min_visibility - 0.1, cfg.min_visibility + 0.1
        p_hidden = np.clip((hi - vis) / (hi - lo), 0.0, 1.0)
        p_miss = 1 - (1 - cfg.miss_rate) * (1 - p_hidden)
        hit = rng.random(m) >= p_miss
        noise = rng.normal(size=(m, 5))
        w, h = gt[:, 4], gt[:, 5]
        cx = gt[:, 2] + w / 2 + noise[:, 0] * cfg.jitter * w
        cy = gt[:, 3] + h / 2 + noise[:, 1] * cfg.jitter * h
        w2, h2 = w * np.exp(noise[:, 2] * cfg.jitter), h * np.exp(noise[:, 3] * cfg.jitter)
        tp = np.stack([cx - w2 / 2, cy - h2 / 2, w2, h2, 0.45 + 0.5 * vis + 0.1 * noise[:, 4]], axis=1)[hit]

        n = int(rng.poisson(cfg.fp_rate))
        foot = cam.y_far + rng.random(n) * (0.99 * cam.height - cam.y_far)
        fh = cam.f * 1.75 * rng.uniform(0.75, 1.25, n) / cam.depth_at(foot)
        fw = fh * ASPECT * rng.uniform(0.8, 1.25, n)
        fx = rng.random(n) * np.maximum(cam.width - fw, 1.0)
        fy = foot - fh
        near = (rng.random(n) < 0.35) & (m > 0)      # a shifted duplicate beside a real person
        j = rng.integers(0, max(m, 1), n)
        shift = rng.choice([-1.0, 1.0], n) * rng.uniform(0.55, 0.9, n)
        jy = rng.normal(0, 0.05, n)
        if m:
            ref = gt[j]
            fx = np.where(near, ref[:, 2] + shift * ref[:, 4], fx)
            fy = np.where(near, ref[:, 3] + jy * ref[:, 5], fy)
            fw = np.where(near, ref[:, 4], fw)
            fh = np.where(near, ref[:, 5], fh)
        fp = np.stack([fx, fy, fw, fh, rng.beta(2, 5, n) * 1.1], axis=1)

        rows = np.concatenate([tp, fp])
        x0 = np.clip(rows[:, 0], 0, cam.width)
        y0 = np.clip(rows[:, 1], 0, cam.height)
        x1 = np.clip(rows[:, 0] + rows[:, 2], 0, cam.width)
        y1 = np.clip(rows[:, 1] + rows[:, 3], 0, cam.height)
        boxes = np.round(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 2)
        conf = np.round(np.clip(rows[:, 4], 0.01, 1.0), 4)
        ok = (boxes[:, 2] >= 2) & (boxes[:, 3] >= 4)
        order = rng.permutation(len(rows))
        ok, boxes, conf = ok[order], boxes[order], conf[order]
        out = np.full((int(ok.sum()), 10), -1.0)
        out[:, 0] = frame
        out[:, 2:6] = boxes[ok]
        out[:, 6] = conf[ok]
        return out

    # -- frames

    def frames(self) -> Iterator[_Frame]:
        cam = self.cam
        for t in range(1, self.cfg.frames + 1):
            if t > 1:
                self._step()
            self._fill(t)
            due = [a for a in self.pending if a["spawn"] <= t]
            if due:
                self.pending = [a for a in self.pending if a["spawn"] > t]
                self.crowd.add(due)
            c = self.crowd
            boxes = cam.boxes(c.x, c.z, c.tall, c.build)
            rounded = np.round(boxes, 2)
            inside = ((rounded[:, 0] + rounded[:, 2] > 1) & (rounded[:, 0] < cam.width - 1)
                      & (rounded[:, 1] + rounded[:, 3] > 1) & (rounded[:, 1] < cam.height - 1))
            c.seen |= inside
            stay = inside | ~((c.seen & (c.x * c.vx > 0)) | (c.age > self.max_age))
            if not stay.all():
                self.crowd.keep(stay)
                boxes, rounded, inside = boxes[stay], rounded[stay], inside[stay]
            c = self.crowd
            blockers = np.concatenate([np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2],
                                                 boxes[:, 1] + boxes[:, 3]], axis=1), self.occ_boxes])
            blocker_depth = np.concatenate([c.z, self.occ_depth])
            idx = np.flatnonzero(inside)
            idx = idx[np.argsort(c.id[idx], kind="stable")]
            vis = _visibility(boxes[idx], c.z[idx], blockers, blocker_depth, cam.width, cam.height)
            gt = np.empty((len(idx), 9))
            gt[:, 0] = t
            gt[:, 1] = c.id[idx]
            gt[:, 2:6] = rounded[idx]
            gt[:, 6] = gt[:, 7] = 1
            gt[:, 8] = np.round(vis, 4)
            speed = np.hypot(c.vx[idx], c.vz[idx])
            facing = np.where(np.abs(c.vx[idx]) > 0.05, np.sign(c.vx[idx]), -np.sign(c.rvx[idx]))
            facing[facing == 0] = 1
            yield _Frame(t, self._detect(t, gt), gt, c.z[idx].copy(), boxes[idx], c.phase[idx].copy(),
                         c.vx[idx].copy(), speed, facing, c.build[idx].copy())


# ----------------------------------------------------------------------------- rendering

_SKIN = [(189, 224, 255), (150, 190, 235), (110, 150, 200), (80, 110, 160), (60, 80, 115)]
_HAIR = [(20, 20, 25), (30, 45, 70), (40, 70, 110), (90, 160, 200), (150, 150, 150)]
_TROUSERS = [(90, 50, 30), (40, 40, 40), (110, 110, 110), (140, 170, 190), (30, 60, 90),
             (60, 30, 20), (170, 170, 160)]
_PATTERNS = ("plain", "stripes", "checks")


def _bgr(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(b * 255), int(g * 255), int(r * 255)


@dataclass(frozen=True)
class _Look:
    """One identity's clothing: what an appearance descriptor should learn to tell apart."""

    shirt: tuple[int, int, int]
    second: tuple[int, int, int]
    pattern: str
    period: float        # pattern period as a fraction of body height
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hat: tuple[int, int, int] | None
    bag: tuple[int, int, int] | None


def _look(seed: int, pid: int) -> _Look:
    """Clothing for identity `pid`: hues step by the golden ratio and patterns cycle, so people
    whose ids are close (the pairs staged to cross) never share both colour and pattern."""
    rng = np.random.default_rng([seed, 7, pid])
    hue = (pid * 0.618034 + (seed % 97) * 0.1) % 1.0
    shirt = _bgr(hue, rng.uniform(0.5, 0.95), rng.uniform(0.5, 0.95))
    if rng.random() < 0.5:
        second = _bgr(hue + 0.5, rng.uniform(0.4, 0.9), rng.uniform(0.6, 1.0))
    else:
        second = (235, 235, 235) if rng.random() < 0.5 else (25, 25, 25)
    hat = _bgr(rng.random(), 0.6, 0.6) if rng.random() < 0.2 else None
    bag = _bgr(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.7)) if rng.random() < 0.3 else None
    return _Look(shirt, second, _PATTERNS[(pid + seed) % 3], rng.uniform(0.035, 0.06),
                 _TROUSERS[int(rng.integers(len(_TROUSERS)))], _SKIN[int(rng.integers(len(_SKIN)))],
                 _HAIR[int(rng.integers(len(_HAIR)))], hat, bag)


def _background(cam: _Camera, rng: np.random.Generator) -> np.ndarray:
    """A static textured scene: a facade with windows above a paved plaza in perspective."""
    import cv2

    H, W = cam.height, cam.width
    img = np.zeros((H, W, 3), np.float32)
    wall_y = int(cam.foot_y(cam.z_far * 1.6))
    # facade: two buildings of different colour, rows of windows
    split = int(W * rng.uniform(0.35, 0.65))
    for x0, x1 in ((0, split), (split, W)):
        base = np.array(_bgr(rng.uniform(0.0, 0.15), rng.uniform(0.1, 0.35), rng.uniform(0.55, 0.8)))
        img[:wall_y, x0:x1] = base
        step_x, step_y = max(8, W // 24), max(8, H // 14)
        win = np.array(_bgr(0.58, 0.3, rng.uniform(0.25, 0.4)))
        for wy in range(step_y // 2, wall_y - step_y // 2, step_y):
            for wx in range(x0 + step_x // 3, x1 - step_x // 2, step_x):
                tone = win * rng.uniform(0.8, 1.3)
                img[wy:wy + step_y // 2, wx:wx + step_x // 2] = tone
    # pavement: tiles in ground coordinates, each with its own tone, dark grout lines
    ys = np.arange(wall_y, H)[:, None] + 0.5
    xs = np.arange(W)[None, :] + 0.5
    z = cam.depth_at(ys)
    gx = (xs - cam.cx) * z / cam.f
    tile = 1.0
    tones = rng.uniform(0.85, 1.15, (64, 64)).astype(np.float32)
    i = np.floor(gx / tile).astype(np.int64) % 64
    j = np.floor(z / tile).astype(np.int64) % 64
    pave = np.array(_bgr(rng.uniform(0.05, 0.12), rng.uniform(0.1, 0.3), rng.uniform(0.5, 0.7)), np.float32)
    ground = tones[i, np.broadcast_to(j, i.shape)][:, :, None] * pave
    px = z / cam.f                                    # metres per pixel at this row
    grout = (gx % tile) < 1.2 * px
    row_tile = np.floor(z[:, 0] / tile)
    grout |= np.r_[False, row_tile[1:] != row_tile[:-1]][:, None]
    ground[grout] *= 0.6
    img[wall_y:] = ground
    # stains and grain
    stains = cv2.resize(rng.normal(0, 1, (H // 16 + 1, W // 16 + 1)).astype(np.float32), (W, H),
                        interpolation=cv2.INTER_CUBIC)
    img *= (1 + 0.08 * stains)[:, :, None]
    img += rng.normal(0, 6, (H, W, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _sprite(cam: _Camera, occ: _Occluder, rng: np.random.Generator):
    """Draw an occluder once; return (x0, y0, patch, mask) to paste every frame."""
    import cv2

    H, W = cam.height, cam.width
    canvas = np.zeros((H, W, 3), np.uint8)
    mask = np.zeros((H, W), np.uint8)
    u = cam.cx + cam.f * occ.x / occ.z
    half = cam.f * occ.width / occ.z / 2
    foot = float(cam.foot_y(occ.z))
    top = foot - cam.f * occ.tall / occ.z
    x0, x1, y0, y1 = int(round(u - half)), int(round(u + half)), int(round(max(top, 0))), int(round(foot))
    if occ.kind == "pillar":
        colour = np.array(_bgr(rng.uniform(0, 1), rng.uniform(0.05, 0.25), rng.uniform(0.6, 0.8)))
        for x in range(max(x0, 0), min(x1, W)):
            shade = 1.15 - 0.5 * (x - x0) / max(x1 - x0, 1)
            canvas[y0:y1, x] = np.clip(colour * shade, 0, 255)
        mask[y0:y1, max(x0, 0):min(x1, W)] = 1
        base = max(2, int(0.08 * (x1 - x0)))
        dark = tuple(int(v * 0.7) for v in colour)
        cv2.rectangle(canvas, (x0 - base, y1 - 3 * base), (x1 + base, y1), dark, -1)
        cv2.rectangle(mask, (x0 - base, y1 - 3 * base), (x1 + base, y1), 1, -1)
    elif occ.kind == "tree":
        bark = np.array((40, 60, 90), float)
        for x in range(max(x0, 0), min(x1, W)):
            shade = 1.2 - 0.6 * (x - x0) / max(x1 - x0, 1)
            col = bark * shade * rng.uniform(0.85, 1.15, (max(y1 - y0, 0), 1))
            canvas[y0:y1, x] = np.clip(col, 0, 255)
        mask[y0:y1, max(x0, 0):min(x1, W)] = 1
        r = cam.f * occ.crown / occ.z
        cy = top
        for _ in range(14):
            ox, oy = np.clip(rng.normal(0, 0.25 * r, 2), -0.4 * r, 0.4 * r)
            rad = int(r * rng.uniform(0.5, 0.6))
            green = _bgr(rng.uniform(0.22, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.6))
            cv2.circle(canvas, (int(u + ox), int(cy + oy)), rad, green, -1, cv2.LINE_AA)
            cv2.circle(mask, (int(u + ox), int(cy + oy)), rad, 1, -1)
    else:
        leaf = np.array(_bgr(rng.uniform(0.25, 0.35), 0.6, 0.45), float)
        h = max(y1 - y0, 1)
        xa, xb = max(x0, 0), min(x1, W)
        if xb > xa and y1 > y0:
            patch = leaf * rng.uniform(0.7, 1.3, (h, xb - xa, 1))
            canvas[y0:y1, xa:xb] = np.clip(patch, 0, 255)
            mask[y0:y1, xa:xb] = 1
            axes = (int(half), max(2, h // 5))     # rounded top
            cv2.ellipse(canvas, (int(u), y0), axes, 0, 180, 360, tuple(int(v) for v in leaf), -1)
            cv2.ellipse(mask, (int(u), y0), axes, 0, 180, 360, 1, -1)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    ya, yb, xa, xb = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return int(xa), int(ya), canvas[ya:yb, xa:xb].copy(), mask[ya:yb, xa:xb].astype(bool)


def _torso(img: np.ndarray, look: _Look, cx: float, y0: float, h: float, build: float) -> None:
    """Fill the torso trapezoid with the identity's pattern, scaled with the body, and shading."""
    import cv2

    top, bottom = y0 + 0.15 * h, y0 + 0.53 * h
    hs, hw = 0.12 * h * build, 0.095 * h * build
    xa, xb = int(math.floor(cx - hs)), int(math.ceil(cx + hs)) + 1
    ya, yb = int(math.floor(top)), int(math.ceil(bottom)) + 1
    H, W = img.shape[:2]
    ca, cb, ra, rb = max(xa, 0), min(xb, W), max(ya, 0), min(yb, H)
    if cb <= ca or rb <= ra:
        return
    yy = ((np.arange(ra, rb) + 0.5 - y0) / h)[:, None]
    xx = ((np.arange(ca, cb) + 0.5 - cx) / h)[None, :]
    p = look.period
    if look.pattern == "stripes":
        second = ((yy / p) % 1.0 < 0.5) & np.ones_like(xx, bool)
    elif look.pattern == "checks":
        second = (np.floor(yy / p) + np.floor(xx / p)) % 2 == 1
    else:
        second = np.zeros((len(yy), xx.shape[1]), bool)
    colour = np.where(second[:, :, None], np.array(look.second, np.float32), np.array(look.shirt, np.float32))
    colour *= (1.0 - 1.6 * np.abs(xx))[:, :, None]
    mask = np.zeros((rb - ra, cb - ca), np.uint8)
    poly = np.array([[cx - hs, top], [cx + hs, top], [cx + hw, bottom], [cx - hw, bottom]]) - [ca, ra]
    cv2.fillConvexPoly(mask, np.round(poly * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    region = img[ra:rb, ca:cb]
    np.copyto(region, np.clip(colour, 0, 255).astype(np.uint8), where=mask[:, :, None].astype(bool))


def _draw_person(img: np.ndarray, box: np.ndarray, look: _Look, phase: float, speed: float,
                 lateral: float, facing: float, build: float) -> None:
    """Legs, torso, arms and head inside the tlwh box, legs and arms swinging with the gait."""
    import cv2

    x, y0, w, h = (float(v) for v in box)
    cx = x + w / 2
    S = 16   # fixed-point sub-pixel drawing

    def pt(px: float, py: float) -> tuple[int, int]:
        return int(round(px * S)), int(round(py * S))

    def thick(frac: float) -> int:
        return max(1, int(round(frac * h)))

    amp = min(1.0, speed / 1.2)
    swing = math.sin(phase) * amp * (0.25 + 0.75 * lateral)
    lift = 0.03 * h * amp
    hip_y = y0 + 0.52 * h
    for side in (-1.0, 1.0):
        s = swing * side
        hip_x = cx + side * 0.045 * h * build
        foot_x = hip_x + s * 0.14 * h
        foot_y = y0 + 0.965 * h - max(0.0, math.cos(phase) * side) * lift
        knee = ((hip_x + foot_x) / 2 + facing * 0.015 * h * abs(s), (hip_y + foot_y) / 2)
        cv2.line(img, pt(hip_x, hip_y), pt(*knee), look.trousers, thick(0.075), cv2.LINE_AA, 4)
        cv2.line(img, pt(*knee), pt(foot_x, foot_y), look.trousers, thick(0.065), cv2.LINE_AA, 4)
        cv2.ellipse(img, pt(foot_x + facing * 0.02 * h, foot_y), pt(0.04 * h, 0.018 * h), 0, 0, 360,
                    (30, 30, 35), -1, cv2.LINE_AA, 4)
    if look.bag is not None:
        bx = cx - facing * 0.13 * h * build
        cv2.rectangle(img, pt(bx - 0.04 * h, y0 + 0.2 * h), pt(bx + 0.04 * h, y0 + 0.42 * h), look.bag, -1,
                      cv2.LINE_AA, 4)
    _torso(img, look, cx, y0, h, build)
    sleeve = tuple(int(v * 0.85) for v in look.shirt)
    for side in (-1.0, 1.0):
        sx, sy = cx + side * 0.11 * h * build, y0 + 0.17 * h
        hx, hy = sx - side * swing * 0.1 * h, y0 + 0.47 * h   # arms swing against the legs
        cv2.line(img, pt(sx, sy), pt(hx, hy), sleeve, thick(0.05), cv2.LINE_AA, 4)
        cv2.circle(img, pt(hx, hy), max(1, int(0.022 * h * S)), look.skin, -1, cv2.LINE_AA, 4)
    cv2.line(img, pt(cx, y0 + 0.11 * h), pt(cx, y0 + 0.16 * h), look.skin, thick(0.045), cv2.LINE_AA, 4)
    head = pt(cx + facing * 0.008 * h, y0 + 0.068 * h)
    cv2.ellipse(img, head, pt(0.048 * h, 0.064 * h), 0, 0, 360, look.skin, -1, cv2.LINE_AA, 4)
    cover = look.hat or look.hair
    cv2.ellipse(img, head, pt(0.052 * h, 0.068 * h), 0, 180, 360, cover, -1, cv2.LINE_AA, 4)
    if look.hat is not None:
        cv2.line(img, pt(cx - 0.005 * h, y0 + 0.066 * h), pt(cx + facing * 0.085 * h, y0 + 0.066 * h),
                 look.hat, thick(0.015), cv2.LINE_AA, 4)


class _Painter:
    """Renders frames: the static background once, then people and occluders far to near."""

    def __init__(self, world: _World, seed: int):
        rng = np.random.default_rng([seed, 11])
        self.cam = world.cam
        self.seed = seed
        self.background = _background(world.cam, rng)
        self.sprites = [(o.z, _sprite(world.cam, o, rng)) for o in world.occluders]
        self.sprites = [(z, s) for z, s in self.sprites if s is not None]
        self.looks: dict[int, _Look] = {}

    def paint(self, fr: _Frame) -> np.ndarray:
        img = self.background.copy()
        items = [(float(z), 0, i) for i, z in enumerate(fr.depth)]
        items += [(z, 1, k) for k, (z, _) in enumerate(self.sprites)]
        items.sort(key=lambda it: (-it[0], it[1], it[2]))
        for _, kind, i in items:
            if kind == 1:
                xa, ya, patch, mask = self.sprites[i][1]
                region = img[ya:ya + patch.shape[0], xa:xa + patch.shape[1]]
                np.copyto(region, patch, where=mask[:, :, None])
                continue
            pid = int(fr.gt[i, 1])
            look = self.looks.get(pid)
            if look is None:
                look = self.looks[pid] = _look(self.seed, pid)
            speed = float(fr.speed[i])
            lateral = abs(float(fr.vx[i])) / speed if speed > 1e-6 else 1.0
            _draw_person(img, fr.boxes[i], look, float(fr.phase[i]), speed, lateral, float(fr.facing[i]),
                         float(fr.build[i]))
        return img


# ----------------------------------------------------------------------------- public API


def _format_det(rows: np.ndarray) -> str:
    out = io.StringIO()
    for r in rows:
        out.write("%d,-1,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n" % (r[0], r[2], r[3], r[4], r[5], r[6]))
    return out.getvalue()


def _format_gt(rows: np.ndarray) -> str:
    out = io.StringIO()
    for r in rows:
        out.write("%d,%d,%.2f,%.2f,%.2f,%.2f,1,1,%.4f\n" % (r[0], r[1], r[2], r[3], r[4], r[5], r[8]))
    return out.getvalue()


def make_sequence(out_root: Path, name: str, config: SynthConfig,
                  on_frame: Callable[[int], None] | None = None) -> Path:
    """Write out_root/name as a MOTChallenge sequence (img1/, det/det.txt, gt/gt.txt, seqinfo.ini).

    seqinfo.ini is written last, so an interrupted run leaves no folder that looks complete.
    `on_frame(frame)` is called after each frame is written (for progress bars).
    """
    import cv2

    root = Path(out_root) / name
    img_dir = root / "img1"
    img_dir.mkdir(parents=True, exist_ok=True)
    for stale in img_dir.glob("[0-9][0-9][0-9][0-9][0-9][0-9].jpg"):
        if int(stale.stem) > config.frames:
            stale.unlink()
    world = _World(config)
    painter = _Painter(world, config.seed)
    det_rows, gt_rows = [], []
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
    for fr in world.frames():
        image = painter.paint(fr)
        ok, data = cv2.imencode(".jpg", image, params)
        if not ok:
            raise OSError(f"cannot encode frame {fr.frame} as JPEG")
        (img_dir / f"{fr.frame:06d}.jpg").write_bytes(data.tobytes())
        det_rows.append(fr.det)
        gt_rows.append(fr.gt)
        if on_frame is not None:
            on_frame(fr.frame)
    atomic_write_text(root / "det" / "det.txt", _format_det(np.concatenate(det_rows)))
    atomic_write_text(root / "gt" / "gt.txt", _format_gt(np.concatenate(gt_rows)))
    write_seqinfo(root / "seqinfo.ini", SeqInfo(name, config.frame_rate, config.frames,
                                                config.width, config.height))
    return root


def sequence_seed(seed: int, index: int) -> int:
    """The seed of the index-th sequence of a dataset: independent streams, no overlaps between
    datasets made with neighbouring seeds."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def make_dataset(out_root: Path, n_sequences: int = 3, config: SynthConfig | None = None,
                 split: str | None = None, on_frame: Callable[[int], None] | None = None) -> list[Path]:
    """Write SYNTH-01, SYNTH-02, ... under out_root (or out_root/split), each with its own seed."""
    config = config or SynthConfig()
    root = Path(out_root) / split if split else Path(out_root)
    paths = []
    for i in range(1, n_sequences + 1):
        cfg = dataclasses.replace(config, seed=sequence_seed(config.seed, i))
        paths.append(make_sequence(root, f"SYNTH-{i:02d}", cfg, on_frame))
    return paths


def synth_stream(frames: int, people: int, seed: int, width: int = 640, height: int = 360,
                 config: SynthConfig | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (frame, det rows (N, 10), gt rows (M, 9)) without rendering, for long benchmarks.

    Memory stays bounded: people who leave are dropped and nothing is kept per frame. Other
    settings (occluders, fp_rate, ...) come from `config`. The rows equal those make_sequence
    writes for the same settings.
    """
    base = config or SynthConfig()
    cfg = dataclasses.replace(base, frames=frames, people=people, seed=seed, width=width, height=height)
    for fr in _World(cfg).frames():
        yield fr.frame, fr.det, fr.gt
