"""Rendering synthetic frames: a textured facade and pavement, occluder sprites, and people
whose clothing (colours, stripes, checks) is what an appearance descriptor should learn."""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np

from tools.data.synth_scene import Camera, Occluder
from tools.data.synth_world import Frame, World

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


def _background(cam: Camera, rng: np.random.Generator) -> np.ndarray:
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


def _sprite(cam: Camera, occ: Occluder, rng: np.random.Generator):
    """Draw an occluder once; return (x0, y0, patch, mask) to paste every frame."""
    import cv2

    H, W = cam.height, cam.width
    canvas = np.zeros((H, W, 3), np.uint8)
    mask = np.zeros((H, W), np.uint8)
    u, half, foot, top = occ.extent(cam)
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


class Painter:
    """Renders frames: the static background once, then people and occluders far to near."""

    def __init__(self, world: World, seed: int):
        rng = np.random.default_rng([seed, 11])
        self.cam = world.cam
        self.seed = seed
        self.background = _background(world.cam, rng)
        self.sprites = [(o.z, _sprite(world.cam, o, rng)) for o in world.occluders]
        self.sprites = [(z, s) for z, s in self.sprites if s is not None]
        self.looks: dict[int, _Look] = {}

    def paint(self, fr: Frame) -> np.ndarray:
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
