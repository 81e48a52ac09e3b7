"""Prove that our SORT and DeepSORT reproduce the original implementations output for output.

For every sequence of MOT15/train (tools.bench.data_root by default) the same detections go
through our pipeline (tools.track.runner.track_sequence, the code `track run` uses) and through the
originals (tools.bench.reference). A run passes when

* both report boxes in the same set of frames, with the same number of boxes in every frame,
* the boxes agree within --tol pixels (0.01) after pairing them within each frame, and
* the track IDs agree up to one relabelling for the whole sequence (a bijection ours <-> theirs).

Trackers and variants:
  sort      defaults (max_age 1, min_hits 3, IoU 0.3) on det/det.txt
  deepsort  paper settings (min confidence 0.3, NMS 0.7, max cosine distance 0.2, nn_budget 100,
            max_age 30, n_init 3) with
            const     motion only: ours without features, the original with one constant vector
            random    seeded random 128-D features, independent per detection
            identity  seeded 128-D features correlated within a ground-truth identity
                      (detection -> gt box by IoU >= 0.5; feature = identity vector + noise)

Exit status 0 when everything matches (or when the data or the originals are absent: skipped),
1 on any mismatch.

    python -m tools.bench.compare_reference [--data DIR] [--sequences A B] [--variants ...]
"""
from __future__ import annotations

import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
from scipy.optimize import linear_sum_assignment

from tools.bench import reference as ref
from tools.io.motformat import MotRows
from tools.track.runner import RunConfig, track_sequence
from tools.io.sequence import Sequence
from tracker import DeepSortParams, DetectionFilter, SortParams
from tracker.iou import iou_tlwh

VARIANTS = ("const", "random", "identity")
FEATURE_DIM = 128
IDENTITY_NOISE = 0.4  # per-dimension noise / identity vector scale: same-id cosine distance ~0.14

# The FMVAE paper's DeepSORT settings.
PAPER = dict(min_confidence=0.3, nms_max_overlap=0.7, max_cosine_distance=0.2, nn_budget=100,
             max_iou_distance=0.7, max_age=30, n_init=3, min_height=0.0)


@dataclass
class Comparison:
    rows_ours: int
    rows_theirs: int
    frames_ok: bool = True
    counts_ok: bool = True
    max_diff: float = 0.0
    bijection_ok: bool = True
    ids_ours: int = 0
    ids_theirs: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self, tol: float) -> bool:
        return self.frames_ok and self.counts_ok and self.bijection_ok and self.max_diff <= tol


def compare_rows(ours: np.ndarray, theirs: np.ndarray, tol: float) -> Comparison:
    """Compare two (K, 6) frame,id,x,y,w,h result sets under the criteria of the module docstring."""
    c = Comparison(len(ours), len(theirs))
    c.ids_ours = len(np.unique(ours[:, 1]))
    c.ids_theirs = len(np.unique(theirs[:, 1]))
    f_ours, f_theirs = set(ours[:, 0].astype(int).tolist()), set(theirs[:, 0].astype(int).tolist())
    if f_ours != f_theirs:
        c.frames_ok = False
        only_o, only_t = sorted(f_ours - f_theirs), sorted(f_theirs - f_ours)
        c.problems.append(f"frames only in ours: {only_o[:5]}{'...' if len(only_o) > 5 else ''}; "
                          f"only in original: {only_t[:5]}{'...' if len(only_t) > 5 else ''}")
    o_to_t: dict[int, int] = {}
    t_to_o: dict[int, int] = {}
    for frame in sorted(f_ours | f_theirs):
        o = ours[ours[:, 0] == frame]
        t = theirs[theirs[:, 0] == frame]
        if len(o) != len(t):
            if c.counts_ok:
                c.problems.append(f"frame {frame}: {len(o)} boxes in ours, {len(t)} in the original")
            c.counts_ok = False
            continue
        if len(o) == 0:
            continue
        dist = np.abs(o[:, None, 2:6] - t[None, :, 2:6]).max(axis=2)
        r, k = linear_sum_assignment(dist)
        worst = float(dist[r, k].max())
        if worst > tol and c.max_diff <= tol:
            c.problems.append(f"frame {frame}: boxes differ by up to {worst:.4g} px")
        c.max_diff = max(c.max_diff, worst)
        for i, j in zip(r.tolist(), k.tolist()):
            a, b = int(o[i, 1]), int(t[j, 1])
            prev_t, prev_o = o_to_t.setdefault(a, b), t_to_o.setdefault(b, a)
            if prev_t != b or prev_o != a:
                if c.bijection_ok:
                    c.problems.append(f"frame {frame}: our id {a} pairs with original id {b}, but before "
                                      f"our {a} paired with original {prev_t} and original {b} with our {prev_o}")
                c.bijection_ok = False
    return c


# -- features --------------------------------------------------------------------------------

def _rng(seed: int, name: str, salt: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), zlib.crc32(salt.encode())])


def random_features(n: int, seed: int, name: str) -> np.ndarray:
    return _rng(seed, name, "random").standard_normal((n, FEATURE_DIM)).astype(np.float32)


def identity_features(det: np.ndarray, gt: np.ndarray | None, seed: int, name: str,
                      noise: float = IDENTITY_NOISE) -> tuple[np.ndarray, float]:
    """Features correlated within a ground-truth identity: each detection is paired with a gt box
    of its frame (assignment on IoU, pairs >= 0.5 kept) and gets that identity's vector plus
    noise; unpaired detections get independent vectors. Returns (features, fraction paired)."""
    rng = _rng(seed, name, "identity")
    feats = rng.standard_normal((len(det), FEATURE_DIM))
    if gt is None or len(gt) == 0:
        return feats.astype(np.float32), 0.0
    ids = np.unique(gt[:, 1].astype(np.int64))
    base = {int(i): v for i, v in zip(ids, rng.standard_normal((len(ids), FEATURE_DIM)))}
    noise_all = rng.standard_normal((len(det), FEATURE_DIM)) * noise
    paired = 0
    for frame in np.unique(det[:, 0]):
        di = np.flatnonzero(det[:, 0] == frame)
        gi = np.flatnonzero(gt[:, 0] == frame)
        if len(di) == 0 or len(gi) == 0:
            continue
        iou = iou_tlwh(det[di, 2:6], gt[gi, 2:6])
        r, k = linear_sum_assignment(-iou)
        for a, b in zip(r.tolist(), k.tolist()):
            if iou[a, b] >= 0.5:
                feats[di[a]] = base[int(gt[gi[b], 1])] + noise_all[di[a]]
                paired += 1
    return feats.astype(np.float32), paired / len(det)


def make_features(variant: str, seq: Sequence, rows: MotRows, seed: int) -> tuple[np.ndarray | None, str]:
    """(features for ours or None for motion-only, a note)."""
    n = len(rows)
    if variant == "const":
        return None, "ours: no features; original: constant vector"
    if variant == "random":
        return random_features(n, seed, seq.name), f"{FEATURE_DIM}-D N(0,1), seed {seed}"
    gt = seq.ground_truth().data if seq.has_gt else None
    feats, frac = identity_features(rows.data, gt, seed, seq.name)
    return feats, f"{FEATURE_DIM}-D, {frac:.0%} of detections tied to a gt identity"


# -- runs ------------------------------------------------------------------------------------

def run_pair(seq: Sequence, rows: MotRows, tracker: str, variant: str, seed: int):
    length = seq.info.length
    if tracker == "sort":
        params = SortParams()
        ours = track_sequence(seq, RunConfig(tracker="sort", sort=params), rows, progress=False).rows
        theirs = ref.run_original_sort(rows.data, length, params.max_age, params.min_hits,
                                       params.iou_threshold)
        return ours, theirs, "max_age 1, min_hits 3, IoU 0.3"
    feats, note = make_features(variant, seq, rows, seed)
    p = PAPER
    cfg = RunConfig(
        tracker="deepsort", appearance=None,
        deepsort=DeepSortParams(max_distance=p["max_cosine_distance"], metric="cosine",
                                nn_budget=p["nn_budget"], max_iou_distance=p["max_iou_distance"],
                                max_age=p["max_age"], n_init=p["n_init"]),
        filter=DetectionFilter(min_confidence=p["min_confidence"], min_height=p["min_height"],
                               nms_max_overlap=p["nms_max_overlap"]))
    our_rows = MotRows(rows.data, rows.line, rows.path, feats)
    ours = track_sequence(seq, cfg, our_rows, progress=False).rows
    their_feats = feats if feats is not None else np.ones((len(rows), 1), np.float32)
    theirs = ref.run_original_deepsort(
        rows.data, their_feats, length, p["max_cosine_distance"], p["nn_budget"], p["max_iou_distance"],
        p["max_age"], p["n_init"], p["min_confidence"], p["nms_max_overlap"], p["min_height"])
    return ours, theirs, note


def print_table(results: list[dict], tol: float) -> None:
    head = ("sequence", "tracker", "variant", "rows ours/orig", "IDs ours/orig", "max box diff px",
            "ID bijection", "result")
    lines = []
    for r in results:
        c: Comparison = r["cmp"]
        lines.append((r["seq"], r["tracker"], r["variant"], f"{c.rows_ours}/{c.rows_theirs}",
                      f"{c.ids_ours}/{c.ids_theirs}", f"{c.max_diff:.2e}",
                      "ok" if c.bijection_ok else "NO", "match" if c.ok(tol) else "MISMATCH"))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(line, widths)) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = ref.bench_parser(__doc__)
    ap.add_argument("--trackers", nargs="*", default=["sort", "deepsort"], choices=["sort", "deepsort"])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS,
                    help="DeepSORT feature variants (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic features")
    ap.add_argument("--tol", type=float, default=0.01, help="box tolerance in pixels (default 0.01)")
    args = ap.parse_args(argv)

    seqs = ref.sequences_or_skip(args.data, args.sequences)
    if seqs is None:
        return 0

    print(f"reference: {ref.reference_dir()}  data: {args.data}  tolerance: {args.tol} px")
    results = []
    t0 = time.perf_counter()
    for seq in seqs:
        rows = seq.detections()
        jobs = [("sort", "-")] if "sort" in args.trackers else []
        if "deepsort" in args.trackers:
            jobs += [("deepsort", v) for v in args.variants]
        for tracker, variant in jobs:
            ours, theirs, note = run_pair(seq, rows, tracker, variant, args.seed)
            c = compare_rows(ours, theirs, args.tol)
            results.append(dict(seq=seq.name, tracker=tracker, variant=variant, cmp=c, note=note))
            print(f"  {seq.name:15s} {tracker:8s} {variant:8s} {'match' if c.ok(args.tol) else 'MISMATCH'}"
                  f"  ({note})", flush=True)
    print()
    print_table(results, args.tol)
    bad = [r for r in results if not r["cmp"].ok(args.tol)]
    print(f"\n{len(results) - len(bad)}/{len(results)} runs match the originals "
          f"({time.perf_counter() - t0:.0f} s)")
    for r in bad:
        print(f"MISMATCH {r['seq']} {r['tracker']} {r['variant']}:")
        for p in r["cmp"].problems:
            print(f"    {p}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
