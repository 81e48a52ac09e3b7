"""Tracker-only speed of our SORT and DeepSORT against the originals, measured in the same run.

Only the per-frame tracker calls are timed, over every frame 1..seqLength of every sequence of
MOT15/train (tools.bench.data_root by default). All inputs are prepared before timing:

  SORT      ours:      Detections(tlwh, confidence) built from per-frame arrays + Sort.update()
            original:  Sort.update() on the prepared (N, 6) array [x1,y1,x2,y2,score,0]
  DeepSORT  detections pre-filtered once (confidence 0.3, NMS 0.7), 128-D features,
            paper settings (max cosine distance 0.2, nn_budget 100, max_age 30, n_init 3)
            ours:      Detections(tlwh, confidence, feature) + DeepSort.update() (which also
                       returns the tracks to report)
            original:  tracker.predict() + tracker.update() on prepared Detection lists, then the
                       deep_sort_app.py report (confirmed, time_since_update <= 1, to_tlwh())

Ours pays for building its input objects inside the timing, the original does not. Runs of ours
and of the original alternate within each repetition; frames/s is total frames / total time of a
repetition, reported as the median (and best) over --repeat repetitions.

A micro-benchmark compares Kalman filtering alone: one filterpy KalmanFilter per track (what the
original SORT does) against our batched filter (tracker/sort.py), and the original DeepSORT
KalmanFilter per track against tracker/kalman_filter.py, for predict + update of 10 and 50 tracks.

    python -m tools.bench.speed [--repeat 5] [--data DIR] [--profile]
"""
from __future__ import annotations

import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _pin_blas_threads(argv: list[str]) -> str:
    """Apply --blas-threads (default 1) before NumPy loads its BLAS; both sides share the setting.

    The per-frame matrices of a tracker are tiny, so a threaded BLAS only adds hand-off cost, and
    on a loaded machine its spinning threads make timings of both trackers erratic."""
    value = "1"
    for i, arg in enumerate(argv):
        if arg == "--blas-threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--blas-threads="):
            value = arg.split("=", 1)[1]
    if value == "0":
        return "BLAS threads: library default"
    if "numpy" in sys.modules:
        return f"BLAS threads: NOT pinned to {value} (NumPy was imported before tools.bench.speed)"
    for var in BLAS_VARS:
        os.environ[var] = value
    return f"BLAS threads: {value} (" + ", ".join(f"{v}={value}" for v in BLAS_VARS) + ")"


BLAS_NOTE = _pin_blas_threads(sys.argv[1:] if __name__ == "__main__" else [])

import numpy as np
import scipy

from tools.bench import reference as ref
from tools.bench.compare_reference import PAPER, identity_features, random_features
from tools.io.sequence import Sequence, frame_slices
from tracker import DeepSort, DeepSortParams, DetectionFilter, Detections, Sort, SortParams
from tracker import kalman_filter as ds_kf

TARGET_RATIO = 2.0


def machine() -> str:
    from tools.io.machine import cpu_model, usable_cores

    cpu = cpu_model(platform.processor() or "")
    usable = usable_cores()
    import filterpy
    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    return (f"machine: {platform.platform()}; cpu: {cpu or 'unknown'}; cpu count {os.cpu_count()} "
            f"(usable {usable}); {load}\npython {platform.python_version()}, numpy {np.__version__}, "
            f"scipy {scipy.__version__}, filterpy {filterpy.__version__}; {BLAS_NOTE}")


# -- inputs ------------------------------------------------------------------------------------

class SeqInputs:
    """Everything one sequence needs, prepared before any timing."""

    def __init__(self, seq: Sequence, features: str, seed: int) -> None:
        self.name = seq.name
        self.length = seq.info.length
        rows = seq.detections()
        data = rows.data
        self.n_dets = len(data)
        per_frame = frame_slices(data, self.length)
        # SORT
        self.sort_ours = [(data[i, 2:6].copy(), data[i, 6].copy()) for i in per_frame[1:]]
        self.sort_orig = ref.sort_inputs(data, self.length)[1:]
        # DeepSORT: features, then the paper's pre-filtering done once (identical for both)
        if features == "identity":
            gt = seq.ground_truth().data if seq.has_gt else None
            feats, _ = identity_features(data, gt, seed, seq.name)
        else:
            feats = random_features(len(data), seed, seq.name)
        filt = DetectionFilter(PAPER["min_confidence"], PAPER["min_height"], PAPER["nms_max_overlap"])
        self.ds_ours = []
        for i in per_frame[1:]:
            d = filt(Detections(data[i, 2:6], data[i, 6], feats[i]))
            self.ds_ours.append((d.tlwh, d.confidence, d.feature))
        self.ds_orig = ref.deepsort_inputs(data, feats, self.length, PAPER["min_confidence"],
                                           PAPER["nms_max_overlap"], PAPER["min_height"])[1:]


def _deepsort_params() -> DeepSortParams:
    return DeepSortParams(max_distance=PAPER["max_cosine_distance"], metric="cosine",
                          nn_budget=PAPER["nn_budget"], max_iou_distance=PAPER["max_iou_distance"],
                          max_age=PAPER["max_age"], n_init=PAPER["n_init"])


def time_sort_ours(s: SeqInputs) -> float:
    tracker = Sort(SortParams())
    frames = s.sort_ours
    t0 = time.perf_counter()
    for tlwh, conf in frames:
        tracker.update(Detections(tlwh, conf))
    return time.perf_counter() - t0


def time_sort_orig(s: SeqInputs) -> float:
    p = SortParams()
    tracker = ref.new_original_sort(p.max_age, p.min_hits, p.iou_threshold)
    frames = s.sort_orig
    t0 = time.perf_counter()
    for dets in frames:
        tracker.update(dets)
    return time.perf_counter() - t0


def time_deepsort_ours(s: SeqInputs) -> float:
    tracker = DeepSort(_deepsort_params())
    frames = s.ds_ours
    t0 = time.perf_counter()
    for tlwh, conf, feat in frames:
        tracker.update(Detections(tlwh, conf, feat))
    return time.perf_counter() - t0


def time_deepsort_orig(s: SeqInputs) -> float:
    p = PAPER
    tracker = ref.new_original_deepsort(p["max_cosine_distance"], p["nn_budget"], p["max_iou_distance"],
                                        p["max_age"], p["n_init"])
    report = ref.report_original_deepsort
    frames = s.ds_orig
    t0 = time.perf_counter()
    for dets in frames:
        tracker.predict()
        tracker.update(dets)
        report(tracker)
    return time.perf_counter() - t0


RUNNERS = {("sort", "ours"): time_sort_ours, ("sort", "original"): time_sort_orig,
           ("deepsort", "ours"): time_deepsort_ours, ("deepsort", "original"): time_deepsort_orig}


def bench_trackers(inputs: list[SeqInputs], repeat: int) -> dict:
    """times[(tracker, side)][seq name] -> list of seconds, one per repetition."""
    times: dict = {key: {s.name: [] for s in inputs} for key in RUNNERS}
    for rep in range(repeat):
        # ours and the original alternate per sequence, first one then the other, so that a
        # change in machine load hits both sides alike
        sides = ("ours", "original") if rep % 2 == 0 else ("original", "ours")
        for tracker in ("sort", "deepsort"):
            for s in inputs:
                for side in sides:
                    gc.collect()
                    times[(tracker, side)][s.name].append(RUNNERS[(tracker, side)](s))
        tot = {k: sum(v[n][rep] for n in v) for k, v in times.items()}
        frames = sum(s.length for s in inputs)
        print(f"  repetition {rep + 1}/{repeat}: " + ", ".join(
            f"{t} {side} {frames / tot[(t, side)]:,.0f} f/s" for t, side in RUNNERS), flush=True)
    return times


def print_speed_table(inputs: list[SeqInputs], times: dict) -> dict:
    head = ("sequence", "frames", "dets", "SORT ours f/s", "SORT orig f/s", "ratio",
            "DeepSORT ours f/s", "DeepSORT orig f/s", "ratio")
    lines = []
    med = {}

    def fps(frames, secs):
        return frames / secs if secs > 0 else float("inf")

    for s in inputs:
        cells = [s.name, str(s.length), str(s.n_dets)]
        for t in ("sort", "deepsort"):
            o = fps(s.length, statistics.median(times[(t, "ours")][s.name]))
            r = fps(s.length, statistics.median(times[(t, "original")][s.name]))
            cells += [f"{o:,.0f}", f"{r:,.0f}", f"{o / r:.2f}x"]
        lines.append(cells)
    frames = sum(s.length for s in inputs)
    n_reps = len(next(iter(times[("sort", "ours")].values())))
    cells = ["all (median rep)", str(frames), str(sum(s.n_dets for s in inputs))]
    best_cells = ["all (best rep)", "", ""]
    for t in ("sort", "deepsort"):
        per_rep = {side: [sum(times[(t, side)][s.name][k] for s in inputs) for k in range(n_reps)]
                   for side in ("ours", "original")}
        o, r = fps(frames, statistics.median(per_rep["ours"])), fps(frames, statistics.median(per_rep["original"]))
        bo, br = fps(frames, min(per_rep["ours"])), fps(frames, min(per_rep["original"]))
        rep_ratio = statistics.median(a / b for a, b in zip(per_rep["original"], per_rep["ours"]))
        med[t] = (o, r, rep_ratio)
        cells += [f"{o:,.0f}", f"{r:,.0f}", f"{o / r:.2f}x"]
        best_cells += [f"{bo:,.0f}", f"{br:,.0f}", f"{bo / br:.2f}x"]
    lines += [cells, best_cells]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(line, widths))) + " |")
    return med


# -- Kalman micro-benchmark --------------------------------------------------------------------

def _sort_filterpy(n: int):
    from filterpy.kalman import KalmanFilter

    kfs = []
    for _ in range(n):
        kf = KalmanFilter(dim_x=7, dim_z=4)
        kf.F = np.array([[1, 0, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0, 1],
                         [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1, 0],
                         [0, 0, 0, 0, 0, 0, 1]], dtype=float)
        kf.H = np.array([[1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0],
                         [0, 0, 0, 1, 0, 0, 0]], dtype=float)
        kf.R[2:, 2:] *= 10.
        kf.P[4:, 4:] *= 1000.
        kf.P *= 10.
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kfs.append(kf)
    return kfs


def micro_kalman(n_tracks: int, n_frames: int, repeat: int) -> list[tuple[str, float, float]]:
    """(filter, per-track µs/frame, batched µs/frame) for predict + update of n_tracks tracks."""
    rng = np.random.default_rng(n_tracks)
    base = np.column_stack([rng.uniform(100, 1000, n_tracks), rng.uniform(100, 500, n_tracks),
                            rng.uniform(40, 120, n_tracks), rng.uniform(80, 240, n_tracks)])
    walk = base[None] + np.cumsum(rng.normal(0, 1.0, (n_frames, n_tracks, 4)), axis=0)
    walk[..., 2:] = np.abs(walk[..., 2:]) + 10  # tlwh with positive size
    out = []

    # SORT: z = [cx, cy, area, aspect]
    z = np.stack([walk[..., 0] + walk[..., 2] / 2, walk[..., 1] + walk[..., 3] / 2,
                  walk[..., 2] * walk[..., 3], walk[..., 2] / walk[..., 3]], axis=-1)
    z_col = [[z[f, i].reshape(4, 1) for i in range(n_tracks)] for f in range(n_frames)]

    def sort_per_track():
        kfs = _sort_filterpy(n_tracks)
        for kf, z0 in zip(kfs, z[0]):
            kf.x[:4] = z0.reshape(4, 1)
        t0 = time.perf_counter()
        for f in range(1, n_frames):
            zf = z_col[f]
            for i, kf in enumerate(kfs):
                kf.predict()
                kf.update(zf[i])
        return time.perf_counter() - t0

    def sort_batched():
        s = Sort()
        s._birth(z[0])
        idx = np.arange(n_tracks)
        t0 = time.perf_counter()
        for f in range(1, n_frames):
            s._predict()
            s._correct(idx, z[f])
        return time.perf_counter() - t0

    a = min(sort_per_track() for _ in range(repeat)) / (n_frames - 1) * 1e6
    b = min(sort_batched() for _ in range(repeat)) / (n_frames - 1) * 1e6
    out.append(("SORT: filterpy KalmanFilter per track vs tracker/sort.py batched", a, b))

    # DeepSORT: xyah
    xyah = np.stack([walk[..., 0] + walk[..., 2] / 2, walk[..., 1] + walk[..., 3] / 2,
                     walk[..., 2] / walk[..., 3], walk[..., 3]], axis=-1)
    try:
        tracker_mod, _, _, _ = ref.load_deepsort()
        orig_kf = tracker_mod.kalman_filter.KalmanFilter()
    except ref.ReferenceMissing:
        orig_kf = None
    if orig_kf is not None:
        def ds_per_track():
            states = [orig_kf.initiate(m) for m in xyah[0]]
            t0 = time.perf_counter()
            for f in range(1, n_frames):
                for i in range(n_tracks):
                    m, c = orig_kf.predict(*states[i])
                    states[i] = orig_kf.update(m, c, xyah[f, i])
            return time.perf_counter() - t0

        def ds_batched():
            mean, cov = ds_kf.initiate(xyah[0])
            t0 = time.perf_counter()
            for f in range(1, n_frames):
                mean, cov = ds_kf.predict(mean, cov)
                mean, cov = ds_kf.update(mean, cov, xyah[f])
            return time.perf_counter() - t0

        a = min(ds_per_track() for _ in range(repeat)) / (n_frames - 1) * 1e6
        b = min(ds_batched() for _ in range(repeat)) / (n_frames - 1) * 1e6
        out.append(("DeepSORT: original KalmanFilter per track vs tracker/kalman_filter.py batched", a, b))
    return out


def profile_ours(inputs: list[SeqInputs], top: int) -> None:
    for name, fn in (("SORT", time_sort_ours), ("DeepSORT", time_deepsort_ours)):
        prof = cProfile.Profile()
        prof.enable()
        for s in inputs:
            fn(s)
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
        stats.print_stats(top)
        print(f"\n--- cProfile of our {name} update loop (all sequences, sorted by own time) ---")
        text = buf.getvalue()
        print(text[text.find("   ncalls"):].rstrip() if "   ncalls" in text else text)


def main(argv: list[str] | None = None) -> int:
    ap = ref.bench_parser(__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="repetitions of every timing (default 5)")
    ap.add_argument("--features", choices=("identity", "random"), default="identity",
                    help="DeepSORT's 128-D features: correlated within a gt identity (default) or "
                         "independent random vectors")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads for both sides, set before NumPy loads; 0 keeps the library "
                         "default (default 1)")
    ap.add_argument("--no-micro", action="store_true", help="skip the Kalman micro-benchmark")
    ap.add_argument("--profile", action="store_true", help="also print cProfile hot spots of ours")
    ap.add_argument("--top", type=int, default=20, help="rows of the profile (default 20)")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be >= 1")

    print(machine())
    seqs = ref.sequences_or_skip(args.data, args.sequences)
    if seqs is None:
        return 0

    inputs = [SeqInputs(s, args.features, args.seed) for s in seqs]
    print(f"\ntracker-only frames/s, {len(inputs)} sequences, {sum(s.length for s in inputs)} frames, "
          f"DeepSORT features: 128-D {args.features}, {args.repeat} repetitions")
    times = bench_trackers(inputs, args.repeat)
    print()
    med = print_speed_table(inputs, times)
    print()
    for t, label in (("sort", "SORT"), ("deepsort", "DeepSORT (128-D)")):
        o, r, rep_ratio = med[t]
        verdict = "met" if min(o / r, rep_ratio) >= TARGET_RATIO else "MISSED"
        print(f"target {label}: ours >= {TARGET_RATIO:g}x original -> {o / r:.2f}x ({o:,.0f} vs {r:,.0f} f/s; "
              f"median of per-repetition ratios {rep_ratio:.2f}x): {verdict}")

    if not args.no_micro:
        print("\nKalman filter alone, predict + update per frame (best of "
              f"{max(3, args.repeat)}), microseconds per frame:")
        head = ("filter", "tracks", "per-track µs", "batched µs", "speed-up")
        lines = []
        for n, frames in ((10, 400), (50, 200)):
            for label, a, b in micro_kalman(n, frames, max(3, args.repeat)):
                lines.append((label, str(n), f"{a:,.1f}", f"{b:,.1f}", f"{a / b:.1f}x"))
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
        print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for line in lines:
            print("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                    for i, (v, w) in enumerate(zip(line, widths))) + " |")

    if args.profile:
        profile_ours(inputs, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
