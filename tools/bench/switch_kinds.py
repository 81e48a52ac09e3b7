"""Where a run's identity switches come from: each switch of TrackEval's IDs column, sorted by
what the old track was doing and where the new track came from.

    python -m tools.bench.switch_kinds motion=results/motion oracle=results/oracle \\
        classifier=results/s0-tracklet-cooc,results/s1-tracklet-cooc,results/s2-tracklet-cooc

Each argument is NAME=DIR[,DIR...]: results folders (results/<experiment>, or their data/
folder) of one tracker setting; a group of several (seeds) prints the mean over them. The
switches are replayed with TrackEval's CLEAR rule (tools.eval.switches, whose count equals the
IDs column), summed over --seqs. Columns: the old track "ended" (its last box came before the
switch), was "coasting" (lost, found again later) or "present" (boxed in that frame, but not on
this person); the new track is a "return" (it covered this person before), "taken" (it covered
another person before), "born" after the old track last covered them, or "idle" (older, and
covered nobody yet). Skips cleanly (exit 0) when the gt is absent.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tools.bench.data_root import MOT15_TRAIN, absent
from tools.eval.evaluation import BENCHMARKS
from tools.eval.switches import NEW_ORIGINS, OLD_STATES, match_sequence, switch_causes
from tools.io.errors import InputError
from tools.io.motformat import read_mot_file

DEFAULT_SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
COLUMNS = ("IDs", *OLD_STATES, *NEW_ORIGINS)


def count_causes(results_dir: Path, gt_root: Path, seqs: list[str], benchmark: str = "MOT15") -> Counter:
    """Switch counts of one results folder over `seqs`: "IDs", each OLD_STATES and NEW_ORIGINS
    entry, and each (old, new) pair."""
    data = results_dir / "data" if (results_dir / "data").is_dir() else results_dir
    counts: Counter = Counter()
    for seq in seqs:
        path = data / f"{seq}.txt"
        if not path.is_file():
            raise InputError(path, f"no result file for {seq}")
        gt = read_mot_file(gt_root / seq / "gt" / "gt.txt", "gt").data
        rows = read_mot_file(path, "results").data
        for _, old, new in switch_causes(match_sequence(gt, rows, benchmark), rows):
            counts.update(["IDs", old, new, (old, new)])
    return counts


def _parse_group(text: str) -> tuple[str, list[Path]]:
    name, sep, dirs = text.partition("=")
    if not sep or not name or not dirs:
        raise argparse.ArgumentTypeError(f"expected NAME=DIR[,DIR...], got {text!r}")
    return name, [Path(d) for d in dirs.split(",")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("groups", nargs="+", type=_parse_group, metavar="NAME=DIR[,DIR...]")
    ap.add_argument("--gt-root", type=Path, default=MOT15_TRAIN,
                    help=f"folder of <sequence>/gt/gt.txt (default: {MOT15_TRAIN})")
    ap.add_argument("--seqs", nargs="+", default=list(DEFAULT_SEQS), help="sequences to sum over "
                    "(default: %(default)s)")
    ap.add_argument("--benchmark", choices=BENCHMARKS, default="MOT15",
                    help="whose preprocessing rules TrackEval applies (default: %(default)s)")
    ap.add_argument("--pairs", type=int, default=6, help="most frequent (old, new) pairs to list per row "
                    "(default: %(default)s)")
    args = ap.parse_args(argv)
    if args.pairs < 0:
        ap.error("--pairs must be at least 0")
    if absent(args.gt_root):
        return 0
    table = [f"| run | runs | {' | '.join(COLUMNS)} | most frequent (old, new) |",
             "|---|---|" + "---|" * (len(COLUMNS) + 1)]
    try:
        for name, dirs in args.groups:
            counts = [count_causes(d, args.gt_root, args.seqs, args.benchmark) for d in dirs]
            total = sum(counts, Counter())
            n = len(counts)
            cells = [f"{total[c] / n:.{0 if n == 1 else 1}f}" for c in COLUMNS]
            pairs = sorted(((k, v) for k, v in total.items() if isinstance(k, tuple)), key=lambda kv: -kv[1])
            top = ", ".join(f"{a}/{b} {v / n:.{0 if n == 1 else 1}f}" for (a, b), v in pairs[:args.pairs])
            table.append(f"| {name} | {n} | {' | '.join(cells)} | {top} |")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Identity switches over {', '.join(args.seqs)} (a group of runs: the mean per run)\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
