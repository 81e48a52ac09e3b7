"""--seq / --all / --split / --data-root (and --detections): how the per-sequence commands pick
their sequences. Shared by `track run`, `embed`, `calibrate` and `crops`."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.io.errors import InputError
from tools.io.sequence import Sequence, find_sequence, list_sequences


def add_sequence_options(group) -> None:
    """--seq / --all / --split / --data-root: how every per-sequence command picks sequences."""
    group.add_argument("--seq", nargs="+", metavar="NAME", help="sequence name(s) under --data-root, or sequence folders")
    group.add_argument("--all", action="store_true", help="every sequence under --data-root (optionally one --split)")
    group.add_argument("--split", help="with --all: only sequences under a folder of this name (e.g. train)")
    group.add_argument("--data-root", default="data", help="where sequences are looked up (default: %(default)s)")


def select_sequences(args: argparse.Namespace, *, by_name: bool = False) -> list[Sequence]:
    """The sequences the options name: --seq NAME ..., --all [--split S], or (`track run`) --video FILE
    (whose detections come from --detections or a detector run first).

    by_name: for commands whose output is labelled by sequence name (crop caches): --split is
    refused without --all, an empty split is named in the error, a name given twice counts once
    and two different sequences of one name are refused.
    """
    video = getattr(args, "video", None)
    if video is not None:
        if args.all or args.seq:
            raise InputError(None, "give one of --seq NAME ..., --all or --video FILE")
        from tools.io.video import open_video

        return [open_video(video)]
    if args.all == bool(args.seq):
        raise InputError(None, "give either --seq NAME ... or --all")
    if by_name and args.split is not None and not args.all:
        raise InputError(None, "--split applies only with --all")
    if args.all:
        seqs = list_sequences(args.data_root, args.split)
        if not seqs:
            where = f" under a folder named {args.split!r}" if by_name and args.split else ""
            raise InputError(args.data_root, f"no sequences found{where} (looked for <seq>/seqinfo.ini)")
        return seqs
    if not by_name:
        return [find_sequence(name, args.data_root) for name in args.seq]
    seqs = [find_sequence(name, args.data_root) for name in dict.fromkeys(args.seq)]
    names = [s.name for s in seqs]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise InputError(None, f"two sequences are named {twice!r}: crops are labelled by "
                               f"sequence name, so cut them into separate caches")
    return seqs


def detection_path(args: argparse.Namespace, seq: Sequence, n_seqs: int) -> Path | None:
    """The --detections file for `seq`: the file itself (one sequence), or FOLDER/<seq>.npy|.txt;
    None without --detections (the sequence's own det/det.txt)."""
    if not args.detections:
        return None
    path = Path(args.detections)
    if path.is_dir():
        for suffix in (".npy", ".txt"):
            if (path / f"{seq.name}{suffix}").is_file():
                return path / f"{seq.name}{suffix}"
        raise InputError(path, f"no {seq.name}.npy or {seq.name}.txt in this folder")
    if n_seqs > 1:
        raise InputError(path, "one detection file given for several sequences; pass a folder of <seq>.npy files")
    if not path.is_file():
        raise InputError(path, "file not found")
    return path


def detection_paths(args: argparse.Namespace, seqs: list[Sequence]) -> dict[str, Path | None]:
    """detection_path of every sequence, by name."""
    return {s.name: detection_path(args, s, len(seqs)) for s in seqs}
