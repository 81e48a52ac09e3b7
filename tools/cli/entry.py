"""The `track` command line: one sub-command module per verb under tools/cli/."""
from __future__ import annotations

import argparse
import difflib
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
COMMANDS = ("run", "detect", "eval", "synth", "data", "crops", "embed", "calibrate", "train", "export", "config",
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
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        unrecognized(parser, argv, unknown)
    args.command_line = ["track", *argv]
    return exit_status(lambda: args.func(args))


def unrecognized(parser: argparse.ArgumentParser, argv: list[str], unknown: list[str]) -> None:
    """Exit 2 with the verb's usage (not the top level's) and the closest flag to a mistyped one."""
    verb = parser
    for token in argv:  # down the sub-command tokens: `track data fetch ...` ends at fetch
        subs = next((a for a in verb._actions if isinstance(a, argparse._SubParsersAction)), None)
        if subs is None:
            break
        if token in subs.choices:
            verb = subs.choices[token]
    flags = [s[2:] for a in verb._actions for s in a.option_strings if s.startswith("--")]
    hints = []
    for arg in unknown:
        if arg.startswith("--"):  # compared without the dashes, which every flag shares
            hints += [h for h in difflib.get_close_matches(arg[2:].split("=", 1)[0], flags, n=1, cutoff=0.7)
                      if h not in hints]
    hint = f" (did you mean {' or '.join('--' + h for h in hints)}?)" if hints else ""
    verb.error(f"unrecognized arguments: {' '.join(unknown)}{hint}")


if __name__ == "__main__":
    sys.exit(main())
