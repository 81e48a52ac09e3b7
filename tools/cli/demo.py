"""`track demo`: from nothing to a report in one command (synthetic data, or --data PATH)."""
from __future__ import annotations

import argparse
import contextlib
import shlex
import shutil
import sys
from pathlib import Path

from tools.io.errors import InputError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo", help="make data, train three descriptors, track with eight trackers, write a report",
        description="Without --data: make synthetic sequences (`track synth`), cut their detection "
                    "crops, train the cpu-preset tracklet classifier (on the crops' own IoU tracklets, "
                    "no labels), VHP-VAE and VHP-FMVAE on them, pick each descriptor's threshold without "
                    "labels (`track calibrate`), track with SORT, DeepSORT motion-only, ByteTrack, OC-SORT, "
                    "DeepSORT + colour histogram, DeepSORT with an EMA track feature + the tracklet "
                    "classifier (the headline), + VHP-VAE and + VHP-FMVAE, "
                    "evaluate with TrackEval and write OUT/report.html and OUT/report.md. With --data "
                    "the same on MOTChallenge sequences (those without frames are tracked by the motion-only "
                    "runs only). Finished stages are reused on a rerun.")
    what = p.add_argument_group("data")
    what.add_argument("--data", type=Path, metavar="PATH",
                      help="MOTChallenge sequences to use instead of synthetic ones, e.g. data/MOT15")
    what.add_argument("--split", help="with --data: only sequences under a folder of this name (e.g. train)")
    what.add_argument("--sequences", type=int, default=3, help="synthetic sequences (default: %(default)s)")
    what.add_argument("--frames", type=int, default=150, help="frames per synthetic sequence (default: %(default)s)")
    what.add_argument("--people", type=int, default=8, help="people at a time per synthetic sequence (default: %(default)s)")
    what.add_argument("--seed", type=int, default=0, help="data, weights and batches (default: %(default)s)")
    train = p.add_argument_group("training")
    train.add_argument("--steps", type=int, default=150,
                       help="training steps per descriptor (default: %(default)s, about a minute each on 2 cores; "
                            "300 or more for descriptors that re-identify better)")
    train.add_argument("--batch-size", type=int, default=64, help="default: %(default)s")
    train.add_argument("--threads", type=int, help="torch CPU threads for training (default: torch's choice)")
    train.add_argument("--no-train", dest="learned", action="store_false",
                       help="skip the learned descriptors (the motion-only and histogram runs only)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, help="results folder (default: results/demo, or results/demo-NAME with --data)")
    out.add_argument("--work", type=Path, help="derived data: synthetic sequences, crops (default: data/demo[-NAME])")
    out.add_argument("--force", action="store_true", help="redo every stage, also finished ones")
    out.add_argument("--quiet", action="store_true", help="stage lines only, no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tools.demo.pipeline import DemoSettings, StageFailed, run_demo

    for name in ("sequences", "frames", "people", "steps", "batch_size"):
        if getattr(args, name) < 1:
            raise InputError(None, f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.batch_size < 2:
        raise InputError(None, f"--batch-size must be at least 2, got {args.batch_size}")
    tag = "demo" if args.data is None else f"demo-{args.data.resolve().name}"
    settings = DemoSettings(
        out=args.out or Path("results") / tag, work=args.work or Path("data") / tag, data=args.data,
        split=args.split, sequences=args.sequences, frames=args.frames, people=args.people, seed=args.seed,
        steps=args.steps, batch_size=args.batch_size, threads=args.threads, learned=args.learned,
        force=args.force, progress=not args.quiet,
        command=shlex.join(getattr(args, "command_line", None) or ["track", "demo"]))
    try:
        result = run_demo(settings)
    except StageFailed as exc:
        for line in exc.tail:
            print(f"    {line}", file=sys.stderr)
        print(f"track demo: {exc}; finished stages are kept, rerun to continue "
              f"(full output in {settings.out / 'demo.log'})", file=sys.stderr)
        return exc.code or 1
    _print_summary(result.report)
    print(f"demo finished in {result.seconds / 60:.1f} min (CPU time {result.cpu_seconds / 60:.1f} min); "
          f"open {result.report_html}")
    print("\n".join(next_steps()))
    return 0


def next_steps() -> list[str]:
    """What to type after the demo. `make demo` runs .venv/bin/track, which is not on PATH
    until the environment is activated, so the first step says so when that is the case."""
    ours = Path(sys.executable).parent / "track"
    found = shutil.which("track")
    lines = ["next steps:"]
    if found is None or Path(found).resolve() != ours.resolve():
        with contextlib.suppress(ValueError):
            ours = ours.relative_to(Path.cwd())
        lines.append(f"{f'  . {ours.parent}/activate':<47} # puts `track` on your PATH (or call {ours})")
    return lines + [
        "  track data fetch MOT16                        # MOTChallenge data, 1.9 GB (data/README.md)",
        "  track run --seq MOT16-02 --data-root data/MOT16 --save-video   # track, score, draw",
        "  track run --video FILE --save-video           # your own video: HOG detector, track, draw"]


def _print_summary(report) -> None:
    """IDF1 / MOTA / HOTA / IDs of each run, the report's first table."""
    if report is None or not report.table:
        return
    width = max(len(label) for label, _ in report.table)
    print(f"combined over {', '.join(report.sequences)}:")
    print(f"{'run':<{width}}  {'IDF1':>5}  {'MOTA':>5}  {'HOTA':>5}  {'IDs':>4}")
    nan = float("nan")
    for label, c in report.table:
        ids = c.get("IDs")
        print(f"{label:<{width}}  {c.get('IDF1', nan):5.1f}  {c.get('MOTA', nan):5.1f}  "
              f"{c.get('HOTA', nan):5.1f}  {'-' if ids is None else int(ids):>4}")
