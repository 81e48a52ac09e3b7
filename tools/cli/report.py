"""`track report`: rebuild the HTML and Markdown report of a results folder."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="write report.html and report.md for a results folder",
        description="Rebuild RESULTS_DIR/report.html (one self-contained file, images inlined) and "
                    "RESULTS_DIR/report.md (+ report-files/*.png) from existing results: the metrics "
                    "table of every run, a bar chart of IDF1, MOTA, HOTA and IDs, training curves, "
                    "label-free thresholds, latent-geometry figures, and frames with drawn tracks where "
                    "the runs disagree about an identity. RESULTS_DIR holds runs/<run>/ (`track run` "
                    "folders), models/<model>/ (`track train` folders), calibration/ and an optional "
                    "report.json manifest, as `track demo` writes it; a folder of plain `track run` "
                    "experiments (e.g. results/) works too.")
    p.add_argument("results", type=Path, metavar="RESULTS_DIR", help="e.g. results/demo")
    p.add_argument("--data-root", type=Path, metavar="DIR",
                   help="where the runs' sequences (frames, gt) are, when report.json does not say or "
                        "they have moved (default: from report.json or the runs' own commands)")
    p.add_argument("--title", help="page title (default: from report.json, else the folder name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from tools.report.inputs import skipped_folders
    from tools.report.report import build_report

    for folder, why in skipped_folders(args.results):  # first: they may be why no run is found
        print(f"skipped {folder}: {why}", file=sys.stderr)
    paths = build_report(args.results, data_root=args.data_root, title=args.title)
    print(f"wrote {paths.html}")
    print(f"wrote {paths.markdown} and {len(paths.images)} image(s) in {paths.markdown.parent / 'report-files'}")
    if not paths.moments:
        print("no disagreement strip (see the report's note)")
    return 0
