"""Download a MOTChallenge archive (resumable) and unpack it safely under the data root.

The archive comes from the network, so it is treated as hostile: members with absolute paths, `..`
components, links or device files are refused before anything is written, extraction goes to a
hidden temporary folder, and only a fully unpacked and verified dataset is renamed into place.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Callable, Iterator

from tools.io.atomic import make_temp_folder, replace_folder
from tools.io.errors import InputError, first_line
from tools.io.folders import folder_or_nothing
from tools.io.sequence import Sequence, list_sequences

# Official archives on motchallenge.net (MOT16: 1.9 GB, MOT17: 5.5 GB, MOT15: 1.3 GB).
KNOWN_URLS = {
    "MOT15": "https://motchallenge.net/data/MOT15.zip",
    "MOT16": "https://motchallenge.net/data/MOT16.zip",
    "MOT17": "https://motchallenge.net/data/MOT17.zip",
}
CHUNK = 1 << 20
TIMEOUT_S = 60
# Folders some archivers add that are not data.
_JUNK_TOP = ("__MACOSX",)


@dataclass
class Download:
    path: Path
    size: int
    resumed_from: int  # bytes already in the .part file that were kept (0: downloaded from scratch)
    reused: bool = False  # the complete archive was already there; nothing was transferred


def _bar(total: int | None, initial: int, desc: str, progress: bool | None):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=desc, disable=None if progress is None else not progress, leave=False)


def archive_name(url: str, fallback: str) -> str:
    """The file name the URL points at, reduced to a safe plain name."""
    name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return name or fallback


def download(url: str, dest: str | Path, *, force: bool = False, progress: bool | None = None) -> Download:
    """Fetch `url` to `dest` through `dest.part`, resuming a partial .part file when one is there.

    http(s) resumes with a Range request (restarting if the server ignores it); file:// copies,
    seeking past what the .part already holds. Any failure is an InputError naming the URL.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.is_file() and not force:
        return Download(dest, dest.stat().st_size, 0, reused=True)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("file", "http", "https"):
        raise InputError(url, "unsupported URL scheme (use http, https or file)")
    with folder_or_nothing(dest.parent):  # offline: no empty data root left behind
        offset = part.stat().st_size if part.is_file() else 0
        try:
            if scheme == "file":
                size = _copy_file_url(url, part, offset, progress)
            else:
                size, offset = _http_download(url, part, offset, progress)
        except BaseException:
            if part.is_file() and part.stat().st_size == 0:  # nothing arrived, nothing to resume
                part.unlink()
            raise
    os.replace(part, dest)
    return Download(dest, size, offset)


def _copy_file_url(url: str, part: Path, offset: int, progress: bool | None) -> int:
    source = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    try:
        total = source.stat().st_size
        if not source.is_file():
            raise InputError(url, "not a file")
        if offset > total:  # the .part belongs to some other file: start over
            offset = 0
        with open(source, "rb") as src, open(part, "r+b" if offset else "wb") as out, \
                _bar(total, offset, source.name, progress) as bar:
            src.seek(offset)
            out.seek(offset)
            out.truncate()
            for chunk in iter(lambda: src.read(CHUNK), b""):
                out.write(chunk)
                bar.update(len(chunk))
    except FileNotFoundError:
        raise InputError(url, "file not found") from None
    except OSError as exc:
        raise InputError(url, f"cannot copy: {exc.strerror or exc}") from None
    return total


def _http_download(url: str, part: Path, offset: int, progress: bool | None) -> tuple[int, int]:
    """Return (total size, bytes of the .part that were kept)."""
    request = urllib.request.Request(url, headers={"User-Agent": "track-data-fetch/1"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # nothing past the end: the .part may be complete
                total = _content_range_total(exc.headers.get("Content-Range"))
                exc.close()
                if total == offset:
                    return total, offset
                part.unlink()
                return _http_download(url, part, 0, progress)
            raise
        with response:
            if offset and response.status == 206:
                total = _content_range_total(response.headers.get("Content-Range"))
                mode = "r+b"
            else:  # the server sent the whole file: start over
                offset, mode = 0, "wb"
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
            with open(part, mode) as out, _bar(total, offset, part.name[:-5], progress) as bar:
                out.seek(offset)
                out.truncate()
                received = offset
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise InputError(url, f"download failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise InputError(url, f"download failed: {_reason(exc.reason)}") from None
    except (socket.timeout, TimeoutError):
        raise InputError(url, f"download failed: no answer within {TIMEOUT_S} s; "
                              "run again to resume") from None
    except OSError as exc:
        raise InputError(url, f"download failed: {_reason(exc)}; run again to resume") from None
    if total is not None and received != total:
        raise InputError(url, f"download ended after {received} of {total} bytes; run again to resume")
    return received, offset


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return first_line(reason) if isinstance(reason, BaseException) else (str(reason).splitlines() or ["unknown"])[0]


def _content_range_total(value: str | None) -> int | None:
    """Total from 'bytes 100-199/2000' or 'bytes */2000'; None when unknown ('*')."""
    match = re.search(r"/(\d+)\s*$", value or "")
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------- unpacking


@dataclass
class _Member:
    name: str  # path inside the archive, '/'-separated, after the safety checks
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]]


def _check_member_name(archive: Path, raw: str) -> PurePosixPath:
    """Refuse names that could escape the target: absolute, drive-lettered, or with '..' parts."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise InputError(archive, f"refusing member {raw!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(archive, f"refusing member {raw!r}: '..' in its path")
    if any("\0" in p for p in parts):
        raise InputError(archive, f"refusing member {raw!r}: NUL in its name")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        name = _check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise InputError(archive, f"refusing member {info.filename!r}: symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise InputError(archive, f"refusing member {info.filename!r}: not a file or folder")
        yield _Member(str(name), info.is_dir(), info.file_size, lambda info=info: zf.open(info))


def _tar_members(archive: Path, tf: tarfile.TarFile) -> Iterator[_Member]:
    for info in tf.getmembers():
        name = _check_member_name(archive, info.name)
        if info.issym() or info.islnk():
            kind = "symbolic" if info.issym() else "hard"
            raise InputError(archive, f"refusing member {info.name!r}: {kind} link to {info.linkname!r}")
        if not (info.isfile() or info.isdir()):
            raise InputError(archive, f"refusing member {info.name!r}: not a file or folder")

        def opener(info=info) -> IO[bytes]:
            fh = tf.extractfile(info)
            assert fh is not None  # regular files always have data
            return fh

        yield _Member(str(name), info.isdir(), info.size, opener)


def _strip_top(members: list[_Member]) -> list[_Member]:
    """Drop one wrapping folder (an archive may hold MOT17/train/... or train/... directly),
    unless that folder is itself a sequence."""
    real = [m for m in members if m.name != "." and m.name.split("/")[0] not in _JUNK_TOP]
    tops = {m.name.split("/")[0] for m in real}
    if len(tops) != 1:
        return real
    top = tops.pop()
    names = {m.name for m in real}
    if top.lower() in ("train", "test") or f"{top}/seqinfo.ini" in names or names == {top}:
        return real
    return [_Member(m.name[len(top) + 1:], m.is_dir, m.size, m.open) for m in real if m.name != top]


def safe_unpack(archive: str | Path, dest: str | Path, *, force: bool = False,
                verify: Callable[[Path], object] | None = None, progress: bool | None = None) -> Path:
    """Unpack a .zip or .tar(.gz/.bz2/.xz) into `dest` via a hidden sibling folder.

    Every member is checked before anything is written. A single top-level folder that wraps the
    data is dropped. `verify(tmp_folder)` runs on the unpacked copy before it is renamed into
    place, so a dataset that fails verification never appears under `dest`.
    """
    archive, dest = Path(archive), Path(dest)
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InputError(dest, "already exists; pass --force to replace it")
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return _unpack_members(archive, dest, list(_zip_members(archive, zf)), force, verify, progress)
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                return _unpack_members(archive, dest, list(_tar_members(archive, tf)), force, verify, progress)
    except FileNotFoundError:
        raise InputError(archive, "file not found") from None
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        raise InputError(archive, f"damaged archive ({exc}); delete it to download again") from None
    raise InputError(archive, "not a zip or tar archive")


def _unpack_members(archive: Path, dest: Path, members: list[_Member], force: bool,
                    verify: Callable[[Path], object] | None, progress: bool | None) -> Path:
    from tqdm import tqdm

    members = _strip_top(members)
    if not members:
        raise InputError(archive, "archive is empty")
    dest.parent.mkdir(parents=True, exist_ok=True)
    need = sum(m.size for m in members if not m.is_dir)
    free = shutil.disk_usage(dest.parent).free
    if need > free:
        raise InputError(dest.parent, f"not enough disk space to unpack {archive.name}: needs "
                                      f"{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
    tmp = make_temp_folder(dest.parent, f".{dest.name}.unpack-")
    try:
        root = tmp.resolve()
        for m in tqdm(members, unit="file", desc=f"unpacking {archive.name}", leave=False,
                      disable=None if progress is None else not progress):
            out = tmp / m.name
            # Belt and braces: the name checks above should make this impossible.
            if not out.resolve().is_relative_to(root):
                raise InputError(archive, f"refusing member {m.name!r}: lands outside the target folder")
            if m.is_dir:
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                with m.open() as src, open(out, "wb") as fh:
                    shutil.copyfileobj(src, fh, CHUNK)
            except IsADirectoryError:
                raise InputError(archive, f"refusing member {m.name!r}: clashes with a folder") from None
        if verify is not None:
            verify(tmp)
        replace_folder(tmp, dest, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


# ---------------------------------------------------------------- the whole fetch


@dataclass
class Fetched:
    folder: Path  # DATA_ROOT/DATASET
    archive: Path  # the downloaded archive, kept so a later --force need not download again
    sequences: list[Sequence]


def verify_dataset(folder: Path, archive: Path | None = None) -> list[Sequence]:
    """Every sequence folder must open and hold as many frames as its seqinfo.ini says."""
    sequences = list_sequences(folder)
    if not sequences:
        raise InputError(archive or folder, "holds no MOTChallenge sequence (no */seqinfo.ini)")
    for seq in sequences:
        if seq.image_dir.is_dir():
            count = sum(1 for p in seq.image_dir.iterdir() if p.suffix == seq.info.im_ext)
            if count != seq.info.length:
                raise InputError(seq.image_dir, f"holds {count} frames, seqinfo.ini says {seq.info.length}")
    return sequences


def fetch(dataset: str, data_root: str | Path = "data", *, url: str | None = None, force: bool = False,
          progress: bool | None = None, log: Callable[[str], object] = print) -> Fetched:
    """Download `dataset` (MOT15/16/17, or anything with --url) and unpack it to DATA_ROOT/DATASET."""
    if "/" in dataset or "\\" in dataset or dataset.startswith(".") or not dataset:
        raise InputError(None, f"dataset name {dataset!r} must be a plain folder name")
    # Known names in their official spelling, so `mot16` still lands in DATA_ROOT/MOT16.
    dataset = next((k for k in KNOWN_URLS if k.lower() == dataset.lower()), dataset)
    if url is None:
        if dataset not in KNOWN_URLS:
            raise InputError(None, f"unknown dataset {dataset!r} (known: {', '.join(KNOWN_URLS)}); "
                                   "pass --url to fetch another archive")
        url = KNOWN_URLS[dataset]
    data_root = Path(data_root)
    dest = data_root / dataset
    if (dest.exists() or dest.is_symlink()) and not force:
        raise InputError(dest, "already exists; pass --force to replace it")
    archive = data_root / archive_name(url, f"{dataset}.zip")
    # A complete archive is reused even with force: it only became `archive` after a full download.
    got = download(url, archive, progress=progress)
    if got.reused:
        log(f"using the archive already at {archive}")
    elif got.resumed_from:
        log(f"resumed {archive.name} from {got.resumed_from} bytes")
    safe_unpack(archive, dest, force=force, verify=lambda tmp: verify_dataset(tmp, archive), progress=progress)
    return Fetched(dest, archive, list_sequences(dest))
