"""The synthetic crowd: walkers on the ground plane, scheduled as staged events (crossings,
meetings, overtakes, walks behind occluders) and moved frame by frame, yielding each frame's
ground-truth and detection rows."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from tools.data.synth_config import SynthConfig
from tools.data.synth_detector import detect
from tools.data.synth_scene import Camera, place_occluders, visibility

STRIDE = 1.4           # metres walked per full leg cycle

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
class Frame:
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


class World:
    """Walkers on the ground plane, scheduled as staged events so that hard cases always occur.

    Events: a single walker crossing the view, two people crossing head-on at similar depths,
    two people who meet, pause and turn back (the case motion alone gets wrong), an overtake
    at similar depths, and a walker passing straight behind an occluder.
    """

    KINDS = ("single", "cross", "meet", "overtake", "behind")
    WEIGHTS = (0.4, 0.25, 0.1, 0.1, 0.15)

    def __init__(self, config: SynthConfig):
        self.cfg = config
        self.cam = Camera(config.width, config.height)
        self.dt = 1.0 / config.frame_rate
        seeds = np.random.SeedSequence(config.seed).spawn(3)
        self.rng = np.random.default_rng(seeds[0])        # motion and scheduling
        self.det_rng = np.random.default_rng(seeds[1])    # detector noise
        layout = np.random.default_rng(seeds[2])          # occluders
        self.occluders = place_occluders(self.cam, config.occluders, layout)
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

    # -- frames

    def frames(self) -> Iterator[Frame]:
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
            vis = visibility(boxes[idx], c.z[idx], blockers, blocker_depth, cam.width, cam.height)
            gt = np.empty((len(idx), 9))
            gt[:, 0] = t
            gt[:, 1] = c.id[idx]
            gt[:, 2:6] = rounded[idx]
            gt[:, 6] = gt[:, 7] = 1
            gt[:, 8] = np.round(vis, 4)
            speed = np.hypot(c.vx[idx], c.vz[idx])
            facing = np.where(np.abs(c.vx[idx]) > 0.05, np.sign(c.vx[idx]), -np.sign(c.rvx[idx]))
            facing[facing == 0] = 1
            det = detect(self.det_rng, self.cfg, cam, t, gt)
            yield Frame(t, det, gt, c.z[idx].copy(), boxes[idx], c.phase[idx].copy(),
                        c.vx[idx].copy(), speed, facing, c.build[idx].copy())
