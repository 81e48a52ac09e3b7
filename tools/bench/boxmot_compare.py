"""BoxMOT 25.0.0 beside this project's trackers on the same public detections, motion only.

Runs the PyPI package `boxmot` (its Python trackers ByteTrack, OcSort, BotSort, BoostTrack with
their constructors' default parameters, no ReID) and our trackers (every name in
tools.track.runner.TRACKERS: sort, deepsort, bytetrack, ocsort) on the
det/det.txt of every sequence under --data-root (default: MOT15/train beside the checkout,
tools.bench.data_root), and reports per tracker:

  - IDF1, MOTA, HOTA and IDs of TrackEval's combined score (tools.eval.evaluation.evaluate, the
    function `track eval` wraps, MOT15 rules) over all sequences and over PETS09-S2L1 +
    TUD-Stadtmitte;
  - tracker-only frames/s: total frames / total seconds inside the per-frame tracker calls,
    best of --passes passes; every (tracker, pass) runs in a fresh process of its own, BLAS and
    OpenMP pinned to one thread on both sides;
  - where BoxMOT implements the same tracker (our bytetrack <-> ByteTrack, our ocsort <->
    OcSort): the output agreement per sequence and overall (see `agreement`).

BoxMOT runs in its own virtual environment (default data/boxmot-venv, made on first use by
`ensure_boxmot`; see BOXMOT_INSTALL) through tools/bench/boxmot_worker.py, which imports only
NumPy, boxmot and the standard library. BoxMOT gets the frame's detections as (N, 6)
[x1, y1, x2, y2, conf, cls=0] and a black image of the sequence's size (the frames are not
needed without ReID; BoT-SORT's and BoostTrack's camera-motion compensation then sees a static
camera); ByteTrack and BotSort also get frame_rate from seqinfo.ini, the only two constructors
that take one. Ours runs through tools.track.runner.track_sequence(seq, RunConfig(tracker=name))
and is timed by its SequenceResult.tracker_seconds.

Writes OUT/results/<side>-<tracker>/data/<seq>.txt (MOTChallenge rows, first pass),
OUT/table.md and OUT/table.json (default OUT: data/boxmot-compare), and prints the tables.
Exit status 2, after one line saying why, when BoxMOT cannot be installed or imported.

    python -m tools.bench.boxmot_compare [--data-root DIR] [--seqs NAME...] [--venv DIR]
        [--trackers NAME...] [--passes 3] [--no-install] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from tracker.iou import iou_tlwh  # NaN for two empty boxes: never a match at IoU >= 0.99

from tools.bench.data_root import MOT15_TRAIN, PROJECT_ROOT

BOXMOT_VERSION = "25.0.0"
# The exact install: a venv of this interpreter, then boxmot with torch pinned to the CPU wheel
# this machine's registry has (an unpinned torch resolves to the CUDA build and its GBs of
# nvidia-* wheels) and torchvision to the release built against that torch.
BOXMOT_REQUIREMENT = f"boxmot=={BOXMOT_VERSION}"
BOXMOT_CONSTRAINTS = ("torch==2.13.0", "torchvision==0.28.0")
BOXMOT_INSTALL = (f"python -m venv VENV && VENV/bin/python -m pip install "
                  f"-c VENV/boxmot-constraints.txt {BOXMOT_REQUIREMENT}   "
                  f"(constraints: {', '.join(BOXMOT_CONSTRAINTS)})")
DEFAULT_VENV = PROJECT_ROOT / "data" / "boxmot-venv"
DEFAULT_OUT = PROJECT_ROOT / "data" / "boxmot-compare"
WORKER = Path(__file__).resolve().with_name("boxmot_worker.py")

BOXMOT_TRACKERS = ("bytetrack", "ocsort", "botsort", "boosttrack")
BOXMOT_CLASS = {"bytetrack": "ByteTrack", "ocsort": "OcSort", "botsort": "BotSort", "boosttrack": "BoostTrack"}
# our tracker name -> the BoxMOT tracker implementing the same method
COUNTERPARTS = {"bytetrack": "bytetrack", "ocsort": "ocsort"}
SUBSET = ("PETS09-S2L1", "TUD-Stadtmitte")
METRICS = ("IDF1", "MOTA", "HOTA", "IDs")
AGREE_IOU = 0.99
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class BoxmotUnavailable(Exception):
    """BoxMOT could not be installed or imported; the message is the one line to print."""


# -- BoxMOT's environment -----------------------------------------------------------------------

def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def boxmot_imports(python: Path) -> str | None:
    """The version `python` imports boxmot as, or None when it does not."""
    if not python.is_file():
        return None
    try:
        done = subprocess.run([str(python), "-c", "import boxmot; print(boxmot.__version__)"],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_boxmot(venv: Path, install: bool = True, log=print) -> Path:
    """The python of a virtual environment at `venv` that imports boxmot 25.0.0: an existing one
    is reused as it is; otherwise (unless install is False) it is made with BOXMOT_INSTALL.
    Raises BoxmotUnavailable with a one-line reason."""
    python = venv_python(venv)
    found = boxmot_imports(python)
    if found == BOXMOT_VERSION:
        return python
    if not install:
        what = f"imports boxmot {found}" if found else "does not import boxmot"
        raise BoxmotUnavailable(f"{python} {what} and --no-install was given")
    log(f"installing BoxMOT {BOXMOT_VERSION} into {venv} (about a minute with a local wheel "
        f"cache, 1.8 GB on disk): {BOXMOT_INSTALL}", flush=True)
    t0 = time.perf_counter()
    venv.mkdir(parents=True, exist_ok=True)
    steps = []
    if not python.is_file():
        steps.append([sys.executable, "-m", "venv", str(venv)])
    constraints = venv / "boxmot-constraints.txt"
    constraints.write_text("\n".join(BOXMOT_CONSTRAINTS) + "\n")
    steps.append([str(python), "-m", "pip", "install", "--disable-pip-version-check",
                  "-c", str(constraints), BOXMOT_REQUIREMENT])
    install_log = venv / "boxmot-install.log"
    with open(install_log, "w") as fh:
        for cmd in steps:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=3600)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise BoxmotUnavailable(f"installing BoxMOT failed ({exc}); see {install_log}") from None
            if done.returncode != 0:
                last = _last_line(install_log)
                raise BoxmotUnavailable(f"`{' '.join(cmd[:4])} ...` failed (exit {done.returncode}): "
                                        f"{last}; see {install_log}")
    found = boxmot_imports(python)
    if found != BOXMOT_VERSION:
        raise BoxmotUnavailable(f"after installing, {python} imports boxmot {found or 'not at all'}; "
                                f"see {install_log}")
    log(f"installed BoxMOT {BOXMOT_VERSION} in {time.perf_counter() - t0:.0f} s", flush=True)
    return python


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1][:300]


# -- running both sides -------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    side: str      # "ours" or "boxmot"
    tracker: str   # our name (BoxMOT's trackers by the same lower-case names)

    @property
    def key(self) -> str:
        return f"{self.side}-{self.tracker}"

    @property
    def label(self) -> str:
        return self.tracker if self.side == "ours" else BOXMOT_CLASS[self.tracker]


def job_sequences(seqs) -> list[dict]:
    """What a worker needs of each sequence (tools.io.sequence.Sequence objects)."""
    return [{"name": s.name, "root": str(s.root), "det": str(s.det_path), "length": s.info.length,
             "width": s.info.width, "height": s.info.height, "frame_rate": s.info.frame_rate}
            for s in seqs]


def worker_env() -> dict:
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = "1"
    env.pop("PYTHONPATH", None)
    return env


def run_entry(entry: Entry, seqs: list[dict], pass_no: int, out: Path, boxmot_python: Path | None,
              tmp: Path) -> dict:
    """Run one (tracker, pass) in a fresh process; its timing record."""
    job = {"tracker": entry.tracker, "pass": pass_no, "out": str(out), "write": pass_no == 1,
           "sequences": seqs}
    job_path = tmp / f"{entry.key}-pass{pass_no}.json"
    job_path.write_text(json.dumps(job))
    if entry.side == "boxmot":
        cmd = [str(boxmot_python), str(WORKER), str(job_path)]
    else:
        cmd = [sys.executable, "-m", "tools.bench.boxmot_compare", "--worker-ours", str(job_path)]
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=worker_env(), capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{entry.label} pass {pass_no} failed (exit {done.returncode}): {tail}")
    return json.loads((out / f"timing-pass{pass_no}.json").read_text())


def our_worker(job_path: Path) -> int:
    """--worker-ours: one of our trackers over the job's sequences (track_sequence, motion only)."""
    from tools.io.motformat import write_results
    from tools.io.sequence import Sequence
    from tools.track.runner import RunConfig, track_sequence

    job = json.loads(Path(job_path).read_text())
    out = Path(job["out"])
    timing = {"tracker": job["tracker"], "side": "ours", "pass": job["pass"], "seconds": {}, "frames": {},
              "boxes": {}}
    for s in job["sequences"]:
        seq = Sequence.open(s["root"])
        result = track_sequence(seq, RunConfig(tracker=job["tracker"], appearance=None), progress=False)
        timing["seconds"][seq.name] = result.tracker_seconds
        timing["frames"][seq.name] = result.frames
        timing["boxes"][seq.name] = len(result.rows)
        if job.get("write", True):
            (out / "data").mkdir(parents=True, exist_ok=True)
            write_results(out / "data" / f"{seq.name}.txt", result.rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"timing-pass{job['pass']}.json").write_text(json.dumps(timing, indent=1) + "\n")
    return 0


def our_tracker_names() -> tuple[tuple[str, ...], str | None]:
    """tools.track.runner.TRACKERS, or () and why when the runner does not import."""
    try:
        from tools.track.runner import TRACKERS
    except Exception as exc:  # the runner is someone's work in progress: say so, run BoxMOT alone
        return (), f"{type(exc).__name__}: {exc}"
    return tuple(TRACKERS), None


# -- agreement between two outputs --------------------------------------------------------------

def match_frame(a: np.ndarray, b: np.ndarray, threshold: float = AGREE_IOU) -> list[tuple[int, int]]:
    """Index pairs (i, j) of boxes a[i] and b[j] with IoU >= threshold, one-to-one, taken
    greedily from the highest IoU down (at 0.99 a box has at most one such partner in practice)."""
    if not len(a) or not len(b):
        return []
    iou = iou_tlwh(a, b)
    cand = np.argwhere(iou >= threshold)
    order = np.argsort(-iou[cand[:, 0], cand[:, 1]], kind="stable")
    used_a, used_b, pairs = set(), set(), []
    for i, j in cand[order]:
        if i not in used_a and j not in used_b:
            used_a.add(int(i))
            used_b.add(int(j))
            pairs.append((int(i), int(j)))
    return pairs


def agreement(rows_a: np.ndarray, rows_b: np.ndarray, threshold: float = AGREE_IOU) -> dict:
    """How far two trackers' outputs on one sequence agree; rows (K, >=6): frame, id, x, y, w, h.

    boxes_a, boxes_b: output boxes of each; matched: boxes of a with a counterpart in b in the
    same frame at IoU >= threshold (one-to-one per frame); id_consistent: matched pairs whose
    (id in a, id in b) mapping is one-to-one over the sequence, i.e. that id of a is matched to
    no other id of b anywhere in the sequence and that id of b to no other id of a.
    """
    a, b = (np.asarray(r, np.float64) if np.size(r) else np.zeros((0, 6)) for r in (rows_a, rows_b))
    pairs = []  # (id a, id b) of every matched box pair
    frames = np.union1d(a[:, 0], b[:, 0]) if len(a) or len(b) else []
    fa, fb = a[:, 0], b[:, 0]
    for f in frames:
        ia, ib = np.flatnonzero(fa == f), np.flatnonzero(fb == f)
        for i, j in match_frame(a[ia, 2:6], b[ib, 2:6], threshold):
            pairs.append((int(a[ia[i], 1]), int(b[ib[j], 1])))
    partners_a: dict[int, set] = {}
    partners_b: dict[int, set] = {}
    for x, y in pairs:
        partners_a.setdefault(x, set()).add(y)
        partners_b.setdefault(y, set()).add(x)
    consistent = sum(1 for x, y in pairs if len(partners_a[x]) == 1 and len(partners_b[y]) == 1)
    return {"boxes_a": int(len(a)), "boxes_b": int(len(b)), "matched": len(pairs),
            "id_consistent": consistent, "id_mapped": best_id_mapping(pairs)}


def best_id_mapping(pairs: list[tuple[int, int]]) -> int:
    """Matched pairs that agree with the best one-to-one id mapping over the sequence (the
    mapping that keeps the most pairs, Hungarian on the co-occurrence counts): a gentler
    measure than id_consistent, where one switch in either output spoils both tracks whole."""
    if not pairs:
        return 0
    from scipy.optimize import linear_sum_assignment

    ids_a = sorted({x for x, _ in pairs})
    ids_b = sorted({y for _, y in pairs})
    ia = {v: i for i, v in enumerate(ids_a)}
    ib = {v: i for i, v in enumerate(ids_b)}
    counts = np.zeros((len(ids_a), len(ids_b)), np.int64)
    for x, y in pairs:
        counts[ia[x], ib[y]] += 1
    r, c = linear_sum_assignment(counts, maximize=True)
    return int(counts[r, c].sum())


def add_counts(counts: list[dict]) -> dict:
    keys = ("boxes_a", "boxes_b", "matched", "id_consistent", "id_mapped")
    return {k: int(sum(c[k] for c in counts)) for k in keys}


def fractions(c: dict) -> dict:
    """matched_a: share of a's boxes with a counterpart; matched_b: of b's; id_consistent: share
    of the matched pairs with a one-to-one id mapping; id_mapped: share of the matched pairs in
    the best one-to-one id mapping."""
    def div(x, y):
        return x / y if y else float("nan")

    return {"matched_a": div(c["matched"], c["boxes_a"]), "matched_b": div(c["matched"], c["boxes_b"]),
            "id_consistent": div(c["id_consistent"], c["matched"]),
            "id_mapped": div(c.get("id_mapped", 0), c["matched"])}


# -- tables -------------------------------------------------------------------------------------

def fps_of(timings: list[dict]) -> dict:
    """frames/s of each pass (total frames / total seconds) and the best."""
    per_pass = []
    for t in timings:
        secs = sum(t["seconds"].values())
        frames = sum(t["frames"].values())
        per_pass.append(frames / secs if secs > 0 else float("inf"))
    return {"passes": per_pass, "best": max(per_pass) if per_pass else float("nan")}


def _fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def build_score_table(rows: list[dict], subset_label: str, all_label: str) -> str:
    """Markdown: one row per tracker. rows: {"label", "side", "all": {metric: v} | None,
    "subset": {...} | None, "fps": float, "ratio": float | None}."""
    head = (["tracker", "side"] + [f"{m} ({all_label})" for m in METRICS]
            + [f"{m} ({subset_label})" for m in METRICS] + ["frames/s", "ours ÷ BoxMOT f/s"])
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for r in rows:
        cells = [r["label"], r["side"]]
        for part in ("all", "subset"):
            scores = r.get(part)
            for m in METRICS:
                v = None if not scores else scores[m]
                cells.append(_fmt(int(v) if m == "IDs" and v is not None else v))
        cells.append(f"{r['fps']:,.0f}" if r.get("fps") is not None and np.isfinite(r["fps"]) else "—")
        ratio = r.get("ratio")
        cells.append(f"{ratio:.2f}x" if ratio is not None and np.isfinite(ratio) else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build_agreement_table(agree: dict[str, dict[str, dict]]) -> str:
    """Markdown: per pair (our tracker vs its BoxMOT counterpart), per sequence and overall.
    agree: {pair label: {sequence or "all": counts of agreement()}}."""
    head = ["ours vs BoxMOT", "sequence", "boxes ours", "boxes BoxMOT", f"ours matched (IoU ≥ {AGREE_IOU:g})",
            "BoxMOT matched", "ID-consistent (of matched)", "in best 1:1 ID map (of matched)"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for pair, per_seq in agree.items():
        for name, c in per_seq.items():
            fr = fractions(c)
            label = f"**{name}**" if name == "all" else name
            lines.append(f"| {pair} | {label} | {c['boxes_a']} | {c['boxes_b']} | "
                         f"{_pct(fr['matched_a'])} | {_pct(fr['matched_b'])} | {_pct(fr['id_consistent'])} | "
                         f"{_pct(fr['id_mapped'])} |")
    return "\n".join(lines) + "\n"


def _pct(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{100 * x:.1f}%"


def machine_line() -> str:
    from tools.io.machine import cpu_model, usable_cores

    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    return (f"{platform.platform()}; cpu: {cpu_model(platform.processor() or '') or 'unknown'}, "
            f"{os.cpu_count()} cores ({usable_cores()} usable); {load}; python {platform.python_version()}")


# -- main ---------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--data-root", type=Path, default=MOT15_TRAIN,
                    help="folder holding the sequences (default: %(default)s)")
    ap.add_argument("--seqs", nargs="*", help="only these sequence names")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                    help="BoxMOT's virtual environment, made if absent (default: %(default)s)")
    ap.add_argument("--trackers", nargs="*",
                    help="tracker names; each runs on every side that has it (default: ours "
                         "(tools.track.runner.TRACKERS) and BoxMOT's " + ", ".join(BOXMOT_TRACKERS) + ")")
    ap.add_argument("--passes", type=int, default=3, help="timing passes, one process each; the best counts (default 3)")
    ap.add_argument("--no-install", action="store_true",
                    help="use --venv as it is; exit 2 when it does not import boxmot")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    ap.add_argument("--worker-ours", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.passes < 1:
        ap.error("--passes must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker_ours is not None:
        return our_worker(args.worker_ours)

    from tools.eval.evaluation import COMBINED, evaluate
    from tools.io.motformat import read_mot_file
    from tools.io.sequence import list_sequences

    try:
        boxmot_python = ensure_boxmot(args.venv, install=not args.no_install)
    except BoxmotUnavailable as exc:
        print(f"boxmot_compare: BoxMOT {BOXMOT_VERSION} unavailable: {exc}")
        return 2

    if not args.data_root.is_dir():
        print(f"skip: no sequence folder at {args.data_root}")
        return 0
    seqs = [s for s in list_sequences(args.data_root) if not args.seqs or s.name in set(args.seqs)]
    if args.seqs:
        missing = sorted(set(args.seqs) - {s.name for s in seqs})
        if missing:
            print(f"boxmot_compare: no sequence {', '.join(missing)} under {args.data_root}")
            return 2
    seqs = [s for s in seqs if s.has_gt]
    if not seqs:
        print(f"skip: no sequences with ground truth under {args.data_root}")
        return 0
    gt_roots = {s.root.parent for s in seqs}
    if len(gt_roots) != 1:
        print(f"boxmot_compare: the sequences lie in {len(gt_roots)} folders; choose one with --data-root")
        return 2
    gt_root = gt_roots.pop()
    names = [s.name for s in seqs]
    subset = [n for n in SUBSET if n in names]

    ours, why = our_tracker_names()
    wanted = args.trackers
    entries = [Entry("ours", t) for t in ours if not wanted or t in wanted]
    entries += [Entry("boxmot", t) for t in BOXMOT_TRACKERS if not wanted or t in wanted]
    notes = []
    if why:
        notes.append(f"our trackers skipped: tools.track.runner does not import ({why})")
    for ours_name, theirs in COUNTERPARTS.items():
        if ours_name not in ours and (not wanted or ours_name in wanted):
            notes.append(f"our {ours_name} is not in tools.track.runner.TRACKERS yet: no agreement "
                         f"with BoxMOT {BOXMOT_CLASS[theirs]}")
    if wanted:
        unknown = sorted(set(wanted) - set(ours) - set(BOXMOT_TRACKERS))
        if unknown:
            notes.append(f"unknown tracker names skipped: {', '.join(unknown)}")
    if not entries:
        print("boxmot_compare: no trackers to run" + (f" ({'; '.join(notes)})" if notes else ""))
        return 2
    for n in notes:
        print("note: " + n)

    frames = sum(s.info.length for s in seqs)
    machine = machine_line()
    print(f"machine: {machine}")
    print(f"{len(seqs)} sequences ({frames} frames) under {args.data_root}; {len(entries)} trackers, "
          f"{args.passes} passes, one process each", flush=True)
    results_root = args.out / "results"
    job_seqs = job_sequences(seqs)
    timings: dict[str, list[dict]] = {e.key: [] for e in entries}
    with tempfile.TemporaryDirectory(prefix="boxmot-compare-") as tmp:
        for p in range(1, args.passes + 1):
            order = entries if p % 2 else entries[::-1]  # alternate, so that load drifts hit all alike
            for e in order:
                try:
                    t = run_entry(e, job_seqs, p, results_root / e.key, boxmot_python, Path(tmp))
                except RuntimeError as exc:
                    print(f"boxmot_compare: {exc}")
                    return 1
                timings[e.key].append(t)
                fps = frames / sum(t["seconds"].values())
                print(f"  pass {p}: {e.label:<18} {fps:10,.0f} frames/s", flush=True)

    # scores
    report = {"machine": machine, "boxmot": BOXMOT_VERSION, "install": BOXMOT_INSTALL,
              "data_root": str(args.data_root), "sequences": names, "subset": subset, "frames": frames,
              "passes": args.passes, "notes": notes, "trackers": {}, "agreement": {}}
    rows = []
    fps_by_key = {e.key: fps_of(timings[e.key]) for e in entries}
    for e in entries:
        data = results_root / e.key / "data"
        all_scores = evaluate(data, gt_root, "MOT15", names)[COMBINED]
        sub_scores = evaluate(data, gt_root, "MOT15", subset)[COMBINED] if subset else None
        fps = fps_by_key[e.key]
        ratio = None
        if e.side == "ours" and e.tracker in COUNTERPARTS:
            other = f"boxmot-{COUNTERPARTS[e.tracker]}"
            if other in fps_by_key:
                ratio = fps["best"] / fps_by_key[other]["best"]
        rows.append({"label": e.label, "side": "ours" if e.side == "ours" else "BoxMOT",
                     "all": {m: all_scores[m] for m in METRICS},
                     "subset": {m: sub_scores[m] for m in METRICS} if sub_scores else None,
                     "fps": fps["best"], "ratio": ratio})
        info = {"side": e.side, "label": e.label, "combined": all_scores, "combined_subset": sub_scores,
                "fps": fps, "seconds": [t["seconds"] for t in timings[e.key]],
                "boxes": timings[e.key][0]["boxes"]}
        for k in ("options", "warnings", "class"):
            if k in timings[e.key][0]:
                info[k] = timings[e.key][0][k]
        report["trackers"][e.key] = info

    # agreement
    agree: dict[str, dict[str, dict]] = {}
    for e in entries:
        other = COUNTERPARTS.get(e.tracker) if e.side == "ours" else None
        if other is None or f"boxmot-{other}" not in timings:
            continue
        pair = f"{e.tracker} vs {BOXMOT_CLASS[other]}"
        per_seq = {}
        for n in names:
            a = read_mot_file(results_root / e.key / "data" / f"{n}.txt", "results").data
            b = read_mot_file(results_root / f"boxmot-{other}" / "data" / f"{n}.txt", "results").data
            per_seq[n] = agreement(a, b)
        per_seq["all"] = add_counts(list(per_seq.values()))
        agree[pair] = per_seq
        report["agreement"][pair] = {n: {**c, **fractions(c)} for n, c in per_seq.items()}

    all_label = f"{len(names)} seqs"
    subset_label = "+".join(n.split("-")[0] for n in subset) if subset else "subset"
    text = [f"# BoxMOT {BOXMOT_VERSION} beside our trackers, motion only\n",
            f"{len(names)} sequences ({frames} frames): {', '.join(names)}. Scores: TrackEval combined "
            f"over all {len(names)} ({all_label}) and over {' + '.join(subset) or 'none'} ({subset_label}), "
            f"MOT15 rules. frames/s: tracker calls only, all {frames} frames, best of {args.passes} passes, "
            f"one process each; ours ÷ BoxMOT: our frames/s over the BoxMOT tracker of the same method.\n",
            f"Machine: {machine}.\n",
            build_score_table(rows, subset_label, all_label)]
    if agree:
        text += [f"\nOutput agreement. matched: boxes with a counterpart in the other output in the same "
                 f"frame at IoU ≥ {AGREE_IOU:g}; ID-consistent: matched pairs whose id pairing is "
                 f"one-to-one over the whole sequence (neither id is paired with any other); best 1:1 ID "
                 f"map: matched pairs kept by the id mapping that keeps the most.\n",
                 build_agreement_table(agree)]
    if notes:
        text.append("\n" + "".join(f"Note: {n}.\n" for n in notes))
    md = "\n".join(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(md)
    (args.out / "table.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    print()
    print(md)
    print(f"wrote {args.out / 'table.md'} and {args.out / 'table.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
