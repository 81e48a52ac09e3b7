"""`track embed`: write DeepSORT .npy detection files carrying a descriptor's features.

The output folder drives `track run --detections FOLDER` (no descriptor at tracking time) and the
original nwojke/deep_sort (`deep_sort_app.py --detection_file FOLDER/<seq>.npy`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from tools.io.atomic import atomic_write_text
from tools.cli.run import _detection_path, _sequences, add_sequence_options
from tools.io.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("embed", help="write DeepSORT .npy detections with appearance features",
                       description="Embed every detection of the chosen sequences with a descriptor "
                                   "and write OUT/<seq>.npy in DeepSORT's format (10 MOT det columns, "
                                   "then the feature). `track run --detections OUT` then tracks with "
                                   "these features, and so does the original DeepSORT.")
    what = p.add_argument_group("what to embed")
    add_sequence_options(what)
    what.add_argument("--detections", metavar="PATH",
                      help="instead of det/det.txt: a MOT det file or DeepSORT .npy (one sequence), or a "
                           "folder of <seq>.npy / <seq>.txt files (features in an .npy are replaced)")
    what.add_argument("--min-confidence", type=float, default=0.0,
                      help="keep detections with at least this score (default: %(default)s, all; "
                           "`track run` filters again at tracking time)")
    how = p.add_argument_group("descriptor and output")
    how.add_argument("--appearance", required=True, metavar="SPEC",
                     help="descriptor: hist, fmvae:CHECKPOINT, supervised:CHECKPOINT, or a registered name[:ARG]")
    how.add_argument("--out", required=True, type=Path, help="folder for <seq>.npy files and embed.json")
    how.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from appearance.descriptors.registry import create
    from tools.track.embedding import embed_sequence

    seqs = _sequences(args)
    det_paths = {s.name: _detection_path(args, s, len(seqs)) for s in seqs}
    try:
        descriptor = create(args.appearance)
    except KeyError as exc:
        raise InputError(None, str(exc.args[0])) from None
    if descriptor is None:
        raise InputError(None, f"--appearance {args.appearance} gives no features; choose a descriptor")
    if args.out.exists() and not args.out.is_dir():
        raise InputError(args.out, "exists and is not a folder")
    results = []
    for seq in seqs:
        res = embed_sequence(seq, descriptor, args.out / f"{seq.name}.npy", det_paths[seq.name],
                             args.min_confidence, progress=not args.quiet)
        rate = res.rows / res.seconds if res.seconds > 0 else float("inf")
        print(f"{res.name}: {res.rows} detections x {res.dim}-D, {rate:,.0f} boxes/s -> {res.path}")
        results.append(res)
    # What made the features, so a later run uses the same distance (the .npy cannot say).
    record = {"command": getattr(args, "command_line", None), "appearance": args.appearance,
              "metric": descriptor.metric, "dim": descriptor.dim, "min_confidence": args.min_confidence,
              "sequences": {r.name: r.rows for r in results}}
    record_path = args.out / "embed.json"
    previous = _read_record(record_path)
    same = ("appearance", "metric", "dim", "min_confidence")
    if previous and all(previous.get(k) == record[k] for k in same):
        # more sequences embedded into the same folder with the same settings: keep the earlier ones
        record["sequences"] = {**previous.get("sequences", {}), **record["sequences"]}
    elif previous:
        print(f"note: {record_path} described other settings ({previous.get('appearance')}); "
              f"files of other sequences in {args.out} were not rewritten")
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    print(f"track with: track run --detections {args.out} --metric {descriptor.metric} ...")
    return 0


def _read_record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None
