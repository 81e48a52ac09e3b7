"""The project's one error type for bad input: the CLI turns it into one line and exit status 2."""
from __future__ import annotations

from pathlib import Path


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
