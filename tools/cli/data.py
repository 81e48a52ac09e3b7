"""`track data import|fetch|list`: get sequences into the MOTChallenge layout under a data root."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from tools.io.errors import InputError
from tools.io.motformat import read_seqinfo
from tools.io.sequence import sequence_folders

DEFAULT_DATA_ROOT = "data"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="import a video, download MOTChallenge data, list sequences",
        description="Get sequences into the MOTChallenge layout (see data/README.md).")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("import", help="turn a video plus MOT det/gt files into a sequence folder",
                       description="Decode VIDEO into OUT/NAME/img1/%06d.jpg and write seqinfo.ini, "
                                   "det/det.txt and gt/gt.txt, validating the boxes against the frames.")
    p.add_argument("--video", required=True, type=Path, help="any video OpenCV can decode")
    p.add_argument("--det", required=True, type=Path,
                   help="detections: MOT text (frame,id,x,y,w,h,conf,...) or DeepSORT .npy")
    p.add_argument("--gt", type=Path, help="ground truth in MOT text format (optional)")
    p.add_argument("--out", required=True, type=Path, help="data root that receives OUT/NAME")
    p.add_argument("--name", help="sequence name (default: the video's file name without suffix)")
    p.add_argument("--frame-rate", type=float, help="frames per second (default: from the video)")
    p.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality 0-100 (default 95)")
    p.add_argument("--force", action="store_true", help="replace an existing sequence of that name")

    p = sub.add_parser("fetch", help="download and unpack a MOTChallenge dataset",
                       description="Download the official archive (resuming a partial download) "
                                   "and unpack it into DATA_ROOT/DATASET/{train,test}/<seq>.")
    p.add_argument("dataset", help="MOT16, MOT17 or MOT15 (any name with --url)")
    p.add_argument("--data-root", type=Path, default=Path(DEFAULT_DATA_ROOT),
                   help=f"folder that holds the datasets (default: {DEFAULT_DATA_ROOT})")
    p.add_argument("--url", help="archive URL (http, https or file://; .zip or .tar[.gz])")
    p.add_argument("--force", action="store_true", help="replace an existing DATA_ROOT/DATASET")

    p = sub.add_parser("list", help="list the sequences under a data root")
    p.add_argument("--data-root", type=Path, default=Path(DEFAULT_DATA_ROOT),
                   help=f"folder that holds the datasets (default: {DEFAULT_DATA_ROOT})")

    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    actions = {"import": _run_import, "fetch": _run_fetch, "list": _run_list}
    return actions[args.data_command](args)


def _run_import(args: argparse.Namespace) -> int:
    from tools.data.importing import import_video, read_detections, summarize_detections

    seq = import_video(args.video, args.det, args.out, gt=args.gt, name=args.name,
                       frame_rate=args.frame_rate, jpeg_quality=args.jpeg_quality, force=args.force)
    info = seq.info
    print(f"imported {seq.root}: {info.length} frames, {info.width}x{info.height}, "
          f"{info.frame_rate:g} fps; det {summarize_detections(read_detections(seq.det_path))}"
          + (f"; gt {summarize_detections(seq.ground_truth())}" if seq.has_gt else ""))
    return 0


def _run_fetch(args: argparse.Namespace) -> int:
    from tools.data.fetch import fetch

    got = fetch(args.dataset, args.data_root, url=args.url, force=args.force)
    frames = sum(s.info.length for s in got.sequences)
    print(f"unpacked {len(got.sequences)} sequences, {frames} frames, into {got.folder}")
    for line in _table([_row(s.root, args.data_root) for s in got.sequences]):
        print(line)
    print(f"the archive stays at {got.archive} ({got.archive.stat().st_size / 2**20:.1f} MiB); "
          "delete it to free the space")
    return 0


def _split_of(folder: Path, data_root: Path) -> str:
    parts = Path(os.path.relpath(folder, data_root)).parts[:-1]
    return next((p for p in reversed(parts) if p.lower() in ("train", "test")), "-")


def _row(folder: Path, data_root: Path) -> list[str]:
    """One table row; a folder whose seqinfo.ini is broken gets a row saying why, not a crash."""
    from tools.io.sequence import Sequence

    split = _split_of(folder, data_root)
    try:
        seq = Sequence(folder, read_seqinfo(folder / "seqinfo.ini"))
    except InputError as exc:
        rel = Path(os.path.relpath(folder, data_root))
        return [folder.name, split, "?", "?", "?", "?", "?", "?", f"{rel}  (broken: {exc.message})"]
    info = seq.info
    frames = "img1" if seq.image_dir.is_dir() else ("video" if seq.video_path is not None else "no")
    det = "yes" if seq.det_path.is_file() else ("npy" if (folder / "det" / "det.npy").is_file() else "no")
    return [info.name if info.name == folder.name else folder.name, split, str(info.length),
            f"{info.width}x{info.height}", f"{info.frame_rate:g}", frames, det,
            "yes" if seq.has_gt else "no", str(Path(os.path.relpath(folder, data_root)))]


_HEADER = ["name", "split", "frames", "size", "fps", "images", "det", "gt", "path"]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [_HEADER] + rows) for i in range(len(_HEADER))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [_HEADER] + rows]


def _run_list(args: argparse.Namespace) -> int:
    root: Path = args.data_root
    if not root.is_dir():
        raise InputError(root, "data root does not exist")
    folders = sequence_folders(root)
    if not folders:
        print(f"no sequences under {root} (see data/README.md: track data fetch MOT16, "
              "or track data import)")
        return 0
    for line in _table([_row(f, root) for f in folders]):
        print(line)
    return 0
