"""The `track` command line: one sub-command module per verb under tools/commands/."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# The tracker multiplies tiny matrices every frame: BLAS worker threads only add overhead there
# (under load DeepSORT fell 3x with them). Set before NumPy loads; torch keeps its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tools.errors import InputError

# Sub-commands in the order `track --help` lists them; each module has register(subparsers).
COMMANDS = ("run", "eval", "synth", "data", "crops", "embed", "calibrate", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="track",
        description="SORT / DeepSORT multi-object tracking with learned appearance descriptors.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"tools.commands.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = ["track", *argv]
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"track: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("track: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
