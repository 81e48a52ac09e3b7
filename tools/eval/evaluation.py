"""Scoring tracker output with TrackEval, the official MOTChallenge evaluation code.

`evaluate` checks every result and ground-truth file with the project's own MOT reader (so bad
input ends in an InputError naming file and line), copies the rows in a normalised form into the
folder layout TrackEval expects inside a temporary directory, runs TrackEval's HOTA, CLEAR and
Identity metrics in-process with all its printing and file output switched off, and returns the
FMVAE paper's Table-2 columns plus HOTA, DetA and AssA for each sequence and for all of them
together ("COMBINED").

Benchmark rules are TrackEval's own (``MotChallenge2DBox.get_preprocessed_seq_data``):

- MOT16 / MOT17 / MOT20: tracker boxes matched (IoU >= 0.5, Hungarian) to a ground-truth box of a
  distractor class (person on vehicle, static person, distractor, reflection; MOT20 also
  non-motorised vehicle) are removed before scoring; only ground truth of class 1 (pedestrian)
  with a non-zero consider flag is scored.
- MOT15: no tracker box is removed; ground truth with consider flag 0 is dropped; the class
  column is not used.

Conventions follow the devkit: IDF1, IDP, IDR, Rcll, Prcn, MOTA, MOTP, MOTAL, HOTA, DetA, AssA
are percentages (0-100); MOTP is the mean IoU of matched pairs; FAR is false positives per frame;
MT, PT, ML, FP, FN, IDs, FM are counts (MT: tracked for more than 80% of its frames, ML: less
than 20%).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
import tempfile
from pathlib import Path

import numpy as np

from tools.io.atomic import atomic_open, atomic_write_text
from tools.io.errors import InputError
from tools.io.motformat import MotRows, read_mot_file, read_seqinfo

# Column order of every table this module writes (the FMVAE paper's Table 2, then HOTA).
COLUMNS = ["IDF1", "IDP", "IDR", "Rcll", "Prcn", "FAR", "MT", "PT", "ML", "FP", "FN", "IDs",
           "FM", "MOTA", "MOTP", "MOTAL", "HOTA", "DetA", "AssA"]
COUNT_COLUMNS = frozenset({"MT", "PT", "ML", "FP", "FN", "IDs", "FM"})
COMBINED = "COMBINED"
BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")

# MOTChallenge ground-truth classes (1 pedestrian ... 13 crowd); TrackEval rejects others.
_VALID_GT_CLASSES = frozenset(range(1, 14))
_BENCHMARK_PATTERN = re.compile(r"^MOT(16|17|20)-\d+")


def infer_benchmark(seqs: list[str]) -> str:
    """MOT16-xx -> MOT16, MOT17-xx(-DET) -> MOT17, MOT20-xx -> MOT20, anything else -> MOT15."""
    found = set()
    for name in seqs:
        match = _BENCHMARK_PATTERN.match(name)
        found.add(f"MOT{match.group(1)}" if match else "MOT15")
    if len(found) > 1:
        raise InputError(None, f"the sequences belong to different benchmarks "
                               f"({', '.join(sorted(found))}): evaluate them separately or "
                               f"choose the rules with --benchmark")
    return found.pop() if found else "MOT15"


def evaluate(results_dir: str | Path, gt_root: str | Path, benchmark: str | None = None,
             seqs: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Score the <seq>.txt files of `results_dir` against `gt_root`/<seq>/gt/gt.txt.

    The sequences scored are `seqs`, or else every result file. The sequence length comes from
    `gt_root`/<seq>/seqinfo.ini; without one it is the last frame found in the ground truth or
    the results. Returns {sequence: {column: value}} for each sequence plus "COMBINED", with the
    columns of COLUMNS (counts as int, the rest as float).
    """
    results_dir, gt_root = Path(results_dir), Path(gt_root)
    if not results_dir.is_dir():
        raise InputError(results_dir, "results folder not found")
    if not gt_root.is_dir():
        raise InputError(gt_root, "ground-truth folder not found")
    if benchmark is not None and benchmark not in BENCHMARKS:
        raise InputError(None, f"unknown benchmark {benchmark!r} (choose from {', '.join(BENCHMARKS)})")

    available = {p.stem: p for p in sorted(results_dir.glob("*.txt"))
                 if p.is_file() and not p.name.startswith(".")}
    if seqs:
        names = list(dict.fromkeys(seqs))
        for name in names:
            if name not in available:
                raise InputError(results_dir / f"{name}.txt", f"no result file for sequence {name!r}")
    else:
        names = sorted(available)
        if not names:
            raise InputError(results_dir, "no <sequence>.txt result files in this folder")
    for name in names:
        if name == COMBINED:
            raise InputError(available[name], f"{COMBINED!r} is reserved for the combined row")
        if not (gt_root / name / "gt" / "gt.txt").is_file():
            raise InputError(available[name], f"no ground truth for sequence {name!r} "
                                              f"(expected {gt_root / name / 'gt' / 'gt.txt'})")
    bench = benchmark or infer_benchmark(names)

    with tempfile.TemporaryDirectory(prefix="track-eval-") as tmp:
        tmp = Path(tmp)
        lengths = {}
        for name in names:
            lengths[name] = _stage_sequence(name, available[name], gt_root, bench, tmp)
        raw = _run_trackeval(tmp, lengths, bench)
    summary = {name: _columns(raw[name]) for name in sorted(names)}
    summary[COMBINED] = _columns(raw["COMBINED_SEQ"])
    return summary


def _stage_sequence(name: str, result_path: Path, gt_root: Path, bench: str, tmp: Path) -> int:
    """Validate one sequence's files and write them, normalised, where TrackEval will look."""
    gt_path = gt_root / name / "gt" / "gt.txt"
    gt = read_mot_file(gt_path, "gt")
    res = read_mot_file(result_path, "results")
    _check_ids(gt)
    _check_ids(res)
    if bench != "MOT15":
        for i, cls in enumerate(gt.data[:, 7]):
            if cls not in _VALID_GT_CLASSES:
                raise gt.error(i, f"class {cls:g} is not a MOTChallenge class (1-13) as {bench} "
                                  f"rules need in column 8; for MOT15-style ground truth use "
                                  f"--benchmark MOT15")

    ini = gt_root / name / "seqinfo.ini"
    if ini.is_file():
        length = read_seqinfo(ini).length
        for rows in (gt, res):
            late = np.flatnonzero(rows.data[:, 0] > length) if len(rows) else []
            if len(late):
                i = int(late[0])
                raise rows.error(i, f"frame {int(rows.data[i, 0])} is beyond the sequence length "
                                    f"{length} given in {ini}")
    else:
        length = int(max([1] + [int(rows.data[:, 0].max()) for rows in (gt, res) if len(rows)]))

    gt_out = tmp / "gt" / name / "gt" / "gt.txt"
    gt_out.parent.mkdir(parents=True)
    # Frame, id, box, consider flag, class: the columns TrackEval's MOT loader reads for gt.
    _write_rows(gt_out, gt.data[:, :8])
    res_out = tmp / "trackers" / "tracker" / "data" / f"{name}.txt"
    res_out.parent.mkdir(parents=True, exist_ok=True)
    # Frame, id, box, confidence. Column 8 (world x in MOTChallenge results) is left out: TrackEval
    # would read it as a class and reject values above 1; the official devkit ignores it.
    _write_rows(res_out, res.data[:, :7])
    return length


def _check_ids(rows: MotRows) -> None:
    """Reject negative ids and an id repeated within one frame, naming the offending line."""
    if not len(rows):
        return
    ids = rows.data[:, 1]
    negative = np.flatnonzero(ids < 0)
    if len(negative):
        i = int(negative[0])
        raise rows.error(i, f"id must not be negative, got {ids[i]:g}")
    seen: dict[tuple[int, int], int] = {}
    for i, (frame, ident) in enumerate(rows.data[:, :2].astype(np.int64)):
        key = (int(frame), int(ident))
        if key in seen:
            raise rows.error(i, f"id {key[1]} appears twice in frame {key[0]} "
                                f"(first on line {int(rows.line[seen[key]])})")
        seen[key] = i


def _write_rows(path: Path, data: np.ndarray) -> None:
    """Comma-separated rows; frame and id as integers, every other value exactly (repr)."""
    with open(path, "w") as fh:
        for row in data:
            fh.write(f"{int(row[0])},{int(row[1])},")
            fh.write(",".join(repr(float(v)) for v in row[2:]))
            fh.write("\n")


def _run_trackeval(tmp: Path, lengths: dict[str, int], bench: str) -> dict:
    """Run TrackEval on the staged folders; return {seq or 'COMBINED_SEQ': {metric: fields}}."""
    import trackeval
    from trackeval.utils import TrackEvalException

    eval_config = {
        "USE_PARALLEL": False, "NUM_PARALLEL_CORES": 1,
        "BREAK_ON_ERROR": True, "RETURN_ON_ERROR": False, "LOG_ON_ERROR": None,
        "PRINT_RESULTS": False, "PRINT_ONLY_COMBINED": False, "PRINT_CONFIG": False,
        "TIME_PROGRESS": False, "DISPLAY_LESS_PROGRESS": True,
        "OUTPUT_SUMMARY": False, "OUTPUT_EMPTY_CLASSES": False, "OUTPUT_DETAILED": False,
        "PLOT_CURVES": False,
    }
    dataset_config = {
        "GT_FOLDER": str(tmp / "gt"),
        "TRACKERS_FOLDER": str(tmp / "trackers"),
        "OUTPUT_FOLDER": str(tmp / "output"),
        "TRACKERS_TO_EVAL": ["tracker"],
        "CLASSES_TO_EVAL": ["pedestrian"],
        "BENCHMARK": bench,
        "SPLIT_TO_EVAL": "train",
        "INPUT_AS_ZIP": False,
        "PRINT_CONFIG": False,
        "DO_PREPROC": True,
        "TRACKER_SUB_FOLDER": "data",
        "OUTPUT_SUB_FOLDER": "",
        "TRACKER_DISPLAY_NAMES": None,
        "SEQMAP_FOLDER": None,
        "SEQMAP_FILE": None,
        "SEQ_INFO": dict(lengths),
        "GT_LOC_FORMAT": "{gt_folder}/{seq}/gt/gt.txt",
        "SKIP_SPLIT_FOL": True,
    }
    metric_config = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    noise = io.StringIO()
    try:
        # TrackEval prints progress lines (and tracebacks on error) whatever its config says.
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
            evaluator = trackeval.Evaluator(eval_config)
            dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
            metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(dict(metric_config)),
                       trackeval.metrics.Identity(dict(metric_config))]
            output, _ = evaluator.evaluate([dataset], metrics)
    except TrackEvalException as exc:
        raise InputError(None, f"TrackEval: {' '.join(str(exc).split())}") from None
    per_seq = output["MotChallenge2DBox"]["tracker"]
    return {seq: res["pedestrian"] for seq, res in per_seq.items()}


def _columns(res: dict) -> dict[str, float]:
    """Map TrackEval's fields for one sequence (or the combination) to COLUMNS."""
    clear, ident, hota = res["CLEAR"], res["Identity"], res["HOTA"]

    def pct(value) -> float:
        return float(100.0 * value)

    out: dict[str, float] = {
        "IDF1": pct(ident["IDF1"]), "IDP": pct(ident["IDP"]), "IDR": pct(ident["IDR"]),
        "Rcll": pct(clear["CLR_Re"]), "Prcn": pct(clear["CLR_Pr"]),
        "FAR": float(clear["FP_per_frame"]),
        "MT": int(clear["MT"]), "PT": int(clear["PT"]), "ML": int(clear["ML"]),
        "FP": int(clear["CLR_FP"]), "FN": int(clear["CLR_FN"]), "IDs": int(clear["IDSW"]),
        "FM": int(clear["Frag"]),
        "MOTA": pct(clear["MOTA"]), "MOTP": pct(clear["MOTP"]), "MOTAL": pct(clear["MOTAL"]),
        "HOTA": pct(np.mean(hota["HOTA"])), "DetA": pct(np.mean(hota["DetA"])),
        "AssA": pct(np.mean(hota["AssA"])),
    }
    return {key: out[key] for key in COLUMNS}


def _format_value(column: str, value: float) -> str:
    if column in COUNT_COLUMNS:
        return str(int(value))
    if not math.isfinite(value):
        return "nan"
    return f"{value:.2f}" if column == "FAR" else f"{value:.1f}"


def _ordered_rows(summary: dict[str, dict[str, float]]) -> list[str]:
    names = [n for n in summary if n != COMBINED]
    return names + ([COMBINED] if COMBINED in summary else [])


def format_table(summary: dict[str, dict[str, float]]) -> str:
    """A fixed-width text table: one row per sequence, COMBINED last."""
    rows = _ordered_rows(summary)
    cells = [[name] + [_format_value(c, summary[name][c]) for c in COLUMNS] for name in rows]
    header = ["Sequence"] + COLUMNS
    widths = [max(len(r[i]) for r in [header] + cells) for i in range(len(header))]
    lines = []
    for r in [header] + cells:
        lines.append("  ".join([r[0].ljust(widths[0])]
                               + [r[i].rjust(widths[i]) for i in range(1, len(r))]).rstrip())
    return "\n".join(lines) + "\n"


def format_markdown(summary: dict[str, dict[str, float]]) -> str:
    """The same table as Markdown."""
    rows = _ordered_rows(summary)
    lines = ["| Sequence | " + " | ".join(COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name in rows:
        label = f"**{name}**" if name == COMBINED else name
        lines.append(f"| {label} | "
                     + " | ".join(_format_value(c, summary[name][c]) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_summary(summary: dict[str, dict[str, float]], json_path: str | Path | None = None,
                  csv_path: str | Path | None = None, md_path: str | Path | None = None) -> None:
    """Write the summary as JSON (full precision), CSV (full precision) and/or Markdown."""
    if json_path is not None:
        payload = {name: {c: summary[name][c] for c in COLUMNS} for name in _ordered_rows(summary)}
        atomic_write_text(json_path, json.dumps(payload, indent=2) + "\n")
    if csv_path is not None:
        with atomic_open(csv_path, "w") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["sequence"] + COLUMNS)
            for name in _ordered_rows(summary):
                writer.writerow([name] + [_csv_value(c, summary[name][c]) for c in COLUMNS])
    if md_path is not None:
        atomic_write_text(md_path, format_markdown(summary))


def _csv_value(column: str, value: float) -> str:
    return str(int(value)) if column in COUNT_COLUMNS else repr(float(value))
