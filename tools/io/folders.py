"""Output folders: refuse a path that cannot become a folder before any work starts (a file in the
way is one line naming it, not a traceback from mkdir at the end), and leave no empty folders
behind when the work that made them fails."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from tools.io.errors import InputError


def check_output_folder(path: str | Path, flag: str | None = None) -> Path:
    """`path` as a Path, if it is a folder or can be made one: neither it nor any folder above it
    may be an existing file. `flag` (e.g. "--out") names the option in the message."""
    path = Path(path)
    what = f"{flag} " if flag else ""
    if path.exists() and not path.is_dir():
        raise InputError(path, f"{what}exists and is not a folder; choose another output folder")
    for above in path.parents:
        if above.exists():
            if not above.is_dir():
                raise InputError(above, f"is a file, so {what}{path} cannot be made as a folder under it")
            break
    return path


@contextlib.contextmanager
def folder_or_nothing(path: str | Path) -> Iterator[Path]:
    """Make `path` and its missing parents for the block; if the block fails, remove again those
    of them that are still empty, so a failed command leaves the tree as it found it."""
    path = check_output_folder(path)
    made = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in made:  # deepest first; a folder something was written into stays
            try:
                os.rmdir(folder)
            except OSError:
                break
        raise
