"""A held-out check of a tuned tracker parameter: leave one sequence out, choose on the rest.

A value tuned on the sequences it is then scored on flatters itself. Here each sequence is
tracked with the value that scores best on the *other* sequences (combined, TrackEval MOT15
rules), and the held-out results of all sequences are scored together. The figure is what the
tuning procedure gives on sequences it never saw, the honest number to set beside a tracker run
at its authors' defaults:

    python -m tools.bench.held_out [--tracker bytetrack --param track_thresh --values 0.5 0.6 ...]

Prints the per-sequence choices, the table (every value on all sequences, then the held-out row)
and writes data/held-out/table.md and table.json; with data/boxmot-compare/table.json present it
adds BoxMOT's rows from that run. Skips cleanly (exit 0) when the data folder is absent.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from tools.bench.data_root import PROJECT_ROOT, absent, add_data_root
from tools.bench.table_files import write_table
from tools.bench.tracker_table import SHOWN, _cells, row_config, track_row
from tools.eval.evaluation import evaluate
from tools.io.errors import exit_status
from tools.io.machine import cpu_model
from tools.io.sequence import list_sequences
from tools.track.run_config import config_argv

SELECT = ("HOTA", "IDF1", "MOTA")


def sweep(data_root: Path, base: dict, param: str, values: list[float], work: Path) -> dict[float, Path]:
    """Track every sequence once per value into work/<tracker>-<param>-<value>/<seq>.txt. A folder
    is reused only when its stamp (the resolved configuration and the data root) matches."""
    seqs = list_sequences(data_root)
    folders = {}
    for v in values:
        cfg = row_config({**base, param: v})
        stamp = json.dumps({"config": cfg.to_dict(), "data_root": str(Path(data_root).resolve())},
                           sort_keys=True, default=str)
        folder = work / f"{base['tracker']}-{param}-{v:g}"
        fresh = (folder / "stamp.json").is_file() and (folder / "stamp.json").read_text() == stamp
        if not (fresh and all((folder / f"{s.name}.txt").is_file() for s in seqs)):
            partial = folder.with_name(folder.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            track_row(seqs, cfg, partial, passes=1)
            (partial / "stamp.json").write_text(stamp)
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
        folders[v] = folder
    return folders


def best_value(scores: dict[float, float]) -> float:
    """The value with the highest score; a tie goes to the value nearest the middle of the grid
    (by value), then to the smaller."""
    middle = (min(scores) + max(scores)) / 2
    return max(scores, key=lambda v: (scores[v], -abs(v - middle), -v))


def choose(data_root: Path, folders: dict[float, Path], select: str) -> dict[str, tuple[float, float]]:
    """Held-out sequence -> (the value best on the other sequences, its combined score there)."""
    names = [s.name for s in list_sequences(data_root)]
    chosen = {}
    for held in names:
        rest = [n for n in names if n != held]
        scores = {v: evaluate(f, data_root, "MOT15", seqs=rest)["COMBINED"][select] for v, f in folders.items()}
        best = best_value(scores)
        chosen[held] = (best, scores[best])
    return chosen


def _number(text: str) -> int | float:
    """A grid value as the option wants it: 30 is an integer (max_age), 0.8 a number."""
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.held_out", description=__doc__.split("\n")[0])
    add_data_root(parser)
    parser.add_argument("--tracker", default="bytetrack", help="the tracker (default: %(default)s)")
    parser.add_argument("--param", default="track_thresh",
                        help="the `track run` option tuned, by its argparse name (default: %(default)s)")
    parser.add_argument("--values", type=_number, nargs="+",
                        default=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.88],
                        help="the grid it is chosen from (default: %(default)s)")
    parser.add_argument("--select", choices=SELECT, default="HOTA",
                        help="the combined score the choice maximises (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "held-out")
    args = parser.parse_args(argv)
    if absent(args.data_root):
        return 0

    def run() -> int:
        started = time.time()
        base = {"tracker": args.tracker}
        config_argv({**base, args.param: args.values[0]})   # an unknown option fails here, in one line
        folders = sweep(args.data_root, base, args.param, args.values, args.out / "runs")
        chosen = choose(args.data_root, folders, args.select)
        held = args.out / "runs" / "held-out"
        shutil.rmtree(held, ignore_errors=True)
        held.mkdir(parents=True)
        for seq, (v, _) in chosen.items():
            shutil.copyfile(folders[v] / f"{seq}.txt", held / f"{seq}.txt")
        rows = [{"row": f"{args.tracker}, {args.param} {v:g} on every sequence",
                 "scores": {k: evaluate(f, args.data_root, "MOT15")["COMBINED"][k] for k in SHOWN}}
                for v, f in folders.items()]
        rows.append({"row": f"{args.tracker}, {args.param} chosen on the other sequences (held out)",
                     "scores": {k: evaluate(held, args.data_root, "MOT15")["COMBINED"][k] for k in SHOWN}})
        boxmot = PROJECT_ROOT / "data" / "boxmot-compare" / "table.json"
        theirs = json.loads(boxmot.read_text()) if boxmot.is_file() else {}
        if Path(theirs.get("data_root", "")).resolve() == args.data_root.resolve():   # the same sequences only
            for r in theirs.get("trackers", {}).values():
                if r.get("side") == "boxmot" and r.get("combined"):
                    rows.append({"row": f"BoxMOT {r['label']} (its defaults; data/boxmot-compare)",
                                 "scores": {k: r["combined"][k] for k in SHOWN}})
        n = len(chosen)
        lines = [f"{args.param} chosen by combined {args.select} on the other {n - 1} sequences:", "",
                 "| held-out sequence | value chosen | its score on the others |", "|---|---:|---:|"]
        lines += [f"| {s} | {v:g} | {score:.1f} |" for s, (v, score) in chosen.items()]
        lines += ["", f"| configuration | {n} sequences: {' / '.join(SHOWN)} |", "|---|---|"]
        lines += [f"| {r['row']} | {_cells(r['scores'])} |" for r in rows]
        lines += ["", f"Machine: {cpu_model()}; {time.time() - started:.0f} s."]
        write_table(args.out, "\n".join(lines) + "\n",
                    {"param": args.param, "select": args.select, "chosen": chosen, "rows": rows})
        return 0

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
