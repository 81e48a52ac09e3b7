"""Identity switches, frame by frame, and the moments where two trackers disagree about them.

TrackEval reports how many switches a run has; a reader wants to *see* them. `id_switches`
replays CLEAR MOT's matching (the rule behind the IDs column) on one sequence and returns each
switch with its frame, ground-truth person and the two track IDs involved, so the numbers in a
report can be pointed at. The rule, as in TrackEval's CLEAR metric:

- per frame, gt and tracker boxes are matched one-to-one (Hungarian) on IoU >= 0.5, with a
  pair that continues the previous frame's match preferred over any other (score + 1000);
- a switch is a gt person matched to a track other than the one it was last matched to, any
  number of frames earlier.

The benchmark's preprocessing is applied as TrackEval does: gt with the consider flag 0 is
dropped; for MOT16/17/20 only pedestrian gt is scored and tracker boxes matched to distractor
gt are removed first.

`disagreements` then lines up the switches of several runs: a moment where one run switches a
person's ID while another keeps following that person with one ID is what the report's strip
of frames shows.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker.iou import iou_tlwh

MATCH_IOU = 0.5
_EPS = np.finfo(float).eps
# TrackEval's distractor classes: person on vehicle, static person, distractor, reflection
# (MOT20 adds non-motorised vehicle).
_DISTRACTORS = {"MOT16": (2, 7, 8, 12), "MOT17": (2, 7, 8, 12), "MOT20": (2, 6, 7, 8, 12)}


@dataclass(frozen=True)
class Switch:
    """gt person `gt_id`, last covered by track `old_id` in frame `last_frame`, is covered by
    track `new_id` in `frame`."""

    frame: int
    gt_id: int
    old_id: int
    new_id: int
    last_frame: int


@dataclass
class Matching:
    """A run's CLEAR matching on one sequence: who covers whom in each frame, and the switches."""

    covered: dict[int, dict[int, int]] = field(default_factory=dict)  # frame -> {gt id: track id}
    switches: list[Switch] = field(default_factory=list)

    def track_of(self, gt_id: int, frame: int) -> int | None:
        return self.covered.get(frame, {}).get(gt_id)


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    if not len(rows):
        return {}
    frames = rows[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    cuts = np.flatnonzero(np.diff(frames[order])) + 1
    return {int(frames[g[0]]): rows[g] for g in np.split(order, cuts)}


def _rows(a: np.ndarray) -> np.ndarray:
    """MOT rows as a 2-D float array; an empty input becomes (0, 6)."""
    a = np.asarray(a, np.float64)
    return a.reshape(0, 6) if a.size == 0 else a


def match_sequence(gt: np.ndarray, results: np.ndarray, benchmark: str = "MOT15",
                   threshold: float = MATCH_IOU) -> Matching:
    """CLEAR MOT matching of result rows (frame, id, x, y, w, h, ...) against gt rows
    (frame, id, x, y, w, h, consider, class, ...), with the benchmark's preprocessing."""
    gt, results = _rows(gt), _rows(results)
    distractors = _DISTRACTORS.get(benchmark, ())
    gt_frames, res_frames = _by_frame(gt), _by_frame(results)
    out = Matching()
    last_track: dict[int, int] = {}      # gt id -> track id it was last matched to
    last_frame: dict[int, int] = {}
    previous: dict[int, int] = {}        # gt id -> track id matched in the previous frame
    for frame in sorted(set(gt_frames) | set(res_frames)):
        g = gt_frames.get(frame, np.zeros((0, gt.shape[1])))
        r = res_frames.get(frame, np.zeros((0, results.shape[1])))
        if distractors and len(g) and len(r):
            # TrackEval: tracker boxes matched to distractor gt do not count at all
            iou = iou_tlwh(g[:, 2:6], r[:, 2:6])
            score = np.where(iou >= threshold - _EPS, iou, 0.0)
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > _EPS
            bad = cols[ok][np.isin(g[rows[ok], 7], distractors)]
            r = np.delete(r, bad, axis=0)
        keep = g[:, 6] != 0 if g.shape[1] > 6 else np.ones(len(g), bool)
        if distractors and g.shape[1] > 7:
            keep &= g[:, 7] == 1
        g = g[keep]
        current: dict[int, int] = {}
        if len(g) and len(r):
            gt_ids = g[:, 1].astype(np.int64)
            tr_ids = r[:, 1].astype(np.int64)
            iou = iou_tlwh(g[:, 2:6], r[:, 2:6])
            prev = np.array([previous.get(int(i), -(10 ** 12)) for i in gt_ids])
            score = 1000.0 * (tr_ids[None, :] == prev[:, None]) + iou
            score[iou < threshold - _EPS] = 0.0
            rows, cols = linear_sum_assignment(-score)
            ok = score[rows, cols] > _EPS
            for gi, ti in zip(gt_ids[rows[ok]], tr_ids[cols[ok]]):
                gi, ti = int(gi), int(ti)
                if gi in last_track and last_track[gi] != ti:
                    out.switches.append(Switch(frame, gi, last_track[gi], ti, last_frame[gi]))
                last_track[gi], last_frame[gi] = ti, frame
                current[gi] = ti
        if current:
            out.covered[frame] = current
        previous = current
    return out


def id_switches(gt: np.ndarray, results: np.ndarray, benchmark: str = "MOT15") -> list[Switch]:
    """Every identity switch of `results` against `gt`, in frame order (see the module docstring)."""
    return match_sequence(gt, results, benchmark).switches


# Where the old track was at the switch: its last box came before the switch frame ("ended"),
# it has a box in that frame that is not matched to this person ("present": on someone else,
# on nothing, or a duplicate beside a better box), or it reports again only later ("coasting":
# lost, not yet deleted, and found again).
OLD_STATES = ("ended", "coasting", "present")
# Where the new track came from, the first that applies: it had covered this person before
# ("return": the person goes back and forth between two tracks), it had covered another person
# ("taken"), it started after the old track last covered them and covered no one before
# ("born"), or it is older and covered nobody yet ("idle").
NEW_ORIGINS = ("return", "taken", "born", "idle")


def switch_causes(m: Matching, results: np.ndarray) -> list[tuple[Switch, str, str]]:
    """Each switch of `m` (the matching of `results`) with its OLD_STATES and NEW_ORIGINS entry.

    Counting them says which tracker lever could remove a switch: "ended" / "born" pairs are
    fragments an offline linker could join; "return" and "taken" are tracks trading people,
    which only association (appearance, gating) prevents.
    """
    results = _rows(results)
    frames, ids = results[:, 0].astype(np.int64), results[:, 1].astype(np.int64)
    first = {int(t): int(frames[ids == t].min()) for t in np.unique(ids)}
    last = {int(t): int(frames[ids == t].max()) for t in np.unique(ids)}
    boxes_at = _by_frame(results)
    pending = sorted(m.switches, key=lambda s: s.frame)
    seen: dict[int, set[int]] = {}       # gt id -> tracks that covered it so far
    covered_someone: set[int] = set()    # tracks that covered any gt person so far
    out: list[tuple[Switch, str, str]] = []
    k = 0
    for frame in sorted(m.covered):
        while k < len(pending) and pending[k].frame <= frame:
            s = pending[k]
            k += 1
            if last[s.old_id] < s.frame:
                old = "ended"
            else:
                here = boxes_at.get(s.frame, results[:0])[:, 1]
                old = "present" if (here == s.old_id).any() else "coasting"
            if s.new_id in seen.get(s.gt_id, ()):
                new = "return"
            elif s.new_id in covered_someone:
                new = "taken"
            else:
                new = "born" if first[s.new_id] > s.last_frame else "idle"
            out.append((s, old, new))
        for gt_id, track in m.covered[frame].items():
            seen.setdefault(gt_id, set()).add(track)
            covered_someone.add(track)
    return out


@dataclass(frozen=True)
class Moment:
    """Runs disagree about person `gt_id` of `sequence` around `frame`.

    `switched` maps each run that switches there to its Switch; `kept` holds the runs that
    follow the person with one ID across the whole window, and `kept_ids` that ID per run.
    """

    sequence: str
    frame: int
    gt_id: int
    switched: dict[str, Switch]
    kept: tuple[str, ...]
    kept_ids: dict[str, int] = field(default_factory=dict)

    @property
    def first_frame(self) -> int:
        return min(s.last_frame for s in self.switched.values())


def keeps_identity(m: Matching, gt_id: int, start: int, end: int) -> bool:
    """The run covers `gt_id` at both ends of [start, end] with the same track and switches
    nowhere inside: it followed that person through."""
    a, b = m.track_of(gt_id, start), m.track_of(gt_id, end)
    if a is None or a != b:
        return False
    return not any(s.gt_id == gt_id and start < s.frame <= end for s in m.switches)


def disagreements(matchings: dict[str, Matching], sequence: str, reference: str,
                  contrasts: list[str] | None = None, slack: int = 2) -> list[Moment]:
    """Switches of the `contrasts` runs (default: all others) that `reference` does not make.

    A contrast run's switch at frame f (person last covered by it at frame f0) counts when the
    reference covers that person at f0 and at f (within `slack` frames either way) with one and
    the same track. Switches of several contrast runs on one person and overlapping windows
    merge into one moment. Moments are ordered by how many runs switch, then by frame.
    """
    ref = matchings[reference]
    contrasts = [r for r in (contrasts or matchings) if r != reference]
    raw: list[tuple[str, Switch]] = []
    for run in contrasts:
        for s in matchings[run].switches:
            if _reference_keeps(ref, s, slack):
                raw.append((run, s))
    raw.sort(key=lambda rs: (rs[1].gt_id, rs[1].frame))
    moments: list[dict] = []
    for run, s in raw:
        last = moments[-1] if moments else None
        if (last is not None and last["gt_id"] == s.gt_id and run not in last["switched"]
                and s.last_frame <= last["end"] + slack):
            last["switched"][run] = s
            last["end"] = max(last["end"], s.frame)
            continue
        moments.append({"gt_id": s.gt_id, "end": s.frame, "switched": {run: s}})
    out = []
    for m in moments:
        switched = dict(sorted(m["switched"].items(), key=lambda kv: contrasts.index(kv[0])))
        start = min(s.last_frame for s in switched.values())
        end = max(s.frame for s in switched.values())
        kept = tuple(r for r in matchings if r not in switched
                     and _keeps_with_slack(matchings[r], m["gt_id"], start, end, slack))
        frame = min(s.frame for s in switched.values())
        ids = {r: _kept_id(matchings[r], m["gt_id"], start, end, slack) for r in kept}
        out.append(Moment(sequence, frame, m["gt_id"], switched, kept, ids))
    out.sort(key=lambda mo: (-len(mo.switched), mo.frame))
    return out


def _reference_keeps(ref: Matching, s: Switch, slack: int) -> bool:
    return _keeps_with_slack(ref, s.gt_id, s.last_frame, s.frame, slack)


def _keeps_with_slack(m: Matching, gt_id: int, start: int, end: int, slack: int) -> bool:
    """keeps_identity over the window widened by up to `slack` frames on each side (so a switch
    one frame later is no disagreement), where the run covers the person there; a run that
    picks the person up or lets go a few frames inside the window still counts."""
    def covered(f: int) -> bool:
        return m.track_of(gt_id, f) is not None

    a = next((f for f in range(start - slack, start + slack + 1) if covered(f)), None)
    b = next((f for f in range(end + slack, end - slack - 1, -1) if covered(f)), None)
    if a is None or b is None or a > b:
        return False
    return keeps_identity(m, gt_id, a, b)


def _kept_id(m: Matching, gt_id: int, start: int, end: int, slack: int) -> int:
    """The one track ID a run that keeps the person (see _keeps_with_slack) follows it with."""
    covered = (m.track_of(gt_id, f) for f in range(start - slack, end + slack + 1))
    return next(t for t in covered if t is not None)


def pick_spread(moments: list[Moment], count: int, min_gap: int) -> list[Moment]:
    """Up to `count` moments in the given order, skipping any within `min_gap` frames of one
    already picked in the same sequence (so a strip does not show one crossing four times)."""
    picked: list[Moment] = []
    for m in moments:
        if len(picked) >= count:
            break
        if any(p.sequence == m.sequence and abs(p.frame - m.frame) < min_gap for p in picked):
            continue
        picked.append(m)
    return picked
