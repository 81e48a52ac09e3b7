"""The `track` command line: one sub-command module per verb under tools/cli/."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# The tracker multiplies tiny matrices every frame: BLAS worker threads only add overhead there
# (under load DeepSORT fell 3x with them). Set before NumPy loads; torch keeps its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# torch's OpenMP threads spin while they wait for work; on a busy machine the spinning eats the
# cores: embedding one frame's crops took 46x the CPU time with 2 spinning threads (0.44 s vs
# 0.0095 s per call), 1.3x with passive waiting. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from tools.io.errors import exit_status

# Sub-commands in the order `track --help` lists them; each module has register(subparsers).
COMMANDS = ("run", "eval", "synth", "data", "crops", "embed", "calibrate", "train", "export", "config",
            "pendulum", "geometry", "demo", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="track",
        description="SORT / DeepSORT multi-object tracking with learned appearance descriptors.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"tools.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.command_line = ["track", *argv]
    return exit_status(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
