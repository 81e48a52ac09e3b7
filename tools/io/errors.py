"""The project's one error type for bad input: the CLI turns it into one line and exit status 2."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable


class InputError(Exception):
    """Bad input that the user can fix: names the file and, when known, the line."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.path and self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}" if where else self.message


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's first line without terminal colour codes, for a one-line error message."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:limit] or type(exc).__name__


def exit_status(call: Callable[[], int | None], prog: str = "track") -> int:
    """Run `call` as a command: its status (None is 0); an InputError is one line on stderr and 2,
    Ctrl-C is "interrupted" and 130. `track` itself and each step of `track demo` run this way."""
    try:
        return int(call() or 0)
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
