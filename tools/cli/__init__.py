"""The `track` command line: one thin module a verb; `main` is the entry point."""
from tools.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
