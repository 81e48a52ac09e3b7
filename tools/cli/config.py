"""`track config show`: the effective tracker and descriptor parameters, as TOML.

Precedence as in `track run`: flags, then --config FILE, then the defaults of the tracker's
parameter dataclasses. The output is a valid config file: save it, edit it, pass it back.
"""
from __future__ import annotations

import argparse

from tools.cli.tracker_options import add_config_arguments, config_from_args
from tools.track.run_config import to_toml


def register(sub) -> None:
    p = sub.add_parser("config", help="show the effective configuration (TOML)",
                       description="Configuration files for `track run --config FILE`.")
    actions = p.add_subparsers(dest="config_action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser("show", help="print the effective values (defaults < --config FILE < flags)",
                              description="Print the tracker and descriptor parameters `track run` would use "
                                          "with the same --config and flags, as a TOML config file.")
    add_config_arguments(show, "parameters")
    show.set_defaults(func=run_show)


def run_show(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    source = f"{args.config}" if args.config is not None else "no file"
    print(f"# effective track run configuration (defaults < {source} < flags)")
    print(to_toml(cfg), end="")
    return 0
