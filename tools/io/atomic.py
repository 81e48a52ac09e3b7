"""Atomic file writes: readers never see a half-written file, and a crash leaves the old one."""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success fsync and rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def make_temp_folder(parent: str | Path, prefix: str) -> Path:
    """A hidden folder in `parent` to stage a new folder in (renamed into place by replace_folder).
    mkdtemp's 0700 is widened to what the umask allows: the folder becomes the user's data."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def replace_folder(tmp: Path, out: Path, *, force: bool = True) -> None:
    """Rename a finished temporary folder to `out`, given the usual mode first (mkdtemp makes it
    private). An existing `out` (only with force; else an InputError) is moved aside first and
    removed once the new one is in place; if the rename fails it is put back."""
    import shutil

    from tools.io.errors import InputError

    tmp, out = Path(tmp), Path(out)
    os.chmod(tmp, 0o777 & ~_umask())
    old = None
    if out.exists() or out.is_symlink():
        if not force:
            raise InputError(out, "already exists; pass --force to replace it")
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    try:
        os.replace(tmp, out)
    except OSError as exc:
        if old is not None:  # put the previous folder back rather than lose both
            os.replace(old / out.name, out)
            shutil.rmtree(old, ignore_errors=True)
        raise InputError(out, f"cannot move the new data into place: {exc.strerror or exc}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def remove_stale_temps(path: str | Path, older_than: float) -> list[Path]:
    """Delete what atomic_open left beside `path` when its process was killed mid-write.

    Only temporaries last modified before `older_than` (a time.time() value, normally when the
    caller started) go: a live writer's temporary is newer, so a concurrent run is not disturbed.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < older_than:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            pass  # another process cleaned it up first
    return removed
