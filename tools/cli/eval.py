"""`track eval`: score MOTChallenge result files with TrackEval and write the summary tables."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.io.errors import InputError
from tools.io.folders import check_output_folder
from tools.eval.evaluation import BENCHMARKS, evaluate, format_table, infer_benchmark, write_summary


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score tracker results against ground truth (TrackEval: IDF1, MOTA, HOTA, ...)",
        description="Score MOTChallenge result files with TrackEval, the official MOTChallenge "
                    "evaluation code, and print IDF1 IDP IDR Rcll Prcn FAR MT PT ML FP FN IDs FM "
                    "MOTA MOTP MOTAL HOTA DetA AssA per sequence and combined. The summary is "
                    "also written as summary.json, summary.csv and summary.md: beside the "
                    "results folder when it is named 'data' (results/<experiment>/data/<seq>.txt "
                    "-> results/<experiment>/summary.*), else inside it.")
    parser.add_argument(
        "results", metavar="RESULTS",
        help="folder of <sequence>.txt result files in the MOTChallenge format "
             "(frame,id,x,y,w,h,conf,...), e.g. results/<experiment>/data")
    parser.add_argument(
        "--gt-root", required=True, metavar="ROOT",
        help="folder holding <sequence>/gt/gt.txt and <sequence>/seqinfo.ini for every result "
             "file, e.g. data/MOT15/train (without seqinfo.ini the sequence length is "
             "the last frame seen)")
    parser.add_argument(
        "--benchmark", choices=BENCHMARKS, default=None,
        help="whose preprocessing rules to apply: MOT16/MOT17/MOT20 drop tracker boxes that match "
             "distractor ground truth and score only pedestrian ground truth with the consider "
             "flag set; MOT15 only drops ground truth with consider flag 0 (default: from the "
             "sequence names, MOT16-xx -> MOT16, MOT17-xx -> MOT17, MOT20-xx -> MOT20, any "
             "other -> MOT15)")
    parser.add_argument(
        "--seqs", nargs="+", metavar="SEQ", default=None,
        help="score only these sequences (default: every <sequence>.txt in RESULTS)")
    parser.add_argument(
        "--json", metavar="FILE", default=None,
        help="where to write the JSON summary (default: summary.json in the output folder "
             "described above)")
    parser.add_argument(
        "--csv", metavar="FILE", default=None,
        help="where to write the CSV summary (default: summary.csv in the output folder)")
    parser.add_argument(
        "--md", metavar="FILE", default=None,
        help="where to write the Markdown summary (default: summary.md in the output folder)")
    parser.set_defaults(func=run)


def default_output_dir(results: str | Path) -> Path:
    """results/<experiment>/data -> results/<experiment>; any other folder -> itself."""
    path = Path(results).resolve()
    return path.parent if path.name == "data" else path


def run(args: argparse.Namespace) -> int:
    out_dir = default_output_dir(args.results)
    json_path = Path(args.json) if args.json else out_dir / "summary.json"
    csv_path = Path(args.csv) if args.csv else out_dir / "summary.csv"
    md_path = Path(getattr(args, "md", None) or out_dir / "summary.md")
    for flag, path in (("--json", json_path), ("--csv", csv_path), ("--md", md_path)):
        if path.is_dir():
            raise InputError(path, f"{flag} names a folder; give a file name")
        check_output_folder(path.parent, f"{flag}'s folder")   # before the evaluation, not after
    summary = evaluate(args.results, args.gt_root, benchmark=args.benchmark, seqs=args.seqs)
    sequences = [name for name in summary if name != "COMBINED"]
    bench = args.benchmark or infer_benchmark(sequences)
    print(f"TrackEval, {bench} rules, {len(sequences)} sequence(s)")
    print(format_table(summary), end="")
    for key, path in (("json_path", json_path), ("csv_path", csv_path), ("md_path", md_path)):
        try:
            write_summary(summary, **{key: path})
        except OSError as exc:
            raise InputError(path, f"cannot write the summary: {exc.strerror or exc}") from None
    print(f"wrote {json_path}, {csv_path}, {md_path}")
    return 0
